package testutil

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// TranslateFunc is an adapter's pure translation.
type TranslateFunc func(*model.Slice) ([]runtime.Object, model.Problems)

// Render translates every key of a fixture (and the mesh key) and renders the
// objects as sorted YAML documents, then the problems the adapter reports.
func Render(t testing.TB, m *normalize.Memory, translate TranslateFunc) []byte {
	t.Helper()
	var docs []string
	all := model.Problems{}
	for _, k := range append(m.Keys(), model.MeshKey) {
		if k.Kind == model.KeyRoute {
			continue
		}
		slice, _ := normalize.Build(k, m)
		before, err := json.Marshal(slice)
		if err != nil {
			t.Fatal(err)
		}
		objs, problems := translate(slice)
		// Translation is pure: the controller compares a slice's digest
		// after a sync with the next reconcile's, before its sync.
		if after, _ := json.Marshal(slice); !bytes.Equal(before, after) {
			t.Fatalf("translating %s changed its model slice:\nbefore %s\nafter  %s", k, before, after)
		}
		all.Merge(problems)
		for _, obj := range objs {
			b, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			y, err := yaml.JSONToYAML(b)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, string(y))
		}
	}
	sort.Strings(docs)
	var out bytes.Buffer
	for _, d := range docs {
		out.WriteString("---\n" + d)
	}
	refs := make([]model.ObjectRef, 0, len(all))
	for r := range all {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	var diags []*model.Diagnostic
	for _, r := range refs {
		diags = append(diags, all.Diagnostics(r)...)
	}
	if len(diags) > 0 {
		b, err := yaml.Marshal(map[string]any{"problems": diags})
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n# not a mesh object: what the backend reports on the SMI objects\n" + string(b))
	}
	return out.Bytes()
}

// FixtureOptions reads "# options: key=value ..." from a fixture's first line.
func FixtureOptions(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	if sc.Scan() && strings.HasPrefix(sc.Text(), "# options:") {
		for _, kv := range strings.Fields(strings.TrimPrefix(sc.Text(), "# options:")) {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	}
	return out
}
