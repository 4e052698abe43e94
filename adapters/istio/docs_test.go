package istio_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// TestDocs renders docs/istio.md from docs.md.tmpl and the golden fixtures,
// so every example in it is output the code produced (-update rewrites it).
func TestDocs(t *testing.T) {
	tmpl, err := template.New("docs.md.tmpl").Funcs(template.FuncMap{
		"fixture": func(name string) string {
			b, err := os.ReadFile(filepath.Join("testdata", name+".in.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(b))
		},
		"output": func(name string) string {
			return strings.TrimSpace(string(render(t, filepath.Join("testdata", name+".in.yaml"))))
		},
	}).ParseFiles("docs.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, filepath.Join("..", "..", "docs", "istio.md"), out.Bytes())
}
