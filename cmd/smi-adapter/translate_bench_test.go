package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/controller"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// BenchmarkTranslateCommand: `smi-adapter translate` end to end on a file of
// 10,050 SMI objects (50 namespaces × (1 HTTPRouteGroup, 100 TrafficSplits,
// 100 TrafficTargets), with their 15,000 Services and 10,000 Pods: reading
// and decoding, normalizing, translating and printing; YAML in and out, and
// JSON in and out, with the command's GC setting (batchGC). Target: under 1 s.
func BenchmarkTranslateCommand(b *testing.B) {
	objs := testutil.BenchObjects(50, 100)
	scheme, err := controller.NewScheme()
	if err != nil {
		b.Fatal(err)
	}
	var docs []string
	for _, o := range objs {
		gvks, _, err := scheme.ObjectKinds(o)
		if err != nil {
			b.Fatal(err)
		}
		o.GetObjectKind().SetGroupVersionKind(gvks[0])
		j, err := json.Marshal(o)
		if err != nil {
			b.Fatal(err)
		}
		y, err := yaml.JSONToYAML(j)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, string(y))
	}
	file := filepath.Join(b.TempDir(), "world.yaml")
	if err := os.WriteFile(file, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		b.Fatal(err)
	}
	jfile := filepath.Join(b.TempDir(), "world.json")
	var jdocs []string
	for _, d := range docs {
		j, err := yaml.YAMLToJSON([]byte(d))
		if err != nil {
			b.Fatal(err)
		}
		jdocs = append(jdocs, string(j))
	}
	if err := os.WriteFile(jfile, []byte(strings.Join(jdocs, "\n---\n")), 0o644); err != nil {
		b.Fatal(err)
	}
	batchGC() // as the command does
	for _, backend := range []string{"istio", "linkerd", "consul"} {
		for _, format := range []string{"yaml", "json"} {
			in := file
			if format == "json" {
				in = jfile
			}
			b.Run(backend+"/"+format, func(b *testing.B) {
				for b.Loop() {
					if err := translate([]string{"--backend", backend, "-o", format, "-f", in}, nil, io.Discard, io.Discard); err != nil && err != errInvalid {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
