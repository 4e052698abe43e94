package kube_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/conversion"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/apis"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

func versionsOf(s *runtime.Scheme, gk schema.GroupKind) []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for gvk := range s.AllKnownTypes() {
		if gvk.GroupKind() == gk {
			out = append(out, gvk)
		}
	}
	slices.SortFunc(out, func(a, b schema.GroupVersionKind) int { return strings.Compare(a.Version, b.Version) })
	return out
}

// comparable strips what the apiserver adds and the status, so that what a
// client wrote can be compared with what it reads.
func comparable(t *testing.T, obj runtime.Object) map[string]any {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	delete(u, "status")
	md, _ := u["metadata"].(map[string]any)
	keep := map[string]any{}
	for _, k := range []string{"name", "namespace", "labels", "annotations"} {
		if v, ok := md[k]; ok {
			keep[k] = v
		}
	}
	u["metadata"] = keep
	return u
}

// numericPort is u with an access v1alpha1 destination port written as a
// string of digits (smi-sdk-go's first type had Port string) as the number
// it stands for: the conversion webhook reads "8080" as port 8080, so that
// is what the version it was written in reads back.
func numericPort(u map[string]any) map[string]any {
	dst, _ := u["destination"].(map[string]any)
	if s, ok := dst["port"].(string); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			dst["port"] = n
		}
	}
	return u
}

// TestEveryVersionReadsBackInEveryVersion creates each SMI fixture (every
// version of every kind, core/apis/testdata/conversion) through the real
// apiserver, then reads it in every served version: the conversion webhook
// must answer exactly what the in-process conversion answers, and the
// version it was written in must read back unchanged.
func TestEveryVersionReadsBackInEveryVersion(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "core/apis/testdata/conversion/*.in.yaml"))
	if len(files) < 10 {
		t.Fatalf("expected the conversion fixtures, found %d", len(files))
	}
	ns := namespace(t)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			docs, err := apis.DecodeYAML(env.Scheme, bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			in, inGVK := docs[0].Object.(client.Object), docs[0].GVK
			in.SetNamespace(ns)
			in.SetName(name)
			if st := in.(interface{ GetObjectKind() schema.ObjectKind }); st == nil {
				t.Fatal("no kind")
			}
			// Write through the apiserver in the fixture's own version (status is ignored on create).
			u := &unstructured.Unstructured{}
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(in)
			if err != nil {
				t.Fatal(err)
			}
			u.Object = obj
			u.SetGroupVersionKind(inGVK)
			if err := env.Client.Create(context.Background(), u); err != nil {
				t.Fatalf("create %s: %v", inGVK, err)
			}
			hub, err := apis.ToHub(env.Scheme, in, inGVK)
			if err != nil {
				t.Fatal(err)
			}
			for _, gvk := range versionsOf(env.Scheme, inGVK.GroupKind()) {
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(gvk)
				if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, got); err != nil {
					t.Fatalf("get as %s: %v", gvk.Version, err)
				}
				want, err := apis.FromHub(env.Scheme, hub.(conversion.Hub), gvk)
				if err != nil {
					t.Fatal(err)
				}
				w, g := comparable(t, want), comparable(t, got)
				if !equality.Semantic.DeepEqual(w, g) {
					wy, _ := yaml.Marshal(w)
					gy, _ := yaml.Marshal(g)
					t.Errorf("read as %s differs from the in-process conversion:\n--- want\n%s--- got\n%s", gvk.Version, wy, gy)
				}
				if gvk == inGVK {
					if !equality.Semantic.DeepEqual(numericPort(comparable(t, in)), g) {
						iy, _ := yaml.Marshal(comparable(t, in))
						gy, _ := yaml.Marshal(g)
						t.Errorf("%s does not read back what it wrote:\n--- wrote\n%s--- read\n%s", gvk.Version, iy, gy)
					}
				}
			}
		})
	}
	_ = metav1.Now
}
