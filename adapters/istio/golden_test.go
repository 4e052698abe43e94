package istio_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// options reads "# options: key=value ..." from the first line of a fixture.
func options(t *testing.T, path string) istio.Options {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var o istio.Options
	sc := bufio.NewScanner(f)
	if sc.Scan() && strings.HasPrefix(sc.Text(), "# options:") {
		for _, kv := range strings.Fields(strings.TrimPrefix(sc.Text(), "# options:")) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "weights":
				o.Weights = v
			case "identity":
				o.Identity = v
			case "trust-domain":
				o.TrustDomain = v
			case "cluster-domain":
				o.ClusterDomain = v
			default:
				t.Fatalf("unknown option %q", k)
			}
		}
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return o
}

// Render translates every key of a fixture and renders the Istio objects
// (as YAML documents, sorted) and the problems.
func render(t *testing.T, m *normalize.Memory, o istio.Options) []byte {
	var docs []string
	all := model.Problems{}
	for _, k := range m.Keys() {
		if k.Kind == model.KeyRoute {
			continue
		}
		slice, _ := normalize.Build(k, m)
		res := istio.Translate(slice, o)
		all.Merge(res.Problems)
		for _, obj := range res.Objects {
			b, err := json.Marshal(obj.Obj)
			if err != nil {
				t.Fatal(err)
			}
			y, err := yaml.JSONToYAML(b)
			if err != nil {
				t.Fatal(err)
			}
			hold := ""
			if obj.Hold {
				hold = "# held\n"
			}
			docs = append(docs, hold+string(y))
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
		out.WriteString("---\n# not an Istio object: what the backend reports on the SMI objects\n" + string(b))
	}
	return out.Bytes()
}

// TestGolden: testdata/<case>.in.yaml (SMI, Services, Pods) ->
// testdata/<case>.out.yaml (Istio objects and problems). -update rewrites.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.in.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			got := render(t, testutil.LoadMemory(t, file), options(t, file))
			testutil.Golden(t, strings.TrimSuffix(file, ".in.yaml")+".out.yaml", got)
		})
	}
}
