package consul_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/worlds"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestConsulGeneratedWorlds: generated SMI worlds and their edit sequences
// (the corpus of FuzzWorlds first, then SMI_ADAPTER_WORLDS seeds, default
// 15) on the real agent: every step is written over the previous step's
// entries (as the controller writes edits), and decided on the Envoy
// configuration the agent generates, with the second opinion.
func TestConsulGeneratedWorlds(t *testing.T) {
	seeds, err := worlds.Corpus("../conformance/testdata/fuzz/FuzzWorlds")
	if err != nil {
		t.Fatal(err)
	}
	n := 15
	if s := os.Getenv("SMI_ADAPTER_WORLDS"); s != "" {
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		seeds = append(seeds, uint64(i+1))
	}
	own, err := harness.StartConsul()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	opts := consul.Options{DefaultAccess: "deny"}
	start := time.Now()
	var st worlds.Stats
	closed := 0
	for _, seed := range seeds {
		steps, err := worlds.Generate(seed, worlds.Default)
		if err != nil {
			t.Fatal(err)
		}
		st.Add(steps)
		j := &consulJudge{c: own.Client, opts: opts, scenarios: steps, incremental: true}
		if j.backend, err = consul.New(backend.Options{Settings: map[string]string{"address": own.Addr, "default-access": "deny"},
			Enqueue: func(k model.Key) { j.requeue(k) }}); err != nil {
			t.Fatal(err)
		}
		for _, sc := range steps {
			objs, err := sc.Decode()
			if err != nil {
				t.Fatal(err)
			}
			j.decoded = append(j.decoded, objs)
		}
		if err := clearEntries(own.Client); err != nil {
			t.Fatal(err)
		}
		if j.envoy, err = newEnvoyView(own.Client, own.GRPCAddr, opts); err != nil {
			t.Fatal(err)
		}
		for _, r := range conformance.RunScenarios(t, j, steps, "") {
			closed += r.FailedClosed
		}
		for _, d := range j.disagreements {
			t.Errorf("the second opinion disagrees: %s", d)
		}
		if err := j.envoy.reset(); err != nil {
			t.Error(err)
		}
		j.envoy.Close()
	}
	t.Logf("%s; %d failed closed with a diagnostic on their rule; in %s", st, closed, time.Since(start).Round(time.Millisecond))
}
