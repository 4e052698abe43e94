package apis

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/testutil/randomjson"
)

// sameTypeMeta fails if typeMeta reads valid JSON otherwise than
// encoding/json does.
func sameTypeMeta(t *testing.T, j []byte) bool {
	t.Helper()
	v, k, ok := typeMeta(j)
	if !ok || !json.Valid(j) {
		return false
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(j, &tm); err != nil {
		t.Fatalf("%s: typeMeta read %q %q, encoding/json: %v", j, v, k, err)
	}
	if tm.APIVersion != v || tm.Kind != k {
		t.Fatalf("%s: typeMeta read %q %q, encoding/json %q %q", j, v, k, tm.APIVersion, tm.Kind)
	}
	return true
}

func TestTypeMeta(t *testing.T) {
	for _, c := range []struct {
		j    string
		read bool
	}{
		{`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a","x":["}",{"\"":1}]}}`, true},
		{` { "kind" : "X" , "spec" : [1, 2.5e3, true, null, "a\"b"] } `, true},
		{`{}`, true},
		{`{"Kind":"X"}`, false},
		{`{"kind":"X","kind":"Y"}`, false},
		{`{"kind":"\u0058"}`, false},
		{`{"kind":5}`, false},
		{`[1]`, false},
	} {
		if got := sameTypeMeta(t, []byte(c.j)); got != c.read {
			t.Errorf("%s: read %v, want %v", c.j, got, c.read)
		}
	}
	atoms := []string{"a", "apiVersion", "kind", "Kind", "\"", "\\", "}", "{", "[", "]", ",", ":", " ", "é", "v1"}
	r := rand.New(rand.NewPCG(5, 6))
	read := 0
	for range 20000 {
		v := randomjson.Value(r, atoms)
		if m, ok := v.(map[string]any); ok && r.IntN(2) == 0 {
			m["apiVersion"], m["kind"] = "g/v1", "K"
		}
		j, _ := json.Marshal(v)
		if sameTypeMeta(t, j) {
			read++
		}
	}
	if read < 1000 {
		t.Fatalf("only %d of 20000 read", read)
	}
}

func FuzzTypeMeta(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Service","spec":{"a":[1,"}"]}}`))
	f.Fuzz(func(t *testing.T, j []byte) { sameTypeMeta(t, j) })
}
