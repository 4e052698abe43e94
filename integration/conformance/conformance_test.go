package conformance_test

import (
	"testing"

	"github.com/smi-adapter/smi-adapter/integration/conformance"
)

// TestModelJudge runs every scenario against the model judge and keeps the
// report in reports/model.md (-update rewrites it).
func TestModelJudge(t *testing.T) {
	conformance.Run(t, &conformance.ModelJudge{}, "scenarios", "reports/model.md")
}

func TestScenarioCount(t *testing.T) {
	s, err := conformance.Load("scenarios")
	if err != nil {
		t.Fatal(err)
	}
	var access, split int
	for _, sc := range s {
		access += len(sc.Access)
		split += len(sc.Split)
	}
	if len(s) < 25 {
		t.Fatalf("only %d scenarios", len(s))
	}
	t.Logf("%d scenarios, %d access decisions, %d split decisions", len(s), access, split)
}
