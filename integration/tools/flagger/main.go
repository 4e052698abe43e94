// Command flagger-driver drives Flagger's own router code against a
// kube-apiserver: the canary controller's GetMetadata (port discovery), the
// KubernetesRouter that creates the apex, primary and canary Services, and
// the MeshRouter that Flagger's router factory picks for spec.provider. It is
// the real code, on Flagger's own dependency versions, so the tests of
// smi-adapter see exactly the objects Flagger writes.
//
// It reads one JSON request per line on stdin and answers one JSON line on
// stdout:
//
//	{"op":"initialize","canary":{...}}  create the Canary, GetMetadata, KubernetesRouter.Initialize
//	{"op":"reconcile"}                   KubernetesRouter.Reconcile, MeshRouter.Reconcile
//	{"op":"setRoutes","primary":90,"canaryWeight":10,"mirrored":false}
//	{"op":"getRoutes"}                   MeshRouter.GetRoutes
//	{"op":"finalize"}                    MeshRouter.Finalize, KubernetesRouter.Finalize
//
// flagger-driver -version prints the Flagger module it was built with.
//
// An answer is {"primary":..,"canary":..,"mirrored":..,"ports":{..}} or
// {"error":"..."}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/fluxcd/flagger/pkg/canary"
	clientset "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	"github.com/fluxcd/flagger/pkg/router"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type request struct {
	Op       string            `json:"op"`
	Canary   *flaggerv1.Canary `json:"canary,omitempty"`
	Primary  int               `json:"primary,omitempty"`
	CanaryW  int               `json:"canaryWeight,omitempty"`
	Mirrored bool              `json:"mirrored,omitempty"`
}

type answer struct {
	Primary  int              `json:"primary"`
	Canary   int              `json:"canary"`
	Mirrored bool             `json:"mirrored"`
	Ports    map[string]int32 `json:"ports,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// driver holds one canary's routers, as Flagger's scheduler builds them.
type driver struct {
	kube    kubernetes.Interface
	flagger clientset.Interface
	routers *router.Factory
	canarys *canary.Factory
	cd      *flaggerv1.Canary
	kr      router.KubernetesRouter
	mr      router.Interface
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the apiserver")
	version := flag.Bool("version", false, "print the Flagger module version and exit")
	flag.Parse()
	if *version {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, m := range info.Deps {
				if m.Path == "github.com/fluxcd/flagger" {
					fmt.Println(m.Version)
				}
			}
		}
		return
	}
	if err := run(*kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "flagger-driver:", err)
		os.Exit(1)
	}
}

func run(kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	fl, err := clientset.NewForConfig(cfg)
	if err != nil {
		return err
	}
	logger := zap.NewNop().Sugar()
	d := &driver{kube: kube, flagger: fl,
		// As Flagger's main.go in one cluster: the mesh client is the same
		// clientset, and owner references are set.
		routers: router.NewFactory(cfg, kube, fl, "", "", logger, fl, true),
		// Flagger's default -selector-labels; config tracking plays no part
		// in routing.
		canarys: canary.NewFactory(kube, fl, &canary.NopTracker{}, []string{"app", "name", "app.kubernetes.io/name"}, nil, logger),
	}
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
	if req.Op != "initialize" && d.cd == nil {
		return errors.New("initialize first")
	}
	switch req.Op {
	case "initialize":
		if req.Canary == nil {
			return errors.New("initialize: no canary")
		}
		cd, err := d.flagger.FlaggerV1beta1().Canaries(req.Canary.Namespace).Create(context.Background(), req.Canary, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create canary: %w", err)
		}
		d.cd = cd
		label, value, ports, err := d.canarys.Controller(cd.Spec.TargetRef.Kind).GetMetadata(cd)
		if err != nil {
			return fmt.Errorf("GetMetadata: %w", err)
		}
		a.Ports = ports
		d.kr = d.routers.KubernetesRouter(cd.Spec.TargetRef.Kind, label, value, ports)
		d.mr = d.routers.MeshRouter(cd.Spec.Provider, label)
		return d.kr.Initialize(cd)
	case "reconcile":
		if err := d.kr.Reconcile(d.cd); err != nil {
			return fmt.Errorf("KubernetesRouter.Reconcile: %w", err)
		}
		return d.mr.Reconcile(d.cd)
	case "setRoutes":
		return d.mr.SetRoutes(d.cd, req.Primary, req.CanaryW, req.Mirrored)
	case "getRoutes":
		var err error
		a.Primary, a.Canary, a.Mirrored, err = d.mr.GetRoutes(d.cd)
		return err
	case "finalize":
		if err := d.mr.Finalize(d.cd); err != nil {
			return fmt.Errorf("MeshRouter.Finalize: %w", err)
		}
		return d.kr.Finalize(d.cd)
	}
	return fmt.Errorf("unknown op %q", req.Op)
}
