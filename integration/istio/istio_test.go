package istio_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha2 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha2"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

func svc(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
}

func get(gvkKind string, ns, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if gvkKind == "VirtualService" {
		u.SetGroupVersionKind(istio.VirtualServiceGVK)
	} else {
		u.SetGroupVersionKind(istio.AuthorizationPolicyGVK)
	}
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)
	return u, err
}

func weights(vs *unstructured.Unstructured) string {
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	var parts []string
	for _, r := range routes {
		dests, _, _ := unstructured.NestedSlice(r.(map[string]any), "route")
		for _, d := range dests {
			host, _, _ := unstructured.NestedString(d.(map[string]any), "destination", "host")
			w, _, _ := unstructured.NestedInt64(d.(map[string]any), "weight")
			parts = append(parts, fmt.Sprintf("%s=%d", strings.Split(host, ".")[0], w))
		}
	}
	return strings.Join(parts, ",")
}

func condition(obj client.Object, typ string) *metav1.Condition {
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil
	}
	switch o := obj.(type) {
	case *splitv1alpha4.TrafficSplit:
		return meta.FindStatusCondition(o.Status.Conditions, typ)
	case *accessv1alpha3.TrafficTarget:
		return meta.FindStatusCondition(o.Status.Conditions, typ)
	}
	return nil
}

// TestSplitLifecycle: a Flagger-style split becomes a VirtualService that
// Istio's schema accepts; weight steps follow; an edit of our object is
// repaired; a resync with nothing changed writes nothing; deletion prunes.
func TestSplitLifecycle(t *testing.T) {
	ns := namespace(t)
	create(t, svc(ns, "podinfo"), svc(ns, "podinfo-primary"), svc(ns, "podinfo-canary"))
	ts := &splitv1alpha2.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"},
		Spec: splitv1alpha2.TrafficSplitSpec{Service: "podinfo", Backends: []splitv1alpha2.TrafficSplitBackend{
			{Service: "podinfo-primary", Weight: 100}, {Service: "podinfo-canary", Weight: 0}}}}
	create(t, ts)
	name := istio.VirtualServiceName("podinfo")
	eventually(t, func() error {
		vs, err := get("VirtualService", ns, name)
		if err != nil {
			return err
		}
		if w := weights(vs); w != "podinfo-canary=0,podinfo-primary=1" {
			return fmt.Errorf("weights %s", w)
		}
		if !kubesink.Owned(vs) || vs.GetAnnotations()[kubesink.AnnotationSources] != "TrafficSplit "+ns+"/podinfo" {
			return fmt.Errorf("marks: %v %v", vs.GetLabels(), vs.GetAnnotations())
		}
		return nil
	})
	hub := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"}}
	eventually(t, func() error {
		if c := condition(hub, common.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("programmed: %+v", c)
		}
		return nil
	})

	// Flagger steps the canary: 90/10, then 50/50.
	for _, step := range [][2]int{{90, 10}, {50, 50}} {
		if err := env.Update(context.Background(), ts, func() { ts.Spec.Backends[0].Weight, ts.Spec.Backends[1].Weight = step[0], step[1] }); err != nil {
			t.Fatal(err)
		}
		want := map[[2]int]string{{90, 10}: "podinfo-canary=1,podinfo-primary=9", {50, 50}: "podinfo-canary=1,podinfo-primary=1"}[step]
		eventually(t, func() error {
			vs, err := get("VirtualService", ns, name)
			if err != nil {
				return err
			}
			if w := weights(vs); w != want {
				return fmt.Errorf("weights %s, want %s", w, want)
			}
			return nil
		})
	}

	// Drift: someone edits our VirtualService; it is restored.
	vs, _ := get("VirtualService", ns, name)
	if err := env.Update(context.Background(), vs, func() {
		routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
		dests := routes[0].(map[string]any)["route"].([]any)
		dests[0].(map[string]any)["weight"] = int64(100)
		dests[1].(map[string]any)["weight"] = int64(0)
		_ = unstructured.SetNestedSlice(vs.Object, routes, "spec", "http")
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		vs, err := get("VirtualService", ns, name)
		if err != nil {
			return err
		}
		if w := weights(vs); w != "podinfo-canary=1,podinfo-primary=1" {
			return fmt.Errorf("not restored: %s", w)
		}
		return nil
	})

	// A resync with nothing changed writes nothing: touch the split's labels
	// (no generation change, so only the periodic path would see it) and an
	// annotation (which does reconcile); the VirtualService keeps its version.
	vs, _ = get("VirtualService", ns, name)
	rv := vs.GetResourceVersion()
	before := counter(t, "smi_adapter_reconcile_total", "Split")
	if err := env.Update(context.Background(), ts, func() { ts.Annotations = map[string]string{"example.com/touched": "yes"} }); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if counter(t, "smi_adapter_reconcile_total", "Split") <= before {
			return fmt.Errorf("not reconciled yet")
		}
		return nil
	})
	vs, _ = get("VirtualService", ns, name)
	if vs.GetResourceVersion() != rv {
		t.Errorf("an unchanged split rewrote the VirtualService (%s -> %s)", rv, vs.GetResourceVersion())
	}

	// Deleting the split prunes the VirtualService.
	if err := env.Client.Delete(context.Background(), ts); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if _, err := get("VirtualService", ns, name); err == nil {
			return fmt.Errorf("VirtualService still there")
		}
		return nil
	})
}

