// Package flagger_test drives TrafficSplits exactly as Flagger's SMI routers
// do (github.com/fluxcd/flagger's own Go types for v1alpha1, v1alpha2 and
// v1alpha3: create with the canary at 0, step the weights, read them back)
// and checks that every backend follows every step.
package flagger_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	smiv1alpha1 "github.com/fluxcd/flagger/pkg/apis/smi/v1alpha1"
	smiv1alpha2 "github.com/fluxcd/flagger/pkg/apis/smi/v1alpha2"
	smiv1alpha3 "github.com/fluxcd/flagger/pkg/apis/smi/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/core/controller"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// router is what Flagger's SMI routers do with a TrafficSplit.
type router interface {
	reconcile(ctx context.Context) error           // create: canary 0, primary 100
	setRoutes(ctx context.Context, p, c int) error // a step
	getRoutes(ctx context.Context) (p, c int, err error)
}

type names struct{ ns, apex, primary, canary string }

func flaggerClient(t *testing.T, env *harness.Env, add func(*runtime.Scheme) error) client.Client {
	s := runtime.NewScheme()
	if err := add(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// v1alpha1: Quantity weights, written with resource.NewQuantity(w, DecimalExponent).
type v1alpha1Router struct {
	c client.Client
	n names
}

func (r *v1alpha1Router) backends(p, c int) []smiv1alpha1.TrafficSplitBackend {
	return []smiv1alpha1.TrafficSplitBackend{
		{Service: r.n.canary, Weight: resource.NewQuantity(int64(c), resource.DecimalExponent)},
		{Service: r.n.primary, Weight: resource.NewQuantity(int64(p), resource.DecimalExponent)},
	}
}
func (r *v1alpha1Router) reconcile(ctx context.Context) error {
	return r.c.Create(ctx, &smiv1alpha1.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: r.n.ns, Name: r.n.apex},
		Spec: smiv1alpha1.TrafficSplitSpec{Service: r.n.apex, Backends: r.backends(100, 0)}})
}
func (r *v1alpha1Router) setRoutes(ctx context.Context, p, c int) error {
	ts := &smiv1alpha1.TrafficSplit{}
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: r.n.ns, Name: r.n.apex}, ts); err != nil {
		return err
	}
	ts.Spec.Backends = r.backends(p, c)
	return r.c.Update(ctx, ts)
}
func (r *v1alpha1Router) getRoutes(ctx context.Context) (int, int, error) {
	ts := &smiv1alpha1.TrafficSplit{}
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: r.n.ns, Name: r.n.apex}, ts); err != nil {
		return 0, 0, err
	}
	var p, c int
	for _, b := range ts.Spec.Backends {
		w, _ := b.Weight.AsInt64()
		switch b.Service {
		case r.n.primary:
			p = int(w)
		case r.n.canary:
			c = int(w)
		}
	}
	return p, c, nil
}

// v1alpha2 and v1alpha3: integer weights.
type intRouter struct {
	c       client.Client
	n       names
	version string
}

func (r *intRouter) reconcile(ctx context.Context) error {
	if r.version == "v1alpha2" {
		return r.c.Create(ctx, &smiv1alpha2.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: r.n.ns, Name: r.n.apex},
			Spec: smiv1alpha2.TrafficSplitSpec{Service: r.n.apex, Backends: []smiv1alpha2.TrafficSplitBackend{{Service: r.n.canary, Weight: 0}, {Service: r.n.primary, Weight: 100}}}})
	}
	return r.c.Create(ctx, &smiv1alpha3.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: r.n.ns, Name: r.n.apex},
		Spec: smiv1alpha3.TrafficSplitSpec{Service: r.n.apex, Backends: []smiv1alpha3.TrafficSplitBackend{{Service: r.n.canary, Weight: 0}, {Service: r.n.primary, Weight: 100}}}})
}
func (r *intRouter) setRoutes(ctx context.Context, p, c int) error {
	key := client.ObjectKey{Namespace: r.n.ns, Name: r.n.apex}
	if r.version == "v1alpha2" {
		ts := &smiv1alpha2.TrafficSplit{}
		if err := r.c.Get(ctx, key, ts); err != nil {
			return err
		}
		ts.Spec.Backends = []smiv1alpha2.TrafficSplitBackend{{Service: r.n.canary, Weight: c}, {Service: r.n.primary, Weight: p}}
		return r.c.Update(ctx, ts)
	}
	ts := &smiv1alpha3.TrafficSplit{}
	if err := r.c.Get(ctx, key, ts); err != nil {
		return err
	}
	ts.Spec.Backends = []smiv1alpha3.TrafficSplitBackend{{Service: r.n.canary, Weight: c}, {Service: r.n.primary, Weight: p}}
	return r.c.Update(ctx, ts)
}
func (r *intRouter) getRoutes(ctx context.Context) (int, int, error) {
	key := client.ObjectKey{Namespace: r.n.ns, Name: r.n.apex}
	var p, c int
	set := func(svc string, w int) {
		switch svc {
		case r.n.primary:
			p = w
		case r.n.canary:
			c = w
		}
	}
	if r.version == "v1alpha2" {
		ts := &smiv1alpha2.TrafficSplit{}
		if err := r.c.Get(ctx, key, ts); err != nil {
			return 0, 0, err
		}
		for _, b := range ts.Spec.Backends {
			set(b.Service, b.Weight)
		}
		return p, c, nil
	}
	ts := &smiv1alpha3.TrafficSplit{}
	if err := r.c.Get(ctx, key, ts); err != nil {
		return 0, 0, err
	}
	for _, b := range ts.Spec.Backends {
		set(b.Service, b.Weight)
	}
	return p, c, nil
}

