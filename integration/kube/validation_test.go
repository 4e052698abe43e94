package kube_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

func fromYAML(t *testing.T, ns, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	return u
}

// TestSchemaRejectsInvalid: what the spec makes clear is enforced by the
// apiserver itself, with the field path in the error.
func TestSchemaRejectsInvalid(t *testing.T) {
	ns := namespace(t)
	for _, tc := range []struct {
		name, doc, wantInError string
	}{
		{"unknown-method", `
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: bad-method}
spec: {matches: [{name: m, methods: [FETCH]}]}`, "spec.matches[0].methods[0]"},
		{"negative-weight", `
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: negative}
spec: {service: web, backends: [{service: a, weight: -1}]}`, "spec.backends[0].weight"},
		{"negative-quantity-weight", `
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: negative-q}
spec: {service: web, backends: [{service: a, weight: "-500m"}]}`, "negative"},
		{"port-zero", `
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: port-zero}
spec: {matches: {ports: [0]}}`, "spec.matches.ports[0]"},
		{"port-too-big", `
apiVersion: access.smi-spec.io/v1alpha2
kind: TrafficTarget
metadata: {name: port-big}
spec:
  destination: {kind: ServiceAccount, name: api, port: 70000}
  rules: [{kind: TCPRoute, name: tcp}]
  sources: [{kind: ServiceAccount, name: web}]`, "spec.destination.port"},
		{"missing-root-service", `
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: no-service}
spec: {backends: [{service: a, weight: 1}]}`, "spec.service"},
		{"no-backends", `
apiVersion: split.smi-spec.io/v1alpha3
kind: TrafficSplit
metadata: {name: no-backends}
spec: {service: web, backends: []}`, "spec.backends"},
		{"identity-kind", `
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: group-kind}
spec:
  destination: {kind: Group, name: api}
  rules: [{kind: TCPRoute, name: tcp}]
  sources: [{kind: ServiceAccount, name: web}]`, "spec.destination.kind"},
		{"rule-kind", `
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: rule-kind}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules: [{kind: Ingress, name: tcp}]
  sources: [{kind: ServiceAccount, name: web}]`, "spec.rules[0].kind"},
		// Huge objects: bounded by the schema, refused whole, nothing else affected.
		{"too-many-matches", hugeRouteGroup(257), "spec.matches"},
		{"huge-path-regex", `
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: huge-regex}
spec: {matches: [{name: m, pathRegex: "/` + strings.Repeat("a", 1100) + `"}]}`, "spec.matches[0].pathRegex"},
		{"too-many-backends", hugeSplit(65), "spec.backends"},
		{"weight-overflow", `
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: overflow}
spec: {service: web, backends: [{service: a, weight: 2147483648}]}`, "spec.backends[0].weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := env.Client.Create(context.Background(), fromYAML(t, ns, tc.doc))
			if err == nil {
				t.Fatal("the apiserver accepted an invalid object")
			}
			if !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("error does not name %q: %v", tc.wantInError, err)
			}
			if !apierrors.IsInvalid(err) && !strings.Contains(err.Error(), "conversion webhook") {
				t.Logf("note: rejected as %v", apierrors.ReasonForError(err))
			}
		})
	}
}

func hugeRouteGroup(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: huge}\nspec:\n  matches:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: m%d, pathRegex: /p%d}\n", i, i)
	}
	return b.String()
}

func hugeSplit(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: huge}\nspec:\n  service: web\n  backends:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {service: b%d, weight: 1}\n", i)
	}
	return b.String()
}

// TestCRDsDeclareWebhookConversion: what `kubectl apply -f crds/` installs
// serves every version, stores the hub and converts through the webhook.
func TestCRDsDeclareWebhookConversion(t *testing.T) {
	hubs := map[string]string{
		"traffictargets.access.smi-spec.io": "v1alpha3", "httproutegroups.specs.smi-spec.io": "v1alpha4",
		"tcproutes.specs.smi-spec.io": "v1alpha4", "udproutes.specs.smi-spec.io": "v1alpha4",
		"trafficsplits.split.smi-spec.io": "v1alpha4",
	}
	for name, hub := range hubs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &crd); err != nil {
			t.Fatal(err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				t.Errorf("%s %s is not served", name, v.Name)
			}
			if v.Storage != (v.Name == hub) {
				t.Errorf("%s: storage version is not the hub %s", name, hub)
			}
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Errorf("%s %s has no status subresource", name, v.Name)
			}
		}
		if len(crd.Spec.Versions) > 1 && (crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.WebhookConverter) {
			t.Errorf("%s does not convert through the webhook", name)
		}
	}
}

// TestKubectlApplyCRDs applies crds/ with the real kubectl to a fresh test
// apiserver, as a user would, and lists TrafficSplits with the printer columns.
func TestKubectlApplyCRDs(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bare, err := harness.StartBare()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bare.Stop() }()
	kubectl := bare.ControlPlane.KubeCtl()
	stdout, stderr, err := kubectl.Run("apply", "-f", filepath.Join(root, "crds"))
	if err != nil {
		b, _ := readAll(stderr)
		t.Fatalf("kubectl apply -f crds/: %v\n%s", err, b)
	}
	out, _ := readAll(stdout)
	for _, crd := range []string{"traffictargets.access.smi-spec.io", "trafficsplits.split.smi-spec.io", "httproutegroups.specs.smi-spec.io", "tcproutes.specs.smi-spec.io", "udproutes.specs.smi-spec.io"} {
		if !strings.Contains(out, crd) {
			t.Errorf("kubectl output does not mention %s:\n%s", crd, out)
		}
	}
	if _, stderr, err := kubectl.Run("wait", "--for=condition=Established", "--timeout=30s", "crd", "--all"); err != nil {
		b, _ := readAll(stderr)
		t.Fatalf("CRDs not established: %v\n%s", err, b)
	}
	if _, stderr, err := kubectl.Run("create", "namespace", "demo"); err != nil {
		b, _ := readAll(stderr)
		t.Fatal(b)
	}
	// The hub version needs no webhook: create one and list it.
	ts := filepath.Join(t.TempDir(), "ts.yaml")
	if err := os.WriteFile(ts, []byte("apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: web, namespace: demo}\nspec: {service: web, backends: [{service: web-v1, weight: 1}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := kubectl.Run("apply", "-f", ts); err != nil {
		b, _ := readAll(stderr)
		t.Fatal(b)
	}
	stdout, _, err = kubectl.Run("get", "trafficsplits.v1alpha4.split.smi-spec.io", "-A")
	if err != nil {
		t.Fatal(err)
	}
	out, _ = readAll(stdout)
	if !strings.Contains(out, "ACCEPTED") || !strings.Contains(out, "PROGRAMMED") {
		t.Errorf("printer columns missing:\n%s", out)
	}
}