// TestForeignObjectsAreNeverTouched: a foreign VirtualService holding our
// name, or claiming the root's host, is reported as Conflict and left alone.
func TestForeignObjectsAreNeverTouched(t *testing.T) {
	ns := namespace(t)
	create(t, svc(ns, "web"), svc(ns, "web-v1"), svc(ns, "api"), svc(ns, "api-v1"))
	foreign := &unstructured.Unstructured{}
	foreign.SetGroupVersionKind(istio.VirtualServiceGVK)
	foreign.SetNamespace(ns)
	foreign.SetName(istio.VirtualServiceName("web"))
	_ = unstructured.SetNestedStringSlice(foreign.Object, []string{"other.example.com"}, "spec", "hosts")
	create(t, foreign)
	claim := &unstructured.Unstructured{}
	claim.SetGroupVersionKind(istio.VirtualServiceGVK)
	claim.SetNamespace(ns)
	claim.SetName("hand-written")
	_ = unstructured.SetNestedStringSlice(claim.Object, []string{"api"}, "spec", "hosts")
	create(t, claim)

	for _, root := range []string{"web", "api"} {
		ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: root},
			Spec: splitv1alpha4.TrafficSplitSpec{Service: root, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: root + "-v1", Weight: 1}}}}
		create(t, ts)
		eventually(t, func() error {
			c := condition(ts, common.ConditionProgrammed)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != kubesink.ReasonConflict {
				return fmt.Errorf("%s: programmed %+v", root, c)
			}
			return nil
		})
	}
	got, err := get("VirtualService", ns, istio.VirtualServiceName("web"))
	if err != nil {
		t.Fatal(err)
	}
	if hosts, _, _ := unstructured.NestedStringSlice(got.Object, "spec", "hosts"); len(hosts) != 1 || hosts[0] != "other.example.com" || kubesink.Owned(got) {
		t.Fatalf("foreign VirtualService was modified: %v", got.Object)
	}
	if _, err := get("VirtualService", ns, istio.VirtualServiceName("api")); err == nil {
		t.Fatal("smi-adapter wrote a second VirtualService for a host a foreign one claims")
	}
	// Once the foreign claim goes, ours is written (the watch on foreign objects notices).
	if err := env.Client.Delete(context.Background(), claim); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		_, err := get("VirtualService", ns, istio.VirtualServiceName("api"))
		return err
	})
}

