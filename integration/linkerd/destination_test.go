// Linkerd's own destination service (github.com/linkerd/linkerd2
// controller/api/destination, at harness.LinkerdDestinationVersion) reads
// ServiceProfiles from the test apiserver and answers GetProfile as it does
// for a proxy. These tests document what a proxy really receives for
// ServiceProfile dstOverrides: they pin Linkerd's behaviour, not
// smi-adapter's.

package linkerd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// startLinkerdDestination starts Linkerd's destination service for one test.
// A missing driver fails the test: `make tools` builds it.
func startLinkerdDestination(t *testing.T) *harness.LinkerdDestination {
	t.Helper()
	d, err := harness.StartLinkerdDestination(env.Config)
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

// serviceProfile is a hand-written ServiceProfile for svc in ns (not owned by
// smi-adapter, so it leaves it alone).
func serviceProfile(ns, svc string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(linkerd.ServiceProfileGVK)
	u.SetNamespace(ns)
	u.SetName(linkerd.ServiceProfileName(svc, ns, "cluster.local"))
	return u
}

func overridesOf(p *harness.LinkerdProfile) string {
	s := ""
	for _, o := range p.DstOverrides {
		s += fmt.Sprintf("%s=%d;", o.Authority, o.Weight)
	}
	return s
}

// TestLinkerdDestinationVersion: the driver runs the pinned linkerd2 module.
func TestLinkerdDestinationVersion(t *testing.T) {
	got, err := harness.LinkerdDestinationBuiltVersion()
	if err != nil {
		t.Fatal(err)
	}
	if got != harness.LinkerdDestinationVersion {
		t.Fatalf("driver built with linkerd2 %q, want %q", got, harness.LinkerdDestinationVersion)
	}
}

// TestLinkerdDestinationDstOverrides: weights go to the proxy in decimillis
// (uint32(weight.MilliValue() * 10): 1 → 10000, 3 → 30000); an authority with
// an explicit port keeps it, one without gets the port the proxy asked for
// (profile_translator.go toDstOverrides: net.JoinHostPort(authority, port)
// when net.SplitHostPort fails). Observed: web-a…:80 stays :80 although the
// proxy asked for :8080, web-b… becomes web-b…:8080.
func TestLinkerdDestinationDstOverrides(t *testing.T) {
	ns := namespace(t)
	d := startLinkerdDestination(t)
	create(t, svc(ns, "web"), svc(ns, "web-a"), svc(ns, "web-b"))
	fqdn := func(name string) string { return fmt.Sprintf("%s.%s.svc.cluster.local", name, ns) }
	token := fmt.Sprintf(`{"ns":%q}`, ns)
	// No ServiceProfile yet: Linkerd's default profile (no overrides, no routes).
	p, err := d.GetProfile(fqdn("web")+":8080", token)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default profile: %s", p.Raw)
	if p.FullyQualifiedName != fqdn("web") || len(p.DstOverrides) != 0 || len(p.Routes) != 0 || p.RetryBudget == nil {
		t.Errorf("default profile %s", p.Raw)
	}
	create(t, serviceProfile(ns, "web", map[string]any{
		"routes": []any{map[string]any{"name": "GET /api", "condition": map[string]any{"method": "GET", "pathRegex": "/api(/.*)?"}}},
		"dstOverrides": []any{
			map[string]any{"authority": fqdn("web-a") + ":80", "weight": int64(1)},
			map[string]any{"authority": fqdn("web-b"), "weight": int64(3)},
		},
	}))
	p, err = d.GetProfile(fqdn("web")+":8080", token, harness.LinkerdWait{DstOverrides: true, Routes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("profile: %s", p.Raw)
	if p.FullyQualifiedName != fqdn("web") {
		t.Errorf("fullyQualifiedName %q, want %q", p.FullyQualifiedName, fqdn("web"))
	}
	want := fmt.Sprintf("%s:80=10000;%s:8080=30000;", fqdn("web-a"), fqdn("web-b"))
	if got := overridesOf(p); got != want {
		t.Errorf("dstOverrides %s\nwant           %s\nraw: %s", got, want, p.Raw)
	}
	if len(p.Routes) != 1 || !strings.Contains(string(p.Routes[0]), `"regex":"/api(/.*)?"`) {
		t.Errorf("routes %s, want the one GET /api route", p.Routes)
	}
	var raw map[string]any
	if err := json.Unmarshal(p.Raw, &raw); err != nil || raw["dstOverrides"] == nil {
		t.Errorf("raw %s: %v", p.Raw, err)
	}

	// Another port of the same Service: the same ServiceProfile, and the
	// port-less authority now follows that port.
	p, err = d.GetProfile(fqdn("web")+":9090", token, harness.LinkerdWait{DstOverrides: true})
	if err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprintf("%s:80=10000;%s:9090=30000;", fqdn("web-a"), fqdn("web-b"))
	if got := overridesOf(p); got != want {
		t.Errorf("port 9090: dstOverrides %s, want %s", got, want)
	}
}

// TestLinkerdDestinationWeightWrap: a weight above 429,496 overflows the
// proxy API's uint32 decimillis. 429497 → 429497000 milli × 10 =
// 4,294,970,000, which Linkerd sends as 4,294,970,000 − 2^32 = 2704: the
// heavy backend becomes the light one.
func TestLinkerdDestinationWeightWrap(t *testing.T) {
	ns := namespace(t)
	d := startLinkerdDestination(t)
	create(t, svc(ns, "web"), svc(ns, "web-a"), svc(ns, "web-b"))
	fqdn := func(name string) string { return fmt.Sprintf("%s.%s.svc.cluster.local", name, ns) }
	create(t, serviceProfile(ns, "web", map[string]any{
		"dstOverrides": []any{
			map[string]any{"authority": fqdn("web-a"), "weight": int64(429496)},
			map[string]any{"authority": fqdn("web-b"), "weight": int64(429497)},
		},
	}))
	p, err := d.GetProfile(fqdn("web")+":8080", fmt.Sprintf(`{"ns":%q}`, ns), harness.LinkerdWait{DstOverrides: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("profile: %s", p.Raw)
	// 429496 is the largest weight that fits: 4,294,960,000 ≤ 2^32−1.
	want := fmt.Sprintf("%s:8080=4294960000;%s:8080=2704;", fqdn("web-a"), fqdn("web-b"))
	if got := overridesOf(p); got != want {
		t.Errorf("dstOverrides %s\nwant           %s", got, want)
	}
}

// multiPort is a Service with Flagger's podinfo ports (portDiscovery: http
// 9898, metrics 9797, grpc 9999).
func multiPort(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 9898}, {Name: "http-metrics", Port: 9797}, {Name: "grpc", Port: 9999}}}}
}

// TestSplitAsTheProxySeesIt: what smi-adapter writes for a TrafficSplit,
// read by Linkerd's own destination service as a proxy asks for it, on
// every port of the root. Each port's traffic goes to the same port of the
// backends (smi-adapter pinned every authority to the root's lowest port,
// 9797, the metrics port), and weights the destination service would wrap
// past a uint32 of decimillis (429497:1 reached the proxy as 2704:10000) are
// scaled to the closest ratio it carries, reported on the split.
func TestSplitAsTheProxySeesIt(t *testing.T) {
	ns := namespace(t)
	d := startLinkerdDestination(t)
	create(t, multiPort(ns, "podinfo"), multiPort(ns, "podinfo-primary"), multiPort(ns, "podinfo-canary"))
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: "podinfo", Backends: []splitv1alpha4.TrafficSplitBackend{
			{Service: "podinfo-primary", Weight: 90}, {Service: "podinfo-canary", Weight: 10}}}}
	create(t, ts)
	fqdn := func(name string) string { return fmt.Sprintf("%s.%s.svc.cluster.local", name, ns) }
	token := fmt.Sprintf(`{"ns":%q}`, ns)
	proxySees := func(port int, want string) {
		t.Helper()
		eventually(t, func() error {
			p, err := d.GetProfile(fmt.Sprintf("%s:%d", fqdn("podinfo"), port), token, harness.LinkerdWait{DstOverrides: true})
			if err != nil {
				return err
			}
			if got := overridesOf(p); sortedEntries(got) != sortedEntries(want) {
				return fmt.Errorf("port %d: the proxy receives %s, want %s", port, got, want)
			}
			return nil
		})
	}
	for _, port := range []int{9898, 9797, 9999} {
		proxySees(port, fmt.Sprintf("%s:%d=90000;%s:%d=10000;", fqdn("podinfo-primary"), port, fqdn("podinfo-canary"), port))
	}
	if err := env.Update(context.Background(), ts, func() {
		ts.Spec.Backends[0].Weight, ts.Spec.Backends[1].Weight = 429497, 1
	}); err != nil {
		t.Fatal(err)
	}
	// 429497:1 is the closest ratio within 429,496 in all: 429495:1.
	proxySees(9898, fmt.Sprintf("%s:9898=4294950000;%s:9898=10000;", fqdn("podinfo-primary"), fqdn("podinfo-canary")))
	eventually(t, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ts), ts); err != nil {
			return err
		}
		pr := meta.FindStatusCondition(ts.Status.Conditions, "Programmed")
		if pr == nil || pr.Status != metav1.ConditionTrue || pr.ObservedGeneration != ts.Generation || !strings.Contains(pr.Message, "closest ratio") {
			return fmt.Errorf("Programmed: %+v", pr)
		}
		return nil
	})
}

// sortedEntries is a list of "a;b;" entries in sorted order.
func sortedEntries(s string) string {
	parts := strings.Split(strings.TrimSuffix(s, ";"), ";")
	sort.Strings(parts)
	return strings.Join(parts, ";")
}
