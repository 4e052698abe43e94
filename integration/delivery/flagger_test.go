// Flagger's own router code (github.com/fluxcd/flagger
// v1.36.1: the canary controller's port discovery, the KubernetesRouter that
// creates the apex, primary and canary Services, and the MeshRouter of each
// SMI provider) against smi-adapter on every backend, through a canary's whole
// life cycle, and checks the mesh's own objects at every step.
//
// Flagger builds on older Kubernetes libraries than smi-adapter, so its code
// runs in a process of its own (integration/tools/flagger, built by
// `make tools`), driven one step at a time over stdin.

package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// flaggerCase is one Canary: its provider, the SMI version that provider's
// router writes, and Flagger's service options.
type flaggerCase struct {
	provider      string
	version       string // the TrafficSplit version Flagger's router writes
	portDiscovery bool
}

var cases = []flaggerCase{
	{"smi:v1alpha1", "v1alpha1", false},
	{"smi:v1alpha2", "v1alpha2", false},
	{"smi:v1alpha3", "v1alpha3", true}, // a root Service with podinfo's three ports
	{"linkerd", "v1alpha1", true},
	{"osm", "v1alpha2", false},
}

// podinfo is Flagger's tutorial workload: http 9898, metrics 9797, grpc 9999.
func podinfo(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "podinfod", Image: "ghcr.io/stefanprodan/podinfo:6.5.0",
					Ports: []corev1.ContainerPort{
						{Name: "http", ContainerPort: 9898},
						{Name: "http-metrics", ContainerPort: 9797},
						{Name: "grpc", ContainerPort: 9999},
					},
				}}},
			},
		},
	}
}

// canary is a flagger.app/v1beta1 Canary as Flagger's docs write it.
func canary(ns, name, provider string, portDiscovery bool, hosts []string) map[string]any {
	service := map[string]any{"port": 9898, "targetPort": 9898, "portDiscovery": portDiscovery}
	if len(hosts) > 0 {
		service["hosts"] = hosts
	}
	return map[string]any{
		"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec": map[string]any{
			"provider":  provider,
			"targetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
			"service":   service,
			"analysis":  map[string]any{"interval": "15s", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
		},
	}
}

type answer struct {
	Primary  int              `json:"primary"`
	Canary   int              `json:"canary"`
	Mirrored bool             `json:"mirrored"`
	Ports    map[string]int32 `json:"ports"`
}

// flagger is one canary's routers in the driver process.
type flagger struct {
	t *testing.T
	d *harness.Driver
}

func startFlagger(t *testing.T, env *harness.Env) *flagger {
	t.Helper()
	dir, err := harness.ToolDir("SMI_ADAPTER_FLAGGER", "flagger", harness.FlaggerVersion)
	if err != nil {
		t.Fatal(err)
	}
	return &flagger{t: t, d: startDriver(t, env, filepath.Join(dir, "flagger-driver"))}
}

// call runs one of Flagger's router calls. Like Flagger's scheduler, which
// tries again on its next tick, it retries a write that conflicted with the
// controller's status write.
func (f *flagger) call(req map[string]any) answer {
	f.t.Helper()
	var a answer
	var err error
	for try := 0; try < 10; try++ {
		if err = f.d.Call(req, &a); err == nil || !strings.Contains(err.Error(), "the object has been modified") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatalf("Flagger %s: %v", req["op"], err)
	}
	return a
}

// TestFlaggerVersion: the driver runs the Flagger the Makefile pins.
func TestFlaggerVersion(t *testing.T) {
	dir, err := harness.ToolDir("SMI_ADAPTER_FLAGGER", "flagger", harness.FlaggerVersion)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "flagger-driver"), "-version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "v"+harness.FlaggerVersion {
		t.Fatalf("driver built with Flagger %q, want v%s", got, harness.FlaggerVersion)
	}
}