func pod(ns, name, sa string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{ServiceAccountName: sa, AutomountServiceAccountToken: new(false),
			Containers: []corev1.Container{{Name: "c", Image: "app", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
}

// TestAccessPolicy: a TrafficTarget becomes an ALLOW AuthorizationPolicy
// selecting the destination's pods, accepted by Istio's schema; an
// inexpressible regex fails closed with Programmed=False UnsupportedMatch and
// an Event; removing the TrafficTarget removes the policy.
func TestAccessPolicy(t *testing.T) {
	ns := namespace(t)
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"}},
		pod(ns, "api-0", "api", map[string]string{"app": "api", "pod-template-hash": "x"}),
		&specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "routes"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{
				{Name: "metrics", PathRegex: "/metrics", Methods: []string{"GET"}},
				{Name: "profile", PathRegex: "/users/[^/]+/profile"},
			}}})
	tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
		Spec: accessv1alpha3.TrafficTargetSpec{
			Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
			Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}},
			Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: "monitoring"}},
		}}
	create(t, tt)
	name := istio.AuthorizationPolicyName("api", 0)
	eventually(t, func() error {
		ap, err := get("AuthorizationPolicy", ns, name)
		if err != nil {
			return err
		}
		sel, _, _ := unstructured.NestedStringMap(ap.Object, "spec", "selector", "matchLabels")
		rules, _, _ := unstructured.NestedSlice(ap.Object, "spec", "rules")
		if sel["app"] != "api" || len(rules) != 1 {
			return fmt.Errorf("policy %v", ap.Object["spec"])
		}
		return nil
	})
	eventually(t, func() error {
		c := condition(tt, common.ConditionProgrammed)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != istio.ReasonUnsupportedMatch || !strings.Contains(c.Message, "[^/]+") {
			return fmt.Errorf("programmed %+v", c)
		}
		var evs eventsv1.EventList
		if err := env.Client.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == "api" && e.Reason == istio.ReasonUnsupportedMatch {
				return nil
			}
		}
		return fmt.Errorf("no UnsupportedMatch event")
	})
	if err := env.Client.Delete(context.Background(), tt); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if _, err := get("AuthorizationPolicy", ns, name); err == nil {
			return fmt.Errorf("policy still there")
		}
		return nil
	})
}

// counter sums a smi-adapter counter over the series with label kind=kind.
func counter(t *testing.T, name, kind string) float64 {
	t.Helper()
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestAccessV1alpha1StringPort: a v1alpha1 TrafficTarget whose destination
// port is a string (smi-sdk-go's first v1alpha1 type had `Port string`) is
// stored, not refused by the apiserver; "8080" is port 8080 in every
// version, and a string that is no port number makes it grant nothing
// (Accepted=False Invalid) rather than every port.
func TestAccessV1alpha1StringPort(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	for name, port := range map[string]string{"spelled": "8080", "named": "http"} {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "access.smi-spec.io/v1alpha1", "kind": "TrafficTarget",
			"metadata":    map[string]any{"namespace": ns, "name": name},
			"destination": map[string]any{"kind": "ServiceAccount", "name": "db", "port": port},
			"sources":     []any{map[string]any{"kind": "ServiceAccount", "name": "web"}},
			"specs":       []any{map[string]any{"kind": "TCPRoute", "name": "db"}},
		}}
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatalf("%s: port %q refused: %v", name, port, err)
		}
	}
	back := &unstructured.Unstructured{}
	back.SetAPIVersion("access.smi-spec.io/v1alpha1")
	back.SetKind("TrafficTarget")
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "spelled"}, back); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := unstructured.NestedFieldNoCopy(back.Object, "destination", "port"); fmt.Sprint(p) != "8080" {
		t.Fatalf("v1alpha1 reads back port %#v, want 8080", p)
	}
	hub := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "spelled"}}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(hub), hub); err != nil {
		t.Fatal(err)
	}
	if got := hub.Annotations[common.AnnotationDestinationPort]; got != "8080" {
		t.Fatalf("hub destination port %q, want 8080", got)
	}
	named := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "named"}}
	eventually(t, func() error {
		c := condition(named, common.ConditionAccepted)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "Invalid" || !strings.Contains(c.Message, "grants nothing") {
			return fmt.Errorf("Accepted: %+v", c)
		}
		return nil
	})
}
