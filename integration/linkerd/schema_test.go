package linkerd_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestEveryTranslatedObjectPassesLinkerdSchemas submits every Linkerd object of
// the translator's golden files (adapters/linkerd/testdata/*.out.yaml) to the
// real apiserver with Linkerd's CRDs (server-side dry run): Linkerd's OpenAPI
// schemas must accept all of them.
func TestEveryTranslatedObjectPassesLinkerdSchemas(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "adapters/linkerd/testdata/*.out.yaml"))
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---\n")) {
			doc = bytes.TrimPrefix(doc, []byte("---\n"))
			if bytes.Contains(doc, []byte("problems:")) || len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &u.Object); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			unstructured.RemoveNestedField(u.Object, "status")
			ensureNamespace(t, u.GetNamespace())
			if err := env.Client.Create(context.Background(), u, client.DryRunAll); err != nil {
				t.Errorf("%s: %s %s/%s rejected: %v", filepath.Base(f), u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d objects", n)
	}
	t.Logf("%d objects accepted", n)
}

func ensureNamespace(t *testing.T, name string) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}