// TestFlaggerCanaryLifecycle: Flagger's whole canary life cycle, with its own
// routers, for every SMI provider Flagger has, on every backend; then a
// Canary with service.hosts.
func TestFlaggerCanaryLifecycle(t *testing.T) {
	// Flagger's analysis: Reconcile on every tick, then SetRoutes a step at a
	// time; a mirrored step (Flagger's SMI routers cannot mirror and say so by
	// ignoring the flag); promotion back to the primary.
	steps := []struct {
		primary, canary int
		mirrored        bool
	}{{90, 10, false}, {80, 20, false}, {60, 40, true}, {50, 50, false}, {100, 0, false}}
	for _, m := range meshes {
		t.Run(m.name, func(t *testing.T) {
			dir, err := harness.ToolDir("SMI_ADAPTER_FLAGGER", "flagger", harness.FlaggerVersion)
			if err != nil {
				t.Fatal(err)
			}
			env, agent := startEnv(t, m, filepath.Join(dir, "crd.yaml"))
			ctx := context.Background()
			for i, c := range cases {
				t.Run(strings.ReplaceAll(c.provider, ":", "-"), func(t *testing.T) {
					ns := env.Namespace(t, "flagger-")
					// A name per case: in Consul's free edition every Kubernetes
					// namespace shares one Consul namespace.
					name := fmt.Sprintf("podinfo%d", i)
					n := names{ns: ns, apex: name, primary: name + "-primary", canary: name + "-canary"}
					env.Create(t, podinfo(ns, name))
					f := startFlagger(t, env)
					a := f.call(map[string]any{"op": "initialize", "canary": canary(ns, name, c.provider, c.portDiscovery, nil)})
					wantPorts := map[string]int32{}
					if c.portDiscovery {
						wantPorts = map[string]int32{"http-metrics": 9797, "grpc": 9999}
					}
					if fmt.Sprint(a.Ports) != fmt.Sprint(wantPorts) {
						t.Fatalf("Flagger discovered ports %v, want %v", a.Ports, wantPorts)
					}
					f.call(map[string]any{"op": "reconcile"})
					apex := &corev1.Service{}
					if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: n.apex}, apex); err != nil {
						t.Fatalf("Flagger's apex Service: %v", err)
					}
					if len(apex.Spec.Ports) != 1+len(wantPorts) {
						t.Fatalf("apex Service ports %v, want 9898 and %v", apex.Spec.Ports, wantPorts)
					}
					ts := splitHub(t, env, ns, n.apex)
					if got := writtenIn(ts); len(got) != 1 || got[0] != "split.smi-spec.io/"+c.version {
						t.Fatalf("Flagger's %s router wrote the TrafficSplit in %v, want %s", c.provider, got, c.version)
					}
					follow := func(p, cw int) *splitv1alpha4.TrafficSplit {
						t.Helper()
						return followSplit(t, m, env, agent, n, map[string]int64{n.primary: int64(p), n.canary: int64(cw)})
					}
					// A second Reconcile finds nothing to change: what Flagger
					// reads back through the conversion webhook is what it wrote.
					again := func(before *splitv1alpha4.TrafficSplit) {
						t.Helper()
						f.call(map[string]any{"op": "reconcile"})
						if after := splitHub(t, env, ns, n.apex); after.Generation != before.Generation {
							t.Fatalf("Flagger's Reconcile changed the spec (generation %d -> %d): %+v -> %+v",
								before.Generation, after.Generation, before.Spec, after.Spec)
						}
					}
					again(follow(100, 0))
					for _, s := range steps {
						f.call(map[string]any{"op": "setRoutes", "primary": s.primary, "canaryWeight": s.canary, "mirrored": s.mirrored})
						// Flagger reads the weights back to decide its next step.
						if r := f.call(map[string]any{"op": "getRoutes"}); r.Primary != s.primary || r.Canary != s.canary || r.Mirrored {
							t.Fatalf("Flagger reads back primary=%d canary=%d mirrored=%v, it set %+v", r.Primary, r.Canary, r.Mirrored, s)
						}
						again(follow(s.primary, s.canary))
					}
					// Finalize (the canary deleted): Flagger hands the apex back to
					// the workload; the split stays, all traffic on the primary.
					f.call(map[string]any{"op": "finalize"})
					follow(100, 0)
				})
			}
			t.Run("service-hosts", func(t *testing.T) { serviceHosts(t, m, env, agent) })
			t.Run("service-hosts-gateways", func(t *testing.T) { serviceHostsWithGateways(t, m, env) })
		})
	}
}

// serviceHosts: with spec.service.hosts, Flagger's SMI routers
// write spec.service = hosts[0] (a host name for a gateway, not a Service of
// the namespace). No backend can route a host name that no Service has: the
// split is refused with RefNotFound, Programmed=False NotAccepted, and no mesh
// object is written for it (docs/flagger.md).
func serviceHosts(t *testing.T, m mesh, env *harness.Env, agent *harness.Consul) {
	ctx := context.Background()
	ns := env.Namespace(t, "flagger-hosts-")
	env.Create(t, podinfo(ns, "podinfo"))
	f := startFlagger(t, env)
	f.call(map[string]any{"op": "initialize", "canary": canary(ns, "podinfo", "smi:v1alpha3", false, []string{"podinfo.example.com"})})
	f.call(map[string]any{"op": "reconcile"})
	ts := splitHub(t, env, ns, "podinfo")
	if ts.Spec.Service != "podinfo.example.com" {
		t.Fatalf("Flagger wrote spec.service %q, want hosts[0]", ts.Spec.Service)
	}
	harness.Eventually(t, 30*time.Second, func() error {
		ts = splitHub(t, env, ns, "podinfo")
		ac := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionAccepted)
		pr := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed)
		if ac == nil || ac.Status != metav1.ConditionFalse || ac.Reason != "RefNotFound" {
			return fmt.Errorf("Accepted: %+v", ac)
		}
		if pr == nil || pr.Status != metav1.ConditionFalse || pr.Reason != "NotAccepted" {
			return fmt.Errorf("Programmed: %+v", pr)
		}
		return nil
	})
	n := names{ns: ns, apex: "podinfo.example.com"}
	if got, err := m.shares(ctx, env, agent, n); err == nil && len(got) > 0 {
		t.Fatalf("%s routes the host name: %v", m.name, got)
	}
	n.apex = "podinfo"
	if got, err := m.shares(ctx, env, agent, n); err == nil && len(got) > 0 {
		t.Fatalf("%s splits the apex Service that the TrafficSplit does not name: %v", m.name, got)
	}
	b, _ := json.Marshal(ts.Status.Conditions)
	t.Logf("conditions: %s", b)
}

