package testutil

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smi-adapter/smi-adapter/core/metrics"
)

// TelemetryGolden writes how a mesh's telemetry answers every kind of the
// Traffic Metrics API, with the PromQL of one resource, to a golden file.
func TelemetryGolden(t *testing.T, path string, tel metrics.Telemetry) {
	t.Helper()
	if err := tel.Validate(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s telemetry: how each kind of metrics.smi-spec.io is answered (golden; -update)\n", tel.Mesh)
	for _, k := range metrics.AllKinds {
		how, qs := metrics.Explain(tel, k, "ns", "name", 30*time.Second)
		if how == "" {
			how = "not available"
		}
		fmt.Fprintf(&b, "\n%s: %s\n", k, how)
		for _, e := range metrics.ExplainEdges(tel, k) {
			fmt.Fprintf(&b, "  edges %s\n", e)
		}
		for _, q := range qs {
			fmt.Fprintf(&b, "  %s\n", q)
		}
	}
	Golden(t, path, []byte(b.String()))
}
