package istiovalidate

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/istiojudge"
	"github.com/smi-adapter/smi-adapter/integration/conformance/worlds"
)

// worldsBudget is how many generated worlds TestIstiodGeneratedWorlds runs
// beyond the fuzz corpus: SMI_ADAPTER_WORLDS overrides it (make fuzz runs more).
func worldsBudget(t *testing.T, def int) int {
	if s := os.Getenv("SMI_ADAPTER_WORLDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("SMI_ADAPTER_WORLDS=%q: %v", s, err)
		}
		return n
	}
	return def
}

// TestIstiodGeneratedWorlds: generated SMI worlds and their edit sequences
// (integration/conformance/worlds; the corpus of FuzzWorlds first), every
// step decided on the Envoy configuration istiod generates from what
// smi-adapter writes for Istio, and compared with istiojudge: no request
// allowed that SMI denies, none denied that SMI allows without a
// diagnostic on its rule, every split SMI's.
func TestIstiodGeneratedWorlds(t *testing.T) {
	seeds, err := worlds.Corpus("../conformance/testdata/fuzz/FuzzWorlds")
	if err != nil {
		t.Fatal(err)
	}
	for i := range worldsBudget(t, 40) {
		seeds = append(seeds, uint64(i+1))
	}
	start := time.Now()
	var all []conformance.Scenario
	var st worlds.Stats
	for _, seed := range seeds {
		steps, err := worlds.Generate(seed, worlds.Default)
		if err != nil {
			t.Fatal(err)
		}
		st.Add(steps)
		all = append(all, steps...)
	}
	j := &secondOpinion{
		istiodJudge: &istiodJudge{t: t, Options: istio.Options{DefaultAccess: "deny"}},
		model:       &istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}},
		scenarios:   all,
		chains:      map[string]int{},
	}
	defer j.Close()
	closed := 0
	for _, r := range conformance.RunScenarios(t, j, all, "") {
		closed += r.FailedClosed
	}
	t.Logf("%s; %d decisions answered by istiod's configuration, %d failed closed with a diagnostic on their rule, in %s",
		st, j.decided, closed, time.Since(start).Round(time.Millisecond))
	if len(j.disagreements) > 0 {
		t.Errorf("istiod's configuration and istiojudge disagree on %d decisions:\n  %s", len(j.disagreements), strings.Join(j.disagreements, "\n  "))
	}
}
