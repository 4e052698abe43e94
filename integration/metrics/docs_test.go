package metrics_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/metrics"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

type docRow struct{ Kind, How, Edges string }

type docExample struct{ Path, YAML string }

type docMesh struct {
	Name, Source, Classification string
	Rows                         []docRow
	Queries                      []string
	Examples                     []docExample
}

// TestDocs renders docs/metrics.md: the mapping of every kind per mesh, the
// PromQL, and real responses of the API (-update rewrites it).
func TestDocs(t *testing.T) {
	data := struct {
		Kinds  []metrics.Kind
		Meshes []docMesh
	}{Kinds: metrics.AllKinds}
	for _, name := range []string{"istio", "linkerd", "consul"} {
		mc := meshes[name]
		dm := docMesh{Name: strings.ToUpper(name[:1]) + name[1:], Source: mc.tel.Source, Classification: mc.tel.Classification}
		for _, k := range metrics.AllKinds {
			how, _ := metrics.Explain(mc.tel, k, "shop", "x", 30*time.Second)
			if k == metrics.TrafficSplits {
				how = "per backend, as its Service (below)"
			}
			if how == "" {
				how = "not available (404)"
			}
			edges := strings.Join(metrics.ExplainEdges(mc.tel, k), "; ")
			if edges == "" {
				edges = "not available (404)"
			}
			if k == metrics.TrafficSplits {
				edges = "per backend"
			}
			dm.Rows = append(dm.Rows, docRow{string(k), how, edges})
		}
		qkind := metrics.Deployments
		if name == "consul" {
			qkind = metrics.Services
		}
		_, dm.Queries = metrics.Explain(mc.tel, qkind, "shop", "web-v1", 30*time.Second)
		t.Run(name, func(t *testing.T) {
			serveMesh(t, mc.tel, mc.data())
			for _, p := range []string{"/namespaces/shop/deployments/web-v1", "/namespaces/shop/" + mc.edgeKind + "/frontend/edges",
				"/namespaces/shop/trafficsplits/web/edges"} {
				body, err := raw(env.Config, api+p, nil)
				if err != nil {
					t.Fatalf("GET %s: %v", p, err)
				}
				y, err := yaml.JSONToYAML(body)
				if err != nil {
					t.Fatal(err)
				}
				dm.Examples = append(dm.Examples, docExample{Path: api + p, YAML: strings.TrimSpace(string(y))})
			}
		})
		data.Meshes = append(data.Meshes, dm)
	}
	tmpl := template.Must(template.ParseFiles("docs.md.tmpl"))
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, filepath.Join("..", "..", "docs", "metrics.md"), b.Bytes())
}
