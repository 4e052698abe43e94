package harness

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// PrometheusVersion is the Prometheus the harness runs: built from source
// (module github.com/prometheus/prometheus v0.316.0) by `make tools`.
const PrometheusVersion = "3.16.0"

// Prometheus is a real Prometheus server on 127.0.0.1, loaded with fixed
// data: OpenMetrics text with timestamps, turned into TSDB blocks by
// promtool. Query it at an explicit time.
type Prometheus struct {
	URL  string // http://127.0.0.1:port
	dir  string
	args []string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

// prometheusBinaries finds prometheus and promtool in $SMI_ADAPTER_PROMETHEUS
// (a folder), else in bin/prometheus-<version>/ of the repository. Missing is
// an error that says how to build them.
func prometheusBinaries() (prom, promtool string, err error) {
	dir := os.Getenv("SMI_ADAPTER_PROMETHEUS")
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", "", err
		}
		dir = filepath.Join(root, "bin", "prometheus-"+PrometheusVersion)
	}
	prom, promtool = filepath.Join(dir, "prometheus"), filepath.Join(dir, "promtool")
	for _, p := range []string{prom, promtool} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("%s missing: run `make tools` (builds Prometheus %s from source): %w", p, PrometheusVersion, err)
		}
	}
	return prom, promtool, nil
}

// StartPrometheus writes the OpenMetrics data into blocks in a fresh storage
// directory under dir and starts Prometheus on it.
func StartPrometheus(dir string, openMetrics []byte) (*Prometheus, error) {
	prom, promtool, err := prometheusBinaries()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data.om")
	if err := os.WriteFile(data, openMetrics, 0o600); err != nil {
		return nil, err
	}
	storage := filepath.Join(dir, "tsdb")
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", data, storage).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("promtool: %w\n%s", err, out)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("scrape_configs: []\n"), 0o600); err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	p := &Prometheus{URL: "http://" + addr, dir: dir, args: []string{
		"--config.file=" + cfg, "--storage.tsdb.path=" + storage, "--web.listen-address=" + addr,
		"--storage.tsdb.retention.time=100y", // the data has fixed, old timestamps
	}}
	p.log = &bytes.Buffer{}
	return p, p.start(prom)
}

func (p *Prometheus) start(bin string) error {
	if bin == "" {
		var err error
		if bin, _, err = prometheusBinaries(); err != nil {
			return err
		}
	}
	p.log.Reset()
	var err error
	if p.cmd, err = StartProcess(bin, p.args, nil, p.log); err != nil {
		return err
	}
	if waitFor(30*time.Second, func() bool {
		resp, err := http.Get(p.URL + "/-/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		return nil
	}
	_ = p.Stop()
	return fmt.Errorf("prometheus not ready within 30s:\n%s", p.log.String())
}

// Stop stops the server (the data stays for Start).
func (p *Prometheus) Stop() error {
	if p == nil {
		return nil
	}
	StopProcess(p.cmd, 15*time.Second)
	p.cmd = nil
	return nil
}

// Start starts a stopped server again on the same address and data.
func (p *Prometheus) Start() error { return p.start("") }
