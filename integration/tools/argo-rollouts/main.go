// Command argo-rollouts-driver drives Argo Rollouts' own SMI traffic router
// (github.com/argoproj/argo-rollouts rollout/trafficrouting/smi, on Argo
// Rollouts' dependency versions) against a kube-apiserver, so the tests of
// smi-adapter see exactly the TrafficSplits Argo Rollouts writes.
//
// The weight of each call comes from Argo Rollouts' own step logic
// (utils/replicaset GetCurrentSetWeight) over the Rollout's canary steps, as
// the rollout controller's reconcileTrafficRouting computes it while the
// canary's ReplicaSet is available; the router then creates or patches the
// TrafficSplit in the API version the controller is configured with
// (--traffic-split-api-version).
//
// It reads one JSON request per line on stdin and answers one JSON line on
// stdout:
//
//	{"op":"initialize","rollout":{...},"apiVersion":"v1alpha1"}  create the Rollout, build the SMI reconciler
//	{"op":"step","index":0}      status.currentStepIndex = index; SetWeight(GetCurrentSetWeight)
//	{"op":"promoted"}            all steps done and the stable is the new version: SetWeight(0)
//	{"op":"abort"}               status.abort = true; SetWeight(GetCurrentSetWeight) (0)
//
// An answer is {"weight":N} (the canary weight set) or {"error":"..."}.
// argo-rollouts-driver -version prints the Argo Rollouts module it was built
// with.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	smiclientset "github.com/servicemeshinterface/smi-sdk-go/pkg/gen/client/split/clientset/versioned"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	clientset "github.com/argoproj/argo-rollouts/pkg/client/clientset/versioned"
	"github.com/argoproj/argo-rollouts/rollout/trafficrouting/smi"
	"github.com/argoproj/argo-rollouts/utils/defaults"
	"github.com/argoproj/argo-rollouts/utils/record"
	replicasetutil "github.com/argoproj/argo-rollouts/utils/replicaset"
)

const module = "github.com/argoproj/argo-rollouts"

type request struct {
	Op         string            `json:"op"`
	Rollout    *v1alpha1.Rollout `json:"rollout,omitempty"`
	APIVersion string            `json:"apiVersion,omitempty"`
	Index      *int32            `json:"index,omitempty"`
}

type answer struct {
	Weight int32  `json:"weight"`
	Error  string `json:"error,omitempty"`
}

type driver struct {
	argo clientset.Interface
	smi  smiclientset.Interface
	ro   *v1alpha1.Rollout
	r    *smi.Reconciler
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the apiserver")
	version := flag.Bool("version", false, "print the Argo Rollouts module version and exit")
	flag.Parse()
	if *version {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, m := range info.Deps {
				if m.Path == module {
					fmt.Println(m.Version)
				}
			}
		}
		return
	}
	if err := run(*kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "argo-rollouts-driver:", err)
		os.Exit(1)
	}
}

func run(kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	d := &driver{}
	if d.argo, err = clientset.NewForConfig(cfg); err != nil {
		return err
	}
	if d.smi, err = smiclientset.NewForConfig(cfg); err != nil {
		return err
	}
	// The router logs every call at info level; stdout carries the answers.
	logrus.SetOutput(io.Discard)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		a := answer{}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			a.Error = "request: " + err.Error()
		} else if err := d.do(req, &a); err != nil {
			a.Error = err.Error()
		}
		if err := out.Encode(a); err != nil {
			return err
		}
	}
	return in.Err()
}

func (d *driver) do(req request, a *answer) error {
	if req.Op != "initialize" && d.r == nil {
		return errors.New("initialize first")
	}
	switch req.Op {
	case "initialize":
		if req.Rollout == nil {
			return errors.New("initialize: no rollout")
		}
		// As the controller's --traffic-split-api-version flag does.
		defaults.SetSMIAPIVersion(req.APIVersion)
		ro, err := d.argo.ArgoprojV1alpha1().Rollouts(req.Rollout.Namespace).Create(context.Background(), req.Rollout, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create rollout: %w", err)
		}
		d.ro = ro
		d.r, err = smi.NewReconciler(smi.ReconcilerConfig{
			Rollout:  ro,
			Client:   d.smi,
			Recorder: record.NewFakeEventRecorder(),
			// The rollout controller's controllerKind.
			ControllerKind: v1alpha1.SchemeGroupVersion.WithKind("Rollout"),
		})
		return err
	case "step":
		if req.Index == nil {
			return errors.New("step: no index")
		}
		d.ro.Status.CurrentStepIndex = req.Index
		return d.setWeight(replicasetutil.GetCurrentSetWeight(d.ro), a)
	case "promoted":
		// reconcileTrafficRouting on a fully promoted rollout: the managed
		// routes go and the desired weight stays 0, all traffic on the
		// stable Service, which now runs the new version.
		if err := d.r.RemoveManagedRoutes(); err != nil {
			return err
		}
		return d.setWeight(0, a)
	case "abort":
		d.ro.Status.Abort = true
		return d.setWeight(replicasetutil.GetCurrentSetWeight(d.ro), a)
	}
	return fmt.Errorf("unknown op %q", req.Op)
}

func (d *driver) setWeight(w int32, a *answer) error {
	a.Weight = w
	if err := d.r.SetWeight(w); err != nil {
		return fmt.Errorf("SetWeight(%d): %w", w, err)
	}
	return nil
}
