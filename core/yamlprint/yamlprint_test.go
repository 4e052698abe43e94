package yamlprint

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/testutil/randomjson"
)

// same fails unless FromJSON prints what sigs.k8s.io/yaml.JSONToYAML prints.
func same(t *testing.T, j []byte) {
	t.Helper()
	want, werr := yaml.JSONToYAML(j)
	got, gerr := FromJSON(j)
	if (werr != nil) != (gerr != nil) {
		if werr != nil && json.Valid(j) {
			return // JSONToYAML refuses some valid JSON (e.g. duplicate keys): not our contract
		}
		t.Fatalf("%s: JSONToYAML error %v, FromJSON error %v", j, werr, gerr)
	}
	if string(got) != string(want) {
		t.Fatalf("%s:\nJSONToYAML:\n%s\nFromJSON:\n%s", j, want, got)
	}
}

func TestCases(t *testing.T) {
	for _, j := range []string{
		`{}`, `[]`, `null`, `true`, `"x"`, `9`, `-3`, `0`, `-0`, `1.5`, `1e3`, `1.0`, `123456789012345678901`,
		`{"a":{"b":1},"c":[],"d":{},"e":[1,[2,3],{"f":null},[],{}]}`,
		`[{"a":1,"b":[{"c":"d"}]},[[1]],{"x":{"y":[{"z":true}]}}]`,
		`{"kind":"VirtualService","apiVersion":"networking.istio.io/v1","metadata":{"name":"a","labels":{"app.kubernetes.io/managed-by":"smi-adapter"}},"spec":{"hosts":["a.b.svc.cluster.local"],"http":[{"route":[{"destination":{"host":"a-v1"},"weight":90}]}]}}`,
		`{"s":["yes","No","ON","null","~","","*","1","0x1F","1:20","-1","a b","a\nb","é","/api","/api.*","a: b","#x","-x",".inf","<<","2006-01-02","a\tb","\u0001"]}`,
		`{"a10":1,"a9":2,"a09":3,"b":4,"B":5,"_":6,"1":7,"10":8,"2":9,"é":10,"a-b":11,"a.b":12}`,
		`{"` + strings.Repeat("k", 130) + `":1}`,
		`{"long":"` + strings.Repeat("word ", 40) + `"}`,
	} {
		t.Run(j[:min(len(j), 30)], func(t *testing.T) { same(t, []byte(j)) })
	}
}

// TestGoldens: every YAML golden file of the repository, as JSON, prints the same.
func TestGoldens(t *testing.T) {
	root := filepath.Join("..", "..")
	n := 0
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".yaml") || !strings.Contains(path, "testdata") {
			return nil
		}
		raw, _ := os.ReadFile(path)
		for _, doc := range strings.Split(string(raw), "\n---\n") {
			j, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil || string(j) == "null" {
				continue
			}
			n++
			same(t, j)
		}
		return nil
	})
	if n < 100 {
		t.Fatalf("only %d documents compared", n)
	}
}

// TestRandom compares random JSON values.
func TestRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		j, _ := json.Marshal(randomjson.Value(r, atoms))
		same(t, j)
	}
}

var atoms = []string{"a", "b", "A", "z9", "09", "9", "10", "x-y", "x.y", "/p", "é", "yes", "on", "", " ", "a b", "*", ":", "a:b", "1.5", "-", "_", "true", "~", "\n", "[", "]", "{", "}", ",", "?", "*", "&", "!", "|", ">", "%", "@", "`", "#", "'", "\"", "\\", "+", "(", ")", "^", "$", "=", "<<", "\t", "0x", "e3", ":80", ";", "_", "^(?:", ")$", "\\d"}

func FuzzSameAsJSONToYAML(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":"c","d":[1,2]}],"e":{}}`))
	f.Add([]byte(`{"a10":1,"a9":[[null]],"x":"yes"}`))
	f.Fuzz(func(t *testing.T, j []byte) {
		if !json.Valid(j) {
			return
		}
		same(t, j)
	})
}

func BenchmarkPrint(b *testing.B) {
	j := []byte(`{"kind":"VirtualService","apiVersion":"networking.istio.io/v1","metadata":{"name":"a","namespace":"n","labels":{"app.kubernetes.io/managed-by":"smi-adapter"}},"spec":{"hosts":["a.b.svc.cluster.local"],"http":[{"route":[{"destination":{"host":"a-v1"},"weight":90},{"destination":{"host":"a-v2"},"weight":10}]}]}}`)
	b.Run("yamlprint", func(b *testing.B) {
		for b.Loop() {
			if _, err := FromJSON(j); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("JSONToYAML", func(b *testing.B) {
		for b.Loop() {
			if _, err := yaml.JSONToYAML(j); err != nil {
				b.Fatal(err)
			}
		}
	})
}
