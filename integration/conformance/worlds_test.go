package conformance_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/istiojudge"
	"github.com/smi-adapter/smi-adapter/integration/conformance/linkerdjudge"
	"github.com/smi-adapter/smi-adapter/integration/conformance/worlds"
)

// generatedWorlds is how many seeds TestGeneratedWorlds runs (each a world
// and its edits) beyond the fuzz corpus.
const generatedWorlds = 40

// worldSeeds are the seeds of the fuzz corpus (kept instances first) and
// then 1..n.
func worldSeeds(t testing.TB, n int) []uint64 {
	t.Helper()
	seeds, err := worlds.Corpus("testdata/fuzz/FuzzWorlds")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		seeds = append(seeds, uint64(i+1))
	}
	return seeds
}

// TestGeneratedWorlds: generated SMI worlds and their edit sequences,
// decided after every step by the reference (the worlds package's reading
// of SMI, not core's model) and judged by core's model, Istio's semantics
// and Linkerd's (splits by Linkerd's destination service): no judge allows
// what SMI denies, denies what SMI allows without a diagnostic on the rule,
// or splits other than SMI says.
func TestGeneratedWorlds(t *testing.T) {
	judges := []conformance.Judge{
		&conformance.ModelJudge{},
		&istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}},
		&linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Profiles: linkerdDestination(t)},
		&linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Profiles: linkerdDestination(t), Options: linkerd.Options{Splits: linkerd.SplitsHTTPRoute}},
	}
	var st worlds.Stats
	closed := make([]int, len(judges))
	for _, seed := range worldSeeds(t, generatedWorlds) {
		steps, err := worlds.Generate(seed, worlds.Default)
		if err != nil {
			t.Fatal(err)
		}
		st.Add(steps)
		for i, j := range judges {
			t.Run(fmt.Sprintf("%d/%s-%d", seed, j.Name(), i), func(t *testing.T) {
				for _, r := range conformance.RunScenarios(t, j, steps, "") {
					closed[i] += r.FailedClosed
				}
			})
		}
	}
	t.Logf("%s; decisions failed closed with a diagnostic on their rule: %v (model, istio, linkerd, linkerd httproute)", st, closed)
}

// FuzzWorlds: the same over any seed (its corpus in
// testdata/fuzz/FuzzWorlds: seeds that found bugs before their fixes), with
// core's model and istiojudge; the seeds (make test) also through
// linkerdjudge in both split modes, ServiceProfiles by Linkerd's
// destination service. The meshes' own runs
// (istiod, the Consul agent) replay the corpus and SMI_ADAPTER_WORLDS seeds.
func FuzzWorlds(f *testing.F) {
	for _, s := range []uint64{1, 2, 3} {
		f.Add(s)
	}
	judges := []conformance.Judge{
		&conformance.ModelJudge{},
		&istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}},
	}
	if !fuzzing() {
		// Seeds and corpus (make test): Linkerd too, its ServiceProfiles
		// (written in both split modes) decided by Linkerd's destination
		// service. Under -fuzz a control plane per worker stalled the
		// coordinator on 2 cores, and linkerdjudge refuses profiles without
		// it; make fuzz-ci fuzzes the model and istiojudge.
		judges = append(judges,
			&linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Profiles: lazyDestination{}},
			&linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Profiles: lazyDestination{}, Options: linkerd.Options{Splits: linkerd.SplitsHTTPRoute}})
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		steps, err := worlds.Generate(seed, worlds.Default)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range judges {
			conformance.RunScenarios(t, j, steps, "")
		}
	})
}

// fuzzing says whether this process runs under go test -fuzz (coordinator
// or worker) rather than replaying the seeds.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}
