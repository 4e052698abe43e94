package linkerd_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

func get(gvk schema.GroupVersionKind, ns, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)
}

func svc(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}
}

func overrides(u *unstructured.Unstructured) string {
	list, _, _ := unstructured.NestedSlice(u.Object, "spec", "dstOverrides")
	s := ""
	for _, o := range list {
		m := o.(map[string]any)
		s += fmt.Sprintf("%v=%v;", m["authority"], m["weight"])
	}
	return s
}

// TestSplitLifecycle: ServiceProfile dstOverrides follow weight steps, an
// edit is repaired, deletion prunes.
func TestSplitLifecycle(t *testing.T) {
	ns := namespace(t)
	create(t, svc(ns, "web"), svc(ns, "web-v1"), svc(ns, "web-v2"))
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v1", Weight: 90}, {Service: "web-v2", Weight: 10}}}}
	create(t, ts)
	name := linkerd.ServiceProfileName("web", ns, "cluster.local")
	want := func(w string) {
		t.Helper()
		eventually(t, func() error {
			sp, err := get(linkerd.ServiceProfileGVK, ns, name)
			if err != nil {
				return err
			}
			if got := overrides(sp); got != w {
				return fmt.Errorf("dstOverrides %s, want %s", got, w)
			}
			return nil
		})
	}
	want(fmt.Sprintf("web-v1.%s.svc.cluster.local=9;web-v2.%s.svc.cluster.local=1;", ns, ns))
	if err := env.Update(context.Background(), ts, func() { ts.Spec.Backends[1].Weight = 90 }); err != nil {
		t.Fatal(err)
	}
	want(fmt.Sprintf("web-v1.%s.svc.cluster.local=1;web-v2.%s.svc.cluster.local=1;", ns, ns))
	sp, _ := get(linkerd.ServiceProfileGVK, ns, name)
	if err := env.Update(context.Background(), sp, func() { _ = unstructured.SetNestedSlice(sp.Object, nil, "spec", "dstOverrides") }); err != nil {
		t.Fatal(err)
	}
	want(fmt.Sprintf("web-v1.%s.svc.cluster.local=1;web-v2.%s.svc.cluster.local=1;", ns, ns))
	if err := env.Client.Delete(context.Background(), ts); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if _, err := get(linkerd.ServiceProfileGVK, ns, name); err == nil {
			return fmt.Errorf("ServiceProfile not pruned")
		}
		return nil
	})
}

// TestForeignServiceProfileBlocksHTTPRouteSplit: a split with matches is
// written as HTTPRoutes, which Linkerd ignores while the root has a
// ServiceProfile; a foreign one is reported, nothing is written.
func TestForeignServiceProfileBlocksHTTPRouteSplit(t *testing.T) {
	ns := namespace(t)
	create(t, svc(ns, "web"), svc(ns, "web-v2"),
		&specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "beta"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "b", PathRegex: "/beta"}}}})
	foreign := foreignProfile(ns, "web")
	create(t, foreign)
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Matches: []splitv1alpha4.TrafficSplitMatch{{Kind: "HTTPRouteGroup", Name: "beta"}},
			Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v2", Weight: 1}}}}
	create(t, ts)
	eventually(t, func() error { return conflicted(ts) })
	if _, err := get(linkerd.HTTPRouteGVK, ns, "web-smi-split-8080"); err == nil {
		t.Fatal("an HTTPRoute Linkerd would ignore was written")
	}
	if err := env.Client.Delete(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		_, err := get(linkerd.HTTPRouteGVK, ns, "web-smi-split-8080")
		return err
	})
}

// foreignProfile is a ServiceProfile for svc that smi-adapter does not own.
func foreignProfile(ns, svc string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(linkerd.ServiceProfileGVK)
	u.SetNamespace(ns)
	u.SetName(linkerd.ServiceProfileName(svc, ns, "cluster.local"))
	u.Object["spec"] = map[string]any{"routes": []any{map[string]any{"name": "x", "condition": map[string]any{"method": "GET"}}}}
	return u
}

// conflicted reads ts and says whether it reports Programmed=False/Conflict.
func conflicted(ts *splitv1alpha4.TrafficSplit) error {
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ts), ts); err != nil {
		return err
	}
	c := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != kubesink.ReasonConflict {
		return fmt.Errorf("programmed %+v", c)
	}
	return nil
}