// mesh reads what a backend made of the split: service -> relative weight.
type mesh struct {
	name      string
	new       controller.Constructor
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
	out := map[string]int64{}
	for _, d := range routes[0].(map[string]any)["route"].([]any) {
		host, _, _ := unstructured.NestedString(d.(map[string]any), "destination", "host")
		w, _, _ := unstructured.NestedInt64(d.(map[string]any), "weight")
		out[strings.Split(host, ".")[0]] = w
	}
	return out, nil
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

func TestFlaggerStepsOnEveryBackend(t *testing.T) {
	meshes := []mesh{
		{"istio", istio.New, harness.IstioCRDs, 0, istioShares},
		{"linkerd", linkerd.New, harness.LinkerdCRDs, 0, linkerdShares},
		{"consul", consul.New, nil, 0.0001, consulShares},
	}
	steps := [][2]int{{90, 10}, {80, 20}, {70, 30}, {60, 40}, {50, 50}, {100, 0}} // then promotion
	for _, m := range meshes {
		t.Run(m.name, func(t *testing.T) {
			opts := harness.Options{NewBackend: m.new}
			var agent *harness.Consul
			if m.crds != nil {
				p, err := m.crds()
				if err != nil {
					t.Fatal(err)
				}
				opts.ExtraCRDPaths = []string{p}
			} else {
				var err error
				if agent, err = harness.StartConsul(); err != nil {
					t.Fatal(err)
				}
				defer agent.Stop()
				opts.Settings = map[string]string{"address": agent.Addr, "resync": "1s"}
			}
			env, err := harness.Start(opts)
			defer func() { _ = env.Stop() }()
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, version := range []string{"v1alpha1", "v1alpha2", "v1alpha3"} {
				t.Run(version, func(t *testing.T) {
					ns := env.Namespace(t, "flagger-")
					n := names{ns: ns, apex: "podinfo-" + version, primary: "podinfo-" + version + "-primary", canary: "podinfo-" + version + "-canary"}
					for _, s := range []string{n.apex, n.primary, n.canary} {
						env.Create(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: s},
							Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 9898}}}})
					}
					var r router
					switch version {
					case "v1alpha1":
						r = &v1alpha1Router{c: flaggerClient(t, env, smiv1alpha1.AddToScheme), n: n}
					case "v1alpha2":
						r = &intRouter{c: flaggerClient(t, env, smiv1alpha2.AddToScheme), n: n, version: version}
					default:
						r = &intRouter{c: flaggerClient(t, env, smiv1alpha3.AddToScheme), n: n, version: version}
					}
					if err := r.reconcile(ctx); err != nil {
						t.Fatal(err)
					}
					follow := func(p, c int) {
						t.Helper()
						want := map[string]int64{n.primary: int64(p), n.canary: int64(c)}
						harness.Eventually(t, 30*time.Second, func() error {
							got, err := m.shares(ctx, env, agent, n)
							if err != nil {
								return err
							}
							if !conformance.SameRatios(got, want) && !(m.precision > 0 && conformance.CloseRatios(got, want, m.precision)) {
								return fmt.Errorf("%s has %v, Flagger set %v", m.name, got, want)
							}
							return nil
						})
					}
					follow(100, 0)
					for _, s := range steps {
						// Flagger retries a step on its next tick when the update
						// conflicts (the controller writes status concurrently).
						if err := retry.RetryOnConflict(retry.DefaultRetry, func() error { return r.setRoutes(ctx, s[0], s[1]) }); err != nil {
							t.Fatal(err)
						}
						// Flagger reads the weights back to decide its next step.
						if p, c, err := r.getRoutes(ctx); err != nil || p != s[0] || c != s[1] {
							t.Fatalf("Flagger reads back primary=%d canary=%d (%v), it wrote %v", p, c, err, s)
						}
						follow(s[0], s[1])
					}
				})
			}
		})
	}
}
