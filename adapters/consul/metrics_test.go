package consul_test

import (
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// TestMetricsGolden: the PromQL and labels the Traffic Metrics API uses for
// consul, per kind (testdata/metrics.golden; -update rewrites it).
func TestMetricsGolden(t *testing.T) {
	testutil.TelemetryGolden(t, "testdata/metrics.golden", consul.Telemetry())
}
