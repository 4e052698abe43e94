// Package istiovalidate runs every Istio object in smi-adapter's Istio golden
// files (adapters/istio/testdata/*.out.yaml: exactly what the translator
// writes) through Istio's own semantic validation, the code istiod's webhook
// runs. The CRD schemas and CEL rules are checked separately, on a real
// apiserver, by integration/istio.
//
// The same objects also go through istiod's config generation (istiod_test.go):
// every conformance scenario is decided on the Envoy configuration istiod
// generates for the sidecars involved, judged by envoyjudge.
package istiovalidate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/validation"
	"sigs.k8s.io/yaml"
)

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec json.RawMessage `json:"spec"`
}

func validate(t *testing.T, o object) (validation.Warning, error) {
	t.Helper()
	var (
		spec proto.Message
		kind config.GroupVersionKind
		fn   validation.ValidateFunc
	)
	switch o.Kind {
	case "VirtualService":
		spec, kind, fn = &networking.VirtualService{}, gvk.VirtualService, validation.ValidateVirtualService
	case "AuthorizationPolicy":
		spec, kind, fn = &security.AuthorizationPolicy{}, gvk.AuthorizationPolicy, validation.ValidateAuthorizationPolicy
	default:
		t.Fatalf("unexpected kind %s", o.Kind)
	}
	raw := o.Spec
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(raw, spec); err != nil {
		t.Fatalf("%s %s: Istio's API does not decode it: %v", o.Kind, o.Metadata.Name, err)
	}
	return fn(config.Config{
		Meta: config.Meta{GroupVersionKind: kind, Name: o.Metadata.Name, Namespace: o.Metadata.Namespace},
		Spec: spec,
	})
}

func objects(t *testing.T, path string) []object {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []object
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		doc = bytes.TrimPrefix(doc, []byte("---\n"))
		if len(bytes.TrimSpace(doc)) == 0 || bytes.Contains(doc, []byte("\nproblems:")) || bytes.HasPrefix(doc, []byte("problems:")) || bytes.HasPrefix(doc, []byte("#")) && bytes.Contains(doc, []byte("problems:")) {
			continue
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		var o object
		if err := json.Unmarshal(j, &o); err != nil {
			t.Fatal(err)
		}
		if o.Kind != "" {
			out = append(out, o)
		}
	}
	return out
}

// TestWhatTheTranslatorWritesIsValidIstio: every object of every golden
// file passes Istio's validation with no error (warnings are logged).
func TestWhatTheTranslatorWritesIsValidIstio(t *testing.T) {
	files, _ := filepath.Glob("../../adapters/istio/testdata/*.out.yaml")
	if len(files) == 0 {
		t.Fatal("no golden files found in adapters/istio/testdata")
	}
	n := 0
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".out.yaml"), func(t *testing.T) {
			for _, o := range objects(t, f) {
				n++
				warn, err := validate(t, o)
				if err != nil {
					t.Errorf("%s %s/%s: Istio rejects it: %v", o.Kind, o.Metadata.Namespace, o.Metadata.Name, err)
				}
				if warn != nil {
					t.Logf("%s %s/%s: Istio warns: %v", o.Kind, o.Metadata.Namespace, o.Metadata.Name, warn)
				}
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d objects validated", n)
	}
}

// TestValidationBites: the same path rejects a broken object, so a pass above means something.
func TestValidationBites(t *testing.T) {
	var o object
	o.Kind = "VirtualService"
	o.Metadata.Name, o.Metadata.Namespace = "bad", "default"
	o.Spec = []byte(`{"hosts":["web.default.svc.cluster.local"],"http":[{"route":[{"destination":{"host":"a"},"weight":-1}]}]}`)
	if _, err := validate(t, o); err == nil {
		t.Fatal("a negative weight passed Istio's validation")
	}
	o.Kind = "AuthorizationPolicy"
	o.Spec = []byte(`{"rules":[{"to":[{"operation":{"paths":["/a*b"]}}]}]}`)
	if _, err := validate(t, o); err == nil {
		t.Log("note: Istio accepts a path with an inner '*'; the translator never writes one")
	}
}
