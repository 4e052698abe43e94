// Package delivery_test runs the progressive-delivery tools people put in
// front of SMI with their own code against smi-adapter on every backend:
// Flagger's routers (flagger_test.go) and Argo Rollouts' SMI traffic router
// (argorollouts_test.go). Each tool builds on older Kubernetes libraries than
// smi-adapter, so its code runs in a driver process of its own
// (integration/tools/<tool>, built by `make tools`), one step at a time over
// stdin; the tests check the mesh's own objects after every step.
package delivery_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// names of one canary's Services, as Flagger derives them.
type names struct{ ns, apex, primary, canary, split string }

// splitName is the TrafficSplit's name: the apex's unless the tool names it.
func (n names) splitName() string {
	if n.split != "" {
		return n.split
	}
	return n.apex
}

// mesh reads what a backend made of the split: service -> relative weight,
// the same on every route of the root.
type mesh struct {
	name      string
	new       backend.Constructor
	crds      func() (string, error)
	precision float64
	shares    func(ctx context.Context, env *harness.Env, agent *harness.Consul, n names) (map[string]int64, error)
}

func istioShares(ctx context.Context, env *harness.Env, _ *harness.Consul, n names) (map[string]int64, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(istio.VirtualServiceGVK)
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: istio.VirtualServiceName(n.apex)}, u); err != nil {
		return nil, err
	}
	routes, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
	if len(routes) == 0 {
		return nil, fmt.Errorf("VirtualService of %s has no http routes", n.apex)
	}
	var first map[string]int64
	for i, r := range routes {
		out := map[string]int64{}
		dests, _, _ := unstructured.NestedSlice(r.(map[string]any), "route")
		for _, d := range dests {
			host, _, _ := unstructured.NestedString(d.(map[string]any), "destination", "host")
			w, _, _ := unstructured.NestedInt64(d.(map[string]any), "weight")
			out[strings.Split(host, ".")[0]] += w
		}
		if i == 0 {
			first = out
		} else if !conformance.SameRatios(first, out) {
			return nil, fmt.Errorf("VirtualService of %s: route %d splits %v, route 0 %v", n.apex, i, out, first)
		}
	}
	return first, nil
}

func linkerdShares(ctx context.Context, env *harness.Env, _ *harness.Consul, n names) (map[string]int64, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(linkerd.ServiceProfileGVK)
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: linkerd.ServiceProfileName(n.apex, n.ns, "cluster.local")}, u); err != nil {
		return nil, err
	}
	list, _, _ := unstructured.NestedSlice(u.Object, "spec", "dstOverrides")
	out := map[string]int64{}
	for _, o := range list {
		m := o.(map[string]any)
		q := resource.MustParse(fmt.Sprint(m["weight"]))
		out[strings.Split(m["authority"].(string), ".")[0]] = q.MilliValue()
	}
	return out, nil
}

func consulShares(_ context.Context, _ *harness.Env, agent *harness.Consul, n names) (map[string]int64, error) {
	out, _, err := agent.Client.DiscoveryChain().Get(n.apex, nil, nil)
	if err != nil {
		return nil, err
	}
	got := map[string]int64{}
	for _, node := range out.Chain.Nodes {
		if node.Type == "splitter" {
			for _, s := range node.Splits {
				got[out.Chain.Targets[out.Chain.Nodes[s.NextNode].Resolver.Target].Service] += int64(s.Weight*100 + 0.5)
			}
		}
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("no splitter in the chain of %s yet", n.apex)
	}
	return got, nil
}

var meshes = []mesh{
	{"istio", istio.New, harness.IstioCRDs, 0, istioShares},
	{"linkerd", linkerd.New, harness.LinkerdCRDs, 0, linkerdShares},
	{"consul", consul.New, nil, 0.0001, consulShares},
}

func splitHub(t *testing.T, env *harness.Env, ns, name string) *splitv1alpha4.TrafficSplit {
	t.Helper()
	ts := &splitv1alpha4.TrafficSplit{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ts); err != nil {
		t.Fatalf("TrafficSplit %s/%s: %v", ns, name, err)
	}
	return ts
}

// writtenIn is the set of API versions that wrote the object's spec.
func writtenIn(ts *splitv1alpha4.TrafficSplit) []string {
	var out []string
	for _, m := range ts.ManagedFields {
		if m.Subresource == "" {
			out = append(out, m.APIVersion)
		}
	}
	sort.Strings(out)
	return out
}

// startEnv starts the control plane with the mesh's CRDs and the tool's
// (crds), smi-adapter on backend m and, for Consul, an agent.
func startEnv(t *testing.T, m mesh, crds ...string) (*harness.Env, *harness.Consul) {
	t.Helper()
	var err error
	opts := harness.Options{NewBackend: m.new, ExtraCRDPaths: crds}
	var agent *harness.Consul
	if m.crds != nil {
		p, err := m.crds()
		if err != nil {
			t.Fatal(err)
		}
		opts.ExtraCRDPaths = append(opts.ExtraCRDPaths, p)
	} else {
		if agent, err = harness.StartConsul(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = agent.Stop() })
		opts.Settings = map[string]string{"address": agent.Addr, "resync": "1s"}
	}
	env, err := harness.Start(opts)
	t.Cleanup(func() { _ = env.Stop() })
	if err != nil {
		t.Fatal(err)
	}
	return env, agent
}

// followSplit waits until backend m routes the root of n by the relative
// weights want (service -> weight), with the TrafficSplit Programmed for its
// current generation, and returns the split as it is then.
func followSplit(t *testing.T, m mesh, env *harness.Env, agent *harness.Consul, n names, want map[string]int64) *splitv1alpha4.TrafficSplit {
	t.Helper()
	ctx := context.Background()
	var ts *splitv1alpha4.TrafficSplit
	harness.Eventually(t, 30*time.Second, func() error {
		got, err := m.shares(ctx, env, agent, n)
		if err != nil {
			return err
		}
		if !conformance.SameRatios(got, want) && !(m.precision > 0 && conformance.CloseRatios(got, want, m.precision)) {
			return fmt.Errorf("%s has %v, the tool set %v", m.name, got, want)
		}
		ts = splitHub(t, env, n.ns, n.splitName())
		pr := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed)
		if pr == nil || pr.Status != metav1.ConditionTrue || pr.ObservedGeneration != ts.Generation {
			return fmt.Errorf("Programmed of generation %d: %+v", ts.Generation, pr)
		}
		return nil
	})
	return ts
}

// startDriver runs a tool's driver binary against env's apiserver for the
// test; it is stopped when the test ends.
func startDriver(t *testing.T, env *harness.Env, binary string) *harness.Driver {
	t.Helper()
	d, err := harness.StartDriver(binary, env.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Error(err)
		}
	})
	return d
}
