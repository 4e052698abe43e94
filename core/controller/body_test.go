package controller

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/smi-adapter/smi-adapter/core/backend"
)

func vs(labels map[string]any, weight any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": "a", "namespace": "n", "labels": labels, "resourceVersion": "7"},
		"spec":     map[string]any{"hosts": []any{"a.n.svc.cluster.local"}, "http": []any{map[string]any{"route": []any{map[string]any{"weight": weight}}}}},
		"status":   map[string]any{"validationMessages": []any{"x"}},
	}}
}

func TestCachedForm(t *testing.T) {
	owned := vs(map[string]any{backend.LabelManagedBy: backend.ManagedBy}, int64(90))
	c := cachedForm(owned).(*unstructured.Unstructured)
	if _, ok := c.Object["spec"]; ok {
		t.Fatal("an owned object is cached with its spec")
	}
	if c.GetResourceVersion() != "7" || c.GetLabels()[backend.LabelManagedBy] != backend.ManagedBy {
		t.Fatalf("metadata lost: %v", c.Object["metadata"])
	}
	if backend.BodyDigest(c.Object) != backend.BodyDigest(owned.Object) {
		t.Fatal("the cached digest is not the object's")
	}
	// The same body decoded otherwise (a float weight, no status) has the
	// same digest; another weight has another.
	same := vs(nil, float64(90))
	delete(same.Object, "status")
	if backend.BodyDigest(same.Object) != backend.BodyDigest(c.Object) {
		t.Fatal("equal bodies, different digests")
	}
	if backend.BodyDigest(vs(nil, int64(10)).Object) == backend.BodyDigest(c.Object) {
		t.Fatal("different bodies, equal digests")
	}
	// A foreign object is a skeleton with its hosts.
	f := cachedForm(vs(nil, int64(90))).(*unstructured.Unstructured)
	if hosts, _, _ := unstructured.NestedStringSlice(f.Object, "spec", "hosts"); len(hosts) != 1 {
		t.Fatalf("foreign skeleton without hosts: %v", f.Object)
	}
	if _, ok, _ := unstructured.NestedSlice(f.Object, "spec", "http"); ok {
		t.Fatal("foreign skeleton keeps its routes")
	}
}

func TestSlimService(t *testing.T) {
	in := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "n", Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.0.0.1", ClusterIPs: []string{"10.0.0.1"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), AppProtocol: ptr.To("http")}}},
	}
	out, _ := slimService(in)
	s := out.(*corev1.Service)
	if len(s.Annotations) != 0 || s.Spec.ClusterIP != "" {
		t.Fatalf("kept what nothing reads: %+v", s)
	}
	if !reflect.DeepEqual(s.Spec.Ports, in.Spec.Ports) || !reflect.DeepEqual(s.Spec.Selector, in.Spec.Selector) || !reflect.DeepEqual(s.Labels, in.Labels) {
		t.Fatalf("lost what normalize or the metrics API reads: %+v", s)
	}
}
