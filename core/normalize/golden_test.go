package normalize_test

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

type dump struct {
	Slices      []*model.Slice      `json:"slices"`
	Diagnostics []*model.Diagnostic `json:"diagnostics,omitempty"`
}

func run(m *normalize.Memory) dump {
	var d dump
	all := model.Problems{}
	for _, k := range m.Keys() {
		slice, p := normalize.Build(k, m)
		all.Merge(p)
		if k.Kind != model.KeyRoute {
			d.Slices = append(d.Slices, slice)
		}
	}
	refs := make([]model.ObjectRef, 0, len(all))
	for r := range all {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	for _, r := range refs {
		d.Diagnostics = append(d.Diagnostics, all.Diagnostics(r)...)
	}
	return d
}

// TestGolden: testdata/<rule>.in.yaml (SMI of any version + Services/Pods) ->
// testdata/<rule>.out.yaml (model slices and diagnostics). -update rewrites.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.in.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			got, err := yaml.Marshal(run(testutil.LoadMemory(t, file)))
			if err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, strings.TrimSuffix(file, ".in.yaml")+".out.yaml", got)
			// Output is deterministic: a second run gives the same bytes.
			again, _ := yaml.Marshal(run(testutil.LoadMemory(t, file)))
			if string(again) != string(got) {
				t.Fatal("normalize is not deterministic")
			}
		})
	}
}
