package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// objectsOf parses a YAML stream into objects, dropping status, comments and
// the golden files' problems document.
func objectsOf(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		doc = bytes.TrimPrefix(doc, []byte("---\n"))
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		if m == nil || m["problems"] != nil {
			continue
		}
		delete(m, "status")
		out = append(out, m)
	}
	return out
}

// TestTranslateIsTheControllerPath: for every Istio golden fixture, translate
// prints exactly the objects of the golden translation.
func TestTranslateIsTheControllerPath(t *testing.T) {
	files, _ := filepath.Glob("../../adapters/istio/testdata/*.in.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw, _ := os.ReadFile(in)
			args := []string{"--backend", "istio", "-f", in}
			if first, _, _ := strings.Cut(string(raw), "\n"); strings.HasPrefix(first, "# options:") {
				for _, kv := range strings.Fields(strings.TrimPrefix(first, "# options:")) {
					args = append(args, "--backend-opt", kv)
				}
			}
			var out, errb bytes.Buffer
			if err := translate(args, nil, &out, &errb); err != nil && !errors.Is(err, errInvalid) {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(strings.TrimSuffix(in, ".in.yaml") + ".out.yaml")
			g, w := objectsOf(t, out.Bytes()), objectsOf(t, want)
			gj, _ := json.Marshal(g)
			wj, _ := json.Marshal(w)
			if string(gj) != string(wj) {
				t.Errorf("translate differs from the golden translation:\n--- translate\n%s\n--- golden\n%s", out.String(), want)
			}
		})
	}
}

func TestTranslateStrictAndInvalid(t *testing.T) {
	fixture := "../../adapters/istio/testdata/access-fail-closed.in.yaml"
	var out, errb bytes.Buffer
	if err := translate([]string{"--backend", "istio", "-f", fixture}, nil, &out, &errb); err != nil {
		t.Fatalf("fail-closed cases are not an error without --strict: %v", err)
	}
	if !strings.Contains(errb.String(), "UnsupportedMatch") {
		t.Errorf("diagnostics missing on stderr: %s", errb.String())
	}
	if err := translate([]string{"--backend", "istio", "--strict", "-f", fixture}, nil, &out, &errb); !errors.Is(err, errInvalid) {
		t.Fatalf("--strict: want exit 1, got %v", err)
	}
	invalid := "apiVersion: access.smi-spec.io/v1alpha3\nkind: TrafficTarget\nmetadata: {name: t}\nspec:\n  destination: {kind: ServiceAccount, name: api}\n  sources: [{kind: ServiceAccount, name: web}]\n"
	errb.Reset()
	if err := translate([]string{"--backend", "istio", "-f", "-"}, strings.NewReader(invalid), &out, &errb); !errors.Is(err, errInvalid) {
		t.Fatalf("invalid input: want exit 1, got %v", err)
	}
	if !strings.Contains(errb.String(), "TrafficTarget default/t Invalid: spec.rules: Required value") {
		t.Errorf("stderr: %s", errb.String())
	}
	if err := translate([]string{"--backend", "istio", "-f", "-"}, strings.NewReader("apiVersion: split.smi-spec.io/v1alpha2\nkind: TrafficSplit\nmetadata: {name: x}\nspec: {service: a, backends: [], typo: 1}\n"), &out, &errb); err == nil {
		t.Fatal("an unknown field must be an error (strict decoding)")
	}
}

func TestTranslateJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if err := translate([]string{"--backend", "istio", "-o", "json", "-f", "../../adapters/istio/testdata/split-exact-weights.in.yaml"}, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(out.Bytes(), &list); err != nil || list.Kind != "List" || len(list.Items) != 1 {
		t.Fatalf("json output: %v %s", err, out.String())
	}
}

