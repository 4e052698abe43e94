package consul_test

import (
	"testing"
	"time"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/envoyjudge"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestConsulAccessNeverWider replays FuzzAccessNeverWider's seeds and
// corpus, and a fixed-seed batch of random inputs, through a real agent:
// the entries smi-adapter's Consul backend writes (default-access
// deny) must never make a sidecar allow a request SMI denies (the model
// judge), judged on the Envoy configuration the agent serves, as
// TestConsulJudge judges it (consulJudge), with its second opinion (the
// intentions read back) compared. Where envoyjudge cannot decide a request
// it is counted and logged, never guessed; inexpressible verdicts are
// counted and skipped.
//
// The agent is one of its own, as TestConsulJudge's: the judge clears every
// entry before each input, and TestMain's agent is shared with the
// controller, which keeps rewriting the entries of the earlier tests'
// objects (resync 1s) and so races the clearing (a router whose
// service-defaults was just deleted: "uses inconsistent protocols").
func TestConsulAccessNeverWider(t *testing.T) {
	start := time.Now()
	inputs, seeds, err := conformance.ReplayInputs("../conformance/testdata/fuzz/FuzzAccessNeverWider", 200, 16)
	if err != nil {
		t.Fatal(err)
	}

	own, err := harness.StartConsul()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	opts := consul.Options{DefaultAccess: "deny"}
	j := &consulJudge{c: own.Client, opts: opts}
	if j.envoy, err = newEnvoyView(own.Client, own.GRPCAddr, opts); err != nil {
		t.Fatal(err)
	}
	defer j.envoy.Close()
	// Every input uses the same services: their sidecars' first
	// configuration (and leaf certificates) once, up front.
	_, reqs, err := inputs[0].Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if err := j.envoy.warm([]conformance.Scenario{{Name: "warm-up", Access: reqs}}); err != nil {
		t.Fatal(err)
	}

	undecidable := func(err error) bool {
		if envoyjudge.Undecidable(err) {
			t.Logf("envoyjudge does not decide it: %v", err)
			return true
		}
		return false
	}
	// The second opinion (the intentions read back) runs inside the judge.
	res, err := conformance.ReplayAccess(inputs, j, nil, undecidable)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d inputs (%d seeds and corpus files, 200 random), %d skipped as FuzzAccessNeverWider skips them; %d requests decided on the agent's Envoy configuration (%d allowed), %d inexpressible, %d not decidable by envoyjudge; the second opinion checked %d; %s",
		res.Inputs, seeds, res.Skipped, res.Decided, res.Allowed, res.Inexpressible, res.Undecided, j.secondAccess, time.Since(start).Round(time.Millisecond))
	res.Disagreements = append(res.Disagreements, j.disagreements...)
	for _, f := range res.Failures(300) {
		t.Error(f)
	}
}
