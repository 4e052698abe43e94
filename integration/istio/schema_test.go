package istio_test

import "testing"

// TestEveryTranslatedObjectPassesIstioSchemas submits every object of the
// translator's golden files (adapters/istio/testdata/*.out.yaml) to the real
// apiserver with Istio's CRDs (server-side dry run): Istio's schemas must
// accept all of them.
func TestEveryTranslatedObjectPassesIstioSchemas(t *testing.T) {
	n := env.DryRunGoldens(t, "adapters/istio/testdata/*.out.yaml")
	if n < 10 {
		t.Fatalf("only %d objects", n)
	}
	t.Logf("%d objects accepted", n)
}
