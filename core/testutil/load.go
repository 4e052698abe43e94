package testutil

import (
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/core/apis"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// LoadMemory decodes a fixture (SMI of any version, Services, Pods),
// converts SMI objects to their hubs, and indexes them for normalize.
func LoadMemory(t testing.TB, path string) *normalize.Memory {
	t.Helper()
	s := runtime.NewScheme()
	if err := apis.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs, err := apis.DecodeYAML(s, f)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, d := range docs {
		if d.GVK.Group == "" {
			objs = append(objs, d.Object)
			continue
		}
		hub, err := apis.ToHub(s, d.Object, d.GVK)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, hub)
	}
	m, err := normalize.NewMemory("default", objs...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