// serviceHostsWithGateways: with service.hosts and service.gateways (provider
// smi:v1alpha3:istio, the target mesh the annotation is written for),
// Flagger's SMI routers write spec.service = hosts[0] and the gateways in
// the annotation VirtualService.v1alpha3.networking.istio.io/spec.gateways,
// and expect the Istio backend to route that host on those gateways to the
// primary and canary (as smi-adapter-istio did). Istio does, following every
// step; Linkerd and Consul split Services, not gateway hosts: the split is
// Accepted, Programmed=False UnsupportedMatch, and nothing is written.
func serviceHostsWithGateways(t *testing.T, m mesh, env *harness.Env) {
	ctx := context.Background()
	ns := env.Namespace(t, "flagger-gw-")
	name := "podinfo-gw" // Consul's free edition: one namespace for all
	env.Create(t, podinfo(ns, name))
	f := startFlagger(t, env)
	cd := canary(ns, name, "smi:v1alpha3:istio", false, []string{"podinfo.example.com"})
	svc := cd["spec"].(map[string]any)["service"].(map[string]any)
	svc["gateways"] = []string{"istio-system/public-gateway"}
	f.call(map[string]any{"op": "initialize", "canary": cd})
	f.call(map[string]any{"op": "reconcile"})
	ts := splitHub(t, env, ns, name)
	if ts.Spec.Service != "podinfo.example.com" || ts.Annotations[model.HintGateways] == "" {
		t.Fatalf("Flagger wrote spec.service %q, annotations %v", ts.Spec.Service, ts.Annotations)
	}
	if m.name != "istio" {
		harness.Eventually(t, 30*time.Second, func() error {
			ts = splitHub(t, env, ns, name)
			pr := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed)
			if pr == nil || pr.Status != metav1.ConditionFalse || pr.Reason != "UnsupportedMatch" || pr.ObservedGeneration != ts.Generation {
				return fmt.Errorf("Programmed: %+v", pr)
			}
			return nil
		})
		return
	}
	vsOf := func(p, c int64) error {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(istio.VirtualServiceGVK)
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: istio.VirtualServiceName("podinfo.example.com")}, u); err != nil {
			return err
		}
		hosts, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "hosts")
		gws, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "gateways")
		if fmt.Sprint(hosts) != "[podinfo.example.com]" || fmt.Sprint(gws) != "[istio-system/public-gateway]" {
			return fmt.Errorf("VirtualService hosts %v gateways %v", hosts, gws)
		}
		routes, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
		got := map[string]int64{}
		for _, r := range routes {
			dests, _, _ := unstructured.NestedSlice(r.(map[string]any), "route")
			for _, d := range dests {
				host, _, _ := unstructured.NestedString(d.(map[string]any), "destination", "host")
				port, _, _ := unstructured.NestedInt64(d.(map[string]any), "destination", "port", "number")
				w, _, _ := unstructured.NestedInt64(d.(map[string]any), "weight")
				if port != 9898 {
					return fmt.Errorf("destination %s port %d, want Flagger's service port 9898", host, port)
				}
				got[strings.Split(host, ".")[0]] += w
			}
		}
		want := map[string]int64{name + "-primary": p, name + "-canary": c}
		if !conformance.SameRatios(got, want) {
			return fmt.Errorf("VirtualService splits %v, Flagger set %v", got, want)
		}
		ts = splitHub(t, env, ns, name)
		pr := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed)
		if pr == nil || pr.Status != metav1.ConditionTrue || pr.ObservedGeneration != ts.Generation {
			return fmt.Errorf("Programmed: %+v", pr)
		}
		return nil
	}
	harness.Eventually(t, 30*time.Second, func() error { return vsOf(100, 0) })
	f.call(map[string]any{"op": "setRoutes", "primary": 90, "canaryWeight": 10})
	harness.Eventually(t, 30*time.Second, func() error { return vsOf(90, 10) })
}
