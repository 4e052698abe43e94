package istio_test

import (
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// TestMetricsGolden: the PromQL and labels the Traffic Metrics API uses for
// istio, per kind (testdata/metrics.golden; -update rewrites it).
func TestMetricsGolden(t *testing.T) {
	testutil.TelemetryGolden(t, "testdata/metrics.golden", istio.Telemetry())
}
