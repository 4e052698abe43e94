package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/backend"
)

var nsCounter atomic.Int32

// Namespace creates a fresh namespace for one test (prefix, a counter and
// the test's name) and deletes it when the test ends.
func (e *Env) Namespace(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s%d-%s", prefix, nsCounter.Add(1), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return name
}

// Create creates objects, failing the test on the first error.
func (e *Env) Create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := e.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// Eventually polls cond until it returns nil, or fails the test after timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not within %s: %v", timeout, err)
}

// DryRunGoldens submits every object of the golden files matching glob
// (relative to the repository) to the apiserver as a server-side dry run, so
// the mesh's installed CRDs validate all of them. It returns how many.
func (e *Env) DryRunGoldens(t *testing.T, glob string) int {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, glob))
	if len(files) == 0 {
		t.Fatalf("no golden files match %s", glob)
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
			e.dryRun(t, filepath.Base(f), doc)
			n++
		}
	}
	return n
}

// DryRunAll submits each object (JSON or YAML) to the apiserver as a
// server-side dry run (creating its namespace if needed) and reports every
// refusal as a test error naming label. It returns the number submitted.
func (e *Env) DryRunAll(t *testing.T, label string, docs [][]byte) int {
	t.Helper()
	for _, doc := range docs {
		e.dryRun(t, label, doc)
	}
	return len(docs)
}

func (e *Env) dryRun(t *testing.T, label string, doc []byte) {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(doc, &u.Object); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	unstructured.RemoveNestedField(u.Object, "status")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: u.GetNamespace()}}
	if err := e.Client.Create(context.Background(), ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	written := backend.BodyDigest(u.Object)
	sent := u.DeepCopy()
	if err := e.Client.Create(context.Background(), u, client.DryRunAll); err != nil {
		t.Errorf("%s: %s %s/%s rejected: %v", label, u.GetKind(), u.GetNamespace(), u.GetName(), err)
		return
	}
	// The object as the apiserver would store it (the CRD's defaults
	// applied) must be the object as written: smi-adapter compares what it
	// wants with what is stored, so a field the schema defaults would make it
	// rewrite the object on every reconcile.
	if backend.BodyDigest(u.Object) != written {
		t.Errorf("%s: %s %s/%s is stored unlike it is written (the schema defaults a field it leaves out), so it would be rewritten on every reconcile:\nwritten: %s\nstored:  %s",
			label, u.GetKind(), u.GetNamespace(), u.GetName(), body(sent.Object), body(u.Object))
	}
}

// body is an object's body (as BodyDigest reads it) as JSON, for messages.
func body(obj map[string]any) string {
	raw, _ := json.Marshal(backend.Body(obj))
	return string(raw)
}
