package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
)

// Docs renders an adapter's documentation from a template whose examples
// come from its golden fixtures: {{ fixture "name" }} is testdata/name.in.yaml
// and {{ output "name" }} is what render makes of it. The result is compared
// with (or, with -update, written to) out.
func Docs(t *testing.T, tmplPath, out string, render func(file string) []byte) {
	t.Helper()
	tmpl, err := template.New(filepath.Base(tmplPath)).Funcs(template.FuncMap{
		"fixture": func(name string) string {
			b, err := os.ReadFile(filepath.Join("testdata", name+".in.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(b))
		},
		"output": func(name string) string {
			return strings.TrimSpace(string(render(filepath.Join("testdata", name+".in.yaml"))))
		},
	}).ParseFiles(tmplPath)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatal(err)
	}
	Golden(t, out, b.Bytes())
}
