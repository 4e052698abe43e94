package istiovalidate

import (
	"testing"
	"time"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/envoyjudge"
	"github.com/smi-adapter/smi-adapter/integration/conformance/istiojudge"
)

// TestIstiodAccessNeverWider replays FuzzAccessNeverWider's seeds and
// corpus, and a fixed-seed batch of random inputs, through istiod: a request
// SMI denies (the model judge) must be denied by the RBAC istiod generates.
// Where envoyjudge cannot decide a request (a path Envoy's normalization
// could change, ...) the input is counted and skipped, never guessed;
// istiojudge's verdict is compared too, as in TestIstiodXDSConformance.
func TestIstiodAccessNeverWider(t *testing.T) {
	start := time.Now()
	inputs, seeds, err := conformance.ReplayInputs("../conformance/testdata/fuzz/FuzzAccessNeverWider", 200, 16)
	if err != nil {
		t.Fatal(err)
	}
	j := &istiodJudge{t: t, Options: istio.Options{DefaultAccess: "deny"}}
	defer j.Close()
	second := &istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}}
	undecidable := func(err error) bool {
		if envoyjudge.Undecidable(err) {
			t.Logf("envoyjudge does not decide it: %v", err)
			return true
		}
		return false
	}
	res, err := conformance.ReplayAccess(inputs, j, second, undecidable)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d inputs (%d seeds and corpus files, 200 random), %d skipped as FuzzAccessNeverWider skips them; %d requests decided by istiod's RBAC (%d allowed), %d not decidable by envoyjudge; %s",
		res.Inputs, seeds, res.Skipped, res.Decided, res.Allowed, res.Undecided, time.Since(start).Round(time.Millisecond))
	for _, f := range res.Failures(300) {
		t.Error(f)
	}
}
