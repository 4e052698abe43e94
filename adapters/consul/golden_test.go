package consul_test

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// render translates every key of a fixture (and the mesh key) into config
// entries, as JSON that `consul config write` accepts, then the problems.
// The fixture's "# options:" line holds backend settings (namespace,
// mirror-namespaces, default-access…), read by the product's own parser.
func render(t *testing.T, file string) []byte {
	t.Helper()
	m := testutil.LoadMemory(t, file)
	be, err := consul.New(backend.Options{Settings: testutil.FixtureOptions(t, file)})
	if err != nil {
		t.Fatal(err)
	}
	opts := be.(*consul.Backend).Options()
	// A backend that collapses namespaces (the free edition, one configured
	// namespace) gets the identities of each source's name elsewhere, as the
	// controller's model does.
	build := normalize.Options{IdentitiesElsewhere: backend.IdentitiesElsewhere(be)}
	type out struct {
		Entries  []json.RawMessage   `json:"entries"`
		Problems []*model.Diagnostic `json:"problems,omitempty"`
	}
	var o out
	var keyed []string
	all := model.Problems{}
	for _, k := range append(m.Keys(), model.MeshKey) {
		if k.Kind == model.KeyRoute {
			continue
		}
		slice, _ := build.Build(k, m)
		res := consul.Translate(slice, opts)
		all.Merge(res.Problems)
		for _, d := range res.Entries {
			b, err := json.Marshal(consul.Clean(d.Entry))
			if err != nil {
				t.Fatal(err)
			}
			keyed = append(keyed, consul.Order(d.Entry)+"|"+d.Entry.GetName()+"|"+string(b))
		}
	}
	sort.Strings(keyed)
	for i, k := range keyed {
		if i > 0 && k == keyed[i-1] {
			continue // a shared entry two keys want
		}
		o.Entries = append(o.Entries, json.RawMessage(k[strings.LastIndex(k[:strings.Index(k, "{")], "|")+1:]))
	}
	refs := make([]model.ObjectRef, 0, len(all))
	for r := range all {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	for _, r := range refs {
		o.Problems = append(o.Problems, all.Diagnostics(r)...)
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestGolden: testdata/<case>.in.yaml -> testdata/<case>.out.json. -update rewrites.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.in.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".in.yaml"), func(t *testing.T) {
			testutil.Golden(t, strings.TrimSuffix(file, ".in.yaml")+".out.json", render(t, file))
		})
	}
}

func TestHundredths(t *testing.T) {
	for _, tc := range []struct {
		in   []int64
		want []int64
	}{
		{[]int64{1, 1, 1, 0}, []int64{3334, 3333, 3333, 0}},
		{[]int64{2, 1}, []int64{6667, 3333}},
		{[]int64{9, 1}, []int64{9000, 1000}},
		{[]int64{1000000, 1}, []int64{9999, 1}},
	} {
		got := consul.Hundredths(tc.in)
		var sum int64
		for _, g := range got {
			sum += g
		}
		if sum != 10000 || !equal(got, tc.want) {
			t.Errorf("%v: got %v (sum %d), want %v", tc.in, got, sum, tc.want)
		}
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
