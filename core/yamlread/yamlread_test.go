package yamlread

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/testutil/randomjson"

	"github.com/smi-adapter/smi-adapter/core/yamlprint"
)

// agrees fails if ToJSON reads doc and YAMLToJSONStrict reads it otherwise
// or refuses it. It says whether ToJSON read it.
func agrees(t *testing.T, doc []byte) bool {
	t.Helper()
	got, ok := ToJSON(doc)
	if !ok {
		return false
	}
	want, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Fatalf("%q: read as %s, but YAMLToJSONStrict: %v", doc, got, err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%q: invalid JSON %s: %v", doc, got, err)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%q:\nToJSON:           %s\nYAMLToJSONStrict: %s", doc, got, want)
	}
	return true
}

func TestCases(t *testing.T) {
	for _, c := range []struct {
		doc  string
		read bool
	}{
		{"a: 1\nb: x\n", true},
		{"a:\n  b:\n  - 1\n  - c: d\n    e: [ ]\n", true},
		{"a:\n- 1\n- - 2\n  - 3\n-\n", true},
		{"a:\n- 1\n- - 2\n  - 3\n-\nb: {}\n", true},
		{"- a: 1\n  b: 'it''s'\n- \"q\"\n-\n  - x\n", true},
		{"a: hello world\nb: x:y\nc: /api/v[0-9]+\nd: ~\ne: null\nf: true\ng:\n", true},
		{"# c\na: 1 # c\n", false},
		{"a: |\n  x\n", false},
		{"a: b\n  c\n", false},
		{"a: 1\na: 2\n", false},
		{"a: yes\n", false},
		{"a: 1.5\n", false},
		{"a: 0x10\n", false},
		{"a: 500m\n", false},
		{"a: &x 1\nb: *x\n", false},
		{"a: [1, 2]\n", true},
		{"a: \"x\\ty\"\n", false},
		{": x\n", false},
		{"a:\n    b: 1\n  c: 2\n", false},
		{"'a b': 1\n\"c\": 2\n", true},
		{"a: 'x' # y\n", false},
		{"a:\tb\n", false},
		{"a: b\r\nc: d\r\n", true},
		{"a: -1\nb: 0\nc: -0\n", false},
		{"a: -1\nb: 0\n", true},
		{"x", false}, // a scalar document: not a manifest
		{"a: {b: c, d: [1, 'x', {}], e: []}\n", true},
		{"a: {b: c,}\n", false},
		{"a: [b: c]\n", false},
		{"a: {b: c, b: d}\n", false},
		{"a: .*\nb: ^x$\nc: (a|b)\nd: .5\ne: .inf\nf: _x\n", false},
		{"a: .*\nb: ^x$\nc: (a|b)\nf: _x\n", true},
		{"---\na: 1\n", true},
		{"- x\n   y\n", false},
	} {
		t.Run(strings.ReplaceAll(c.doc[:min(len(c.doc), 20)], "\n", "⏎"), func(t *testing.T) {
			if read := agrees(t, []byte(c.doc)); read != c.read {
				t.Fatalf("read %v, want %v", read, c.read)
			}
		})
	}
}

// TestRepositoryYAML: every YAML document of the repository (test data,
// deploy, crds, docs) reads the same; most are read.
func TestRepositoryYAML(t *testing.T) {
	root := filepath.Join("..", "..")
	total, read := 0, 0
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml") {
			return nil
		}
		raw, _ := os.ReadFile(path)
		for _, doc := range strings.Split(string(raw), "\n---\n") {
			total++
			if agrees(t, []byte(doc)) {
				read++
			}
		}
		return nil
	})
	t.Logf("%d of %d documents read without YAMLToJSONStrict", read, total)
	if total < 100 || read < total/2 {
		t.Fatalf("%d of %d documents read", read, total)
	}
}

// TestPrinted: whatever yamlprint (and so kubectl, JSONToYAML) prints from
// random values reads back the same.
func TestPrinted(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	read := 0
	for range 20000 {
		v := randomjson.Value(r, atoms)
		y, err := yamlprint.Print(v)
		if err != nil {
			t.Fatal(err)
		}
		if agrees(t, y) {
			read++
		}
	}
	t.Logf("%d of 20000 read", read)
}

var atoms = []string{"a", "b", "A", "z9", "09", "9", "-9", "10", "x-y", "x.y", "/p", "é", "yes", "on", "", " ", "a b", "*", ":", "a:b", "1.5", "-", "- ", "_", "true", "~", "\n", "[", "]", "{", "}", ",", "?", "&", "!", "|", ">", "%", "@", "`", "#", " #", "'", "\"", "\\", "+", "<<", "\t", "e3", ": ", ".", ".5", "^", "(", ")", "$", "=", ";", "x"}

// FuzzAgreesWithYAMLToJSONStrict: for any input, what ToJSON reads is what
// YAMLToJSONStrict reads.
func FuzzAgreesWithYAMLToJSONStrict(f *testing.F) {
	for _, s := range []string{"a: 1\nb:\n- c: d\n  e: 'x'\n", "- - a\n  - b\n-\n  c: ~\n", "a: hello world\nb: x:y\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { agrees(t, doc) })
}

func BenchmarkToJSON(b *testing.B) {
	doc := []byte("apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata:\n  name: svc-0\n  namespace: ns-0\nspec:\n  backends:\n  - service: svc-0-primary\n    weight: 90\n  - service: svc-0-canary\n    weight: 10\n  service: svc-0\nstatus: {}\n")
	b.Run("yamlread", func(b *testing.B) {
		for b.Loop() {
			if _, ok := ToJSON(doc); !ok {
				b.Fatal("not read")
			}
		}
	})
	b.Run("YAMLToJSONStrict", func(b *testing.B) {
		for b.Loop() {
			if _, err := yaml.YAMLToJSONStrict(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