func TestTranslateConsul(t *testing.T) {
	var out, errb bytes.Buffer
	if err := translate([]string{"--backend", "consul", "-o", "json", "-f", "../../adapters/consul/testdata/split-matches.in.yaml"}, nil, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, it := range list.Items {
		kinds[it["Kind"].(string)]++
		if _, ok := it["ModifyIndex"]; ok {
			t.Error("server-side index in offline output")
		}
	}
	if kinds["service-router"] != 1 || kinds["service-splitter"] != 1 || kinds["service-defaults"] != 4 {
		t.Fatalf("entries: %v", kinds)
	}
}

// TestTranslateConsulNamespaceCollapse: translate builds the model as the
// controller does for Consul's free edition: a pod running as ns-b/web
// closes the grant to ns-a/web ("web" would be both) and says why with
// --strict; with mirrored namespaces the two stay apart and web is granted.
func TestTranslateConsulNamespaceCollapse(t *testing.T) {
	in := "../../adapters/consul/testdata/access-namespace-collapse.in.yaml"
	for _, tc := range []struct {
		opts      []string
		collapsed bool
	}{{nil, true}, {[]string{"--backend-opt", "mirror-namespaces=true"}, false}} {
		var out, errb bytes.Buffer
		err := translate(append([]string{"--backend", "consul", "--strict", "-o", "json", "-f", in}, tc.opts...), nil, &out, &errb)
		if tc.collapsed != errors.Is(err, errInvalid) {
			t.Errorf("%v: err %v, want the strict failure %v", tc.opts, err, tc.collapsed)
		}
		said := strings.Contains(errb.String(), "consul: error: TrafficTarget ns-a/api NamespaceCollapse: ") && strings.Contains(errb.String(), "ns-b/web exists now")
		granted := strings.Contains(out.String(), `"Name": "web"`)
		if said != tc.collapsed || granted == tc.collapsed {
			t.Errorf("%v: reported %v, web granted %v, want collapsed %v\n%s\n%s", tc.opts, said, granted, tc.collapsed, errb.String(), out.String())
		}
	}
}

// TestJSONListIsMarshalIndent: the List printed item by item is what
// json.MarshalIndent prints for it.
func TestJSONListIsMarshalIndent(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		var items []rendered
		raws := []json.RawMessage{} // as write did: never null
		for i := range n {
			// As render encodes them: json.Marshal of the decoded object.
			j, _ := json.Marshal(map[string]any{"kind": "X", "metadata": map[string]any{"name": fmt.Sprint("a", i), "labels": map[string]any{"l": "<&>"}},
				"spec": map[string]any{"list": []any{1, map[string]any{"a": []any{}}}, "empty": map[string]any{}}})
			items, raws = append(items, rendered{json: j}), append(raws, j)
		}
		want, _ := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": raws}, "", "  ")
		var got bytes.Buffer
		if err := writeJSONList(&got, items); err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want)+"\n" {
			t.Fatalf("%d items:\n%s\nwant:\n%s", n, got.String(), want)
		}
	}
}

// TestTranslateGoesOnPastBadObjects: a document that cannot be decoded (a
// typo) or converted (a v1alpha1 ratio that needs integers above 2^31-1) is
// reported with its file and object; every other object of the file is
// translated, and the exit code is 1.
func TestTranslateGoesOnPastBadObjects(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mixed.yaml")
	stream := `apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: huge, namespace: shop}
spec:
  service: web
  backends: [{service: web-v1, weight: 1m}, {service: web-v2, weight: 3000000000}]
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: typo, namespace: shop}
spec: {service: web, backends: [], typo: 1}
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: good, namespace: shop}
spec:
  service: api
  backends: [{service: api-v1, weight: 90}, {service: api-v2, weight: 10}]
`
	for _, svc := range []string{"api", "api-v1", "api-v2"} {
		stream += "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + svc + ", namespace: shop}\nspec: {ports: [{name: http, port: 80}]}\n"
	}
	if err := os.WriteFile(file, []byte(stream), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := translate([]string{"--backend", "istio", "-f", dir}, nil, &out, &errb); !errors.Is(err, errInvalid) {
		t.Fatalf("want exit 1 (errInvalid), got %v; stderr: %s", err, errb.String())
	}
	for _, want := range []string{file + ": document 0 (TrafficSplit shop/huge)", file + ": document 1 (TrafficSplit shop/typo)"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr does not report %q:\n%s", want, errb.String())
		}
	}
	if !strings.Contains(out.String(), "api-v2.shop.svc.cluster.local") {
		t.Errorf("the good split was not translated:\n%s", out.String())
	}
}
