package metrics_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestPrometheusVersion: the metrics API is tested against the Prometheus
// people run today (3.x, built from source by make tools), not an older
// package that happens to be installed.
func TestPrometheusVersion(t *testing.T) {
	prom, err := harness.StartPrometheus(t.TempDir(), []byte("# TYPE up gauge\nup 1 1767225600\n# EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = prom.Stop() }()
	resp, err := http.Get(prom.URL + "/api/v1/status/buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var info struct {
		Status string `json:"status"`
		Data   struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if info.Status != "success" || info.Data.Version != harness.PrometheusVersion {
		t.Fatalf("buildinfo: status %q version %q, want Prometheus %s", info.Status, info.Data.Version, harness.PrometheusVersion)
	}
}
