package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/testutil/randomjson"
)

// TestPrintYAMLIsJSONToYAML: printYAML gives the bytes sigs.k8s.io/yaml's
// JSONToYAML gives, on every golden output of every backend and on random
// JSON values.
func TestPrintYAMLIsJSONToYAML(t *testing.T) {
	check := func(name string, j []byte) {
		t.Helper()
		want, err := yaml.JSONToYAML(j)
		if err != nil {
			return // not JSON JSONToYAML reads: nothing to compare
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(j))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := printYAML(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: printYAML\n%s\nJSONToYAML\n%s", name, got, want)
		}
	}
	files, _ := filepath.Glob("../../adapters/*/testdata/*.out.*")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			j, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil || len(bytes.TrimSpace(j)) == 0 || string(j) == "null" {
				continue
			}
			check(f, j)
			n++
		}
	}
	// Strings YAML reads specially: booleans and numbers of YAML 1.1, nulls,
	// indicators, quotes, newlines, unicode.
	atoms := []string{"a", "y", "no", "on", "0x1F", "1e3", "~", "null", ": ", "- ", "#", "'", "\"", "\n", "  ", "é", "*", "&", "!", "{", "[", ",", "^(?:/x).*$", "0.5", "-"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		j, err := json.Marshal(randomjson.Value(r, atoms))
		if err != nil {
			t.Fatal(err)
		}
		check("random", j)
		n++
	}
	t.Logf("%d documents compared", n)
}