// TestForeignServiceProfileAfterHTTPRouteSplit: the split's HTTPRoute is
// written first, then someone else's ServiceProfile appears for the root.
// Linkerd now ignores the HTTPRoute, so it is pruned (nothing claims a split
// Linkerd does not perform) and the split says why; the profile's deletion
// writes the route again.
func TestForeignServiceProfileAfterHTTPRouteSplit(t *testing.T) {
	ns := namespace(t)
	create(t, svc(ns, "web"), svc(ns, "web-v2"),
		&specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "beta"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "b", PathRegex: "/beta"}}}})
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Matches: []splitv1alpha4.TrafficSplitMatch{{Kind: "HTTPRouteGroup", Name: "beta"}},
			Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v2", Weight: 1}}}}
	create(t, ts)
	eventually(t, func() error {
		_, err := get(linkerd.HTTPRouteGVK, ns, "web-smi-split-8080")
		return err
	})
	foreign := foreignProfile(ns, "web")
	create(t, foreign)
	eventually(t, func() error {
		if err := conflicted(ts); err != nil {
			return err
		}
		if _, err := get(linkerd.HTTPRouteGVK, ns, "web-smi-split-8080"); err == nil {
			return fmt.Errorf("the HTTPRoute Linkerd now ignores is still there")
		}
		return nil
	})
	if err := env.Client.Delete(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		_, err := get(linkerd.HTTPRouteGVK, ns, "web-smi-split-8080")
		return err
	})
}

// TestAccessObjects: a TrafficTarget becomes a Server (deny), a
// MeshTLSAuthentication of its sources, an HTTPRoute and its
// AuthorizationPolicy, plus the probe route and its authorization.
func TestAccessObjects(t *testing.T) {
	ns := namespace(t)
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-0", Labels: map[string]string{"app": "api"}},
			Spec: corev1.PodSpec{ServiceAccountName: "api", AutomountServiceAccountToken: new(false), Containers: []corev1.Container{{
				Name: "c", Image: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}},
			}}}},
		&specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "routes"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "metrics", PathRegex: "/metrics", Methods: []string{"GET"}}}}},
		&accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
			Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: "monitoring"}},
			}})
	for _, o := range []struct {
		gvk  schema.GroupVersionKind
		name string
	}{
		{linkerd.ServerGVK, "api-smi-8080"},
		{linkerd.MeshTLSAuthenticationGVK, "api-smi-clients-0"},
		{linkerd.HTTPRouteGVK, "api-smi-8080-r0"},
		{linkerd.AuthorizationPolicyGVK, "api-smi-8080-r0"},
		{linkerd.HTTPRouteGVK, "api-smi-8080-probes"},
		{linkerd.AuthorizationPolicyGVK, "api-smi-8080-probes"},
		{linkerd.NetworkAuthenticationGVK, "api-smi-kubelet"},
	} {
		eventually(t, func() error {
			_, err := get(o.gvk, ns, o.name)
			return err
		})
	}
	srv, _ := get(linkerd.ServerGVK, ns, "api-smi-8080")
	if ap, _, _ := unstructured.NestedString(srv.Object, "spec", "accessPolicy"); ap != "deny" {
		t.Errorf("Server accessPolicy %q", ap)
	}
}

// TestServiceMovesToAnotherAccount: the Service shop selects api's pods, so
// api's TrafficTarget writes shop's ServiceProfile (per-route metrics). When
// shop's selector moves to web's pods, the profile passes to web's
// TrafficTarget: the old selector's account is reconciled too, and drops it.
func TestServiceMovesToAnotherAccount(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	for _, sa := range []string{"api", "web"} {
		create(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa + "-0", Labels: map[string]string{"app": sa}},
			Spec: corev1.PodSpec{ServiceAccountName: sa, AutomountServiceAccountToken: new(false), Containers: []corev1.Container{{
				Name: "c", Image: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}},
			&accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa},
				Spec: accessv1alpha3.TrafficTargetSpec{
					Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: sa},
					Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}},
					Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: "monitoring"}},
				}})
	}
	shop := svc(ns, "shop")
	shop.Spec.Selector = map[string]string{"app": "api"}
	create(t, shop, &specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "routes"},
		Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "metrics", PathRegex: "/metrics", Methods: []string{"GET"}}}}})
	heldBy := func(sa string) error {
		sp, err := get(linkerd.ServiceProfileGVK, ns, linkerd.ServiceProfileName("shop", ns, "cluster.local"))
		if err != nil {
			return err
		}
		if want := (model.Key{Kind: model.KeyAccess, Namespace: ns, Name: sa}).String(); sp.GetAnnotations()[kubesink.AnnotationKey] != want {
			return fmt.Errorf("ServiceProfile held for %q, want %q", sp.GetAnnotations()[kubesink.AnnotationKey], want)
		}
		tt := &accessv1alpha3.TrafficTarget{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: sa}, tt); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(tt.Status.Conditions, common.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("%s programmed %+v", sa, c)
		}
		return nil
	}
	eventually(t, func() error { return heldBy("api") })
	if err := env.Update(ctx, shop, func() { shop.Spec.Selector = map[string]string{"app": "web"} }); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error { return heldBy("web") })
}
