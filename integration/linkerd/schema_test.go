package linkerd_test

import "testing"

// TestEveryTranslatedObjectPassesLinkerdSchemas submits every object of the
// translator's golden files (adapters/linkerd/testdata/*.out.yaml) to the real
// apiserver with Linkerd's CRDs (server-side dry run): Linkerd's schemas must
// accept all of them.
func TestEveryTranslatedObjectPassesLinkerdSchemas(t *testing.T) {
	n := env.DryRunGoldens(t, "adapters/linkerd/testdata/*.out.yaml")
	if n < 10 {
		t.Fatalf("only %d objects", n)
	}
	t.Logf("%d objects accepted", n)
}
