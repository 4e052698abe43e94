package main

import (
	"os"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/storagemigration"
)

// TestTroubleshootingListsEveryReason: every condition reason the code sets
// has a row in docs/troubleshooting.md.
func TestTroubleshootingListsEveryReason(t *testing.T) {
	b, err := os.ReadFile("../../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range []string{model.ReasonAccepted, model.ReasonInvalid, model.ReasonRefNotFound, model.ReasonConflict,
		model.ReasonCrossNamespace, model.ReasonNoTraffic, model.ReasonPortMismatch, model.ReasonNotExact,
		istio.ReasonUnsupportedMatch, istio.ReasonSelectorNotExact, istio.ReasonInvalidHint, istio.ReasonHTTPRuleOnTCP,
		linkerd.ReasonUnsupportedMatch, linkerd.ReasonSelectorNotExact, linkerd.ReasonNoPorts,
		linkerd.ReasonWeightsApproximated, linkerd.ReasonProbeOpen, istio.ReasonWeightsApproximated, model.ReasonUnsupportedMatch,
		consul.ReasonUnsupportedMatch, consul.ReasonCollision, consul.ReasonConflict, kubesink.ReasonConflict,
		model.ReasonNotAccepted, storagemigration.ReasonFailed, "BackendError", "Programmed"} {
		if !strings.Contains(doc, "| `"+r+"` |") {
			t.Errorf("docs/troubleshooting.md has no row for reason %s", r)
		}
	}
}
