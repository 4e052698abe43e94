package controller

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	owned := vs(map[string]any{LabelManagedBy: ManagedBy}, int64(90))
	c := cachedForm(owned).(*unstructured.Unstructured)
	if _, ok := c.Object["spec"]; ok {
		t.Fatal("an owned object is cached with its spec")
	}
	if c.GetResourceVersion() != "7" || c.GetLabels()[LabelManagedBy] != ManagedBy {
		t.Fatalf("metadata lost: %v", c.Object["metadata"])
	}
	if BodyDigest(c.Object) != BodyDigest(owned.Object) {
		t.Fatal("the cached digest is not the object's")
	}
	// The same body decoded otherwise (a float weight, no status) has the
	// same digest; another weight has another.
	same := vs(nil, float64(90))
	delete(same.Object, "status")
	if BodyDigest(same.Object) != BodyDigest(c.Object) {
		t.Fatal("equal bodies, different digests")
	}
	if BodyDigest(vs(nil, int64(10)).Object) == BodyDigest(c.Object) {
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
