package istiovalidate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
	corpus, err := conformance.AccessCorpus("../conformance/testdata/fuzz/FuzzAccessNeverWider")
	if err != nil {
		t.Fatal(err)
	}
	seeds := append(slices.Clone(conformance.AccessSeeds), corpus...)
	inputs := append(seeds, conformance.RandomAccessInputs(200, 16)...)
	j := &istiodJudge{t: t, Options: istio.Options{DefaultAccess: "deny"}}
	defer j.Close()
	second := &istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}}
	var decided, allowed, skippedInput, undecided int
	var disagree []string
	for i, in := range inputs {
		what := fmt.Sprintf("input %d (route pathRegex=%q methods=[%q] headers %q=%q)", i, in.PathRegex, in.Method, in.Header, in.HeaderRegex)
		if !in.Carried() {
			skippedInput++
			continue
		}
		sc, reqs, err := in.Scenario()
		if err != nil {
			t.Fatal(err)
		}
		objs, err := sc.Decode()
		if err != nil {
			skippedInput++ // not decodable: rejected before anything is written
			continue
		}
		model := &conformance.ModelJudge{}
		if err := model.Load(objs); err != nil {
			t.Fatalf("%s: model: %v", what, err)
		}
		if err := j.Load(objs); err != nil {
			t.Fatalf("%s: istiod: %v", what, err)
		}
		if err := second.Load(objs); err != nil {
			t.Fatalf("%s: istiojudge: %v", what, err)
		}
		for _, r := range reqs {
			want, err := model.Allowed(r)
			if err != nil {
				t.Fatalf("%s: model: %s: %v", what, r, err)
			}
			got, err := j.Allowed(r)
			if errors.Is(err, envoyjudge.ErrUnsupported) || errors.Is(err, envoyjudge.ErrBadRequest) {
				undecided++
				t.Logf("%s: %s: envoyjudge does not decide it: %v", what, r, err)
				continue
			}
			if err != nil {
				t.Errorf("%s: %s: %v", what, r, err)
				continue
			}
			decided++
			if got {
				allowed++
			}
			if got && !want {
				t.Errorf("istiod's RBAC allows %s, which SMI denies; %s", r, what)
			}
			if sg, serr := second.Allowed(r); verdict(got, nil) != verdict(sg, serr) {
				disagree = append(disagree, fmt.Sprintf("%s: %s: istiod's config says %s, istiojudge says %s", what, r, verdict(got, nil), verdict(sg, serr)))
			}
		}
	}
	t.Logf("%d inputs (%d seeds and corpus files, 200 random), %d skipped as FuzzAccessNeverWider skips them; %d requests decided by istiod's RBAC (%d allowed), %d not decidable by envoyjudge; %s",
		len(inputs), len(seeds), skippedInput, decided, allowed, undecided, time.Since(start).Round(time.Millisecond))
	if decided < 300 {
		t.Errorf("only %d requests decided", decided)
	}
	if allowed == 0 {
		t.Error("no request allowed: the batch tests nothing but deny-by-default")
	}
	if len(disagree) > 0 {
		t.Errorf("istiod's configuration and istiojudge disagree on %d requests:\n  %s", len(disagree), strings.Join(disagree, "\n  "))
	}
}
