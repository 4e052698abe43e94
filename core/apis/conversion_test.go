package apis_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/conversion"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/apis"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

func newScheme(t testing.TB) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := apis.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// versionsOf lists the served versions of a kind, oldest first.
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

// canonicalOnRead are fixtures written in a legacy form that reads back in
// its canonical form (the golden file shows it): a v1alpha1 destination port
// written as a string, as smi-sdk-go's first v1alpha1 type did, reads back as
// the number.
var canonicalOnRead = map[string]bool{"traffictarget-v1alpha1-string-port": true}

// TestConversionGolden renders every fixture in every version of its kind
// (testdata/conversion/*.in.yaml -> *.out.yaml) and checks the round trip
// in-version -> V -> in-version for every version V: every version pair.
func TestConversionGolden(t *testing.T) {
	s := newScheme(t)
	files, _ := filepath.Glob("testdata/conversion/*.in.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			docs, err := apis.DecodeYAML(s, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != 1 {
				t.Fatalf("want one object, got %d", len(docs))
			}
			in, inGVK := docs[0].Object, docs[0].GVK
			hub, err := apis.ToHub(s, in, inGVK)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			for _, gvk := range versionsOf(s, inGVK.GroupKind()) {
				there, err := apis.FromHub(s, hub.(conversion.Hub), gvk)
				if err != nil {
					t.Fatalf("to %s: %v", gvk.Version, err)
				}
				b, err := yaml.Marshal(there)
				if err != nil {
					t.Fatal(err)
				}
				out.WriteString("---\n")
				out.Write(b)

				// there -> hub must give the same hub (nothing lost in version V) ...
				back, err := apis.ToHub(s, there, gvk)
				if err != nil {
					t.Fatalf("%s back to hub: %v", gvk.Version, err)
				}
				if !equality.Semantic.DeepEqual(hub, back) {
					t.Errorf("hub -> %s -> hub changed the object:\n%s", gvk.Version, diffYAML(t, hub, back))
				}
				// ... and the input version must read back what it wrote.
				again, err := apis.FromHub(s, back.(conversion.Hub), inGVK)
				if err != nil {
					t.Fatal(err)
				}
				if !equality.Semantic.DeepEqual(in, again) && !canonicalOnRead[name] {
					t.Errorf("%s -> %s -> %s changed the object:\n%s", inGVK.Version, gvk.Version, inGVK.Version, diffYAML(t, in, again))
				}
			}
			testutil.Golden(t, strings.TrimSuffix(file, ".in.yaml")+".out.yaml", out.Bytes())
		})
	}
}

func diffYAML(t *testing.T, a, b any) string {
	ay, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	by, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return testutil.LineDiff(string(ay), string(by))
}
