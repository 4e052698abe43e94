package perf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// controllerProcess is `smi-adapter run` as its own process (as in a
// cluster), so its RSS and counters are the controller's alone.
type controllerProcess struct {
	cmd     *exec.Cmd
	metrics string // http://127.0.0.1:port/metrics
	pprof   string // http://127.0.0.1:port/debug/pprof
	log     *bytes.Buffer
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startController builds smi-adapter and runs it against env with the
// backend; the harness's own manager keeps serving the conversion webhook.
func startController(b *testing.B, env *harness.Env, backend string, extraArgs []string, extraEnv []string) *controllerProcess {
	root, err := harness.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "smi-adapter")
	build := exec.Command("go", "build", "-o", bin, "./cmd/smi-adapter")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build smi-adapter: %v\n%s", err, out)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := harness.WriteKubeconfig(env.Config, kubeconfig); err != nil {
		b.Fatal(err)
	}
	mport, pport := freePort(b), freePort(b)
	args := append([]string{"run", "--backend=" + backend, "--leader-elect=false", "--cert-mode=external",
		"--webhook-port=" + strconv.Itoa(freePort(b)), "--webhook-cert-dir=" + env.Env.WebhookInstallOptions.LocalServingCertDir,
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(mport), "--health-probe-bind-address=0", "--metrics-api-port=0",
		"--pprof-bind-address=127.0.0.1:" + strconv.Itoa(pport)}, extraArgs...)
	p := &controllerProcess{metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport), pprof: fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", pport), log: &bytes.Buffer{}}
	procEnv := append(append(os.Environ(), "KUBECONFIG="+kubeconfig), extraEnv...)
	if p.cmd, err = harness.StartProcess(bin, args, procEnv, p.log); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := p.counter("smi_adapter_reconcile_total"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			p.stop()
			b.Fatalf("smi-adapter did not serve metrics within 60s:\n%s", p.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// counter sums a counter's samples from the process's /metrics.
func (p *controllerProcess) counter(name string) (float64, error) {
	resp, err := http.Get(p.metrics)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

func (p *controllerProcess) mustCounter(b *testing.B, name string) float64 {
	v, err := p.counter(name)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// peakRSS is the process's peak resident set (VmHWM), in MB.
func (p *controllerProcess) peakRSS() float64 {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func (p *controllerProcess) stop() { harness.StopProcess(p.cmd, 15*time.Second) }

// saveProfiles writes the process's heap (and allocation) profile into
// $SMI_PERF_PROFILES, when set, named after the run: for `go tool pprof`.
func (p *controllerProcess) saveProfiles(b *testing.B, name string) {
	dir := os.Getenv("SMI_PERF_PROFILES")
	if dir == "" {
		return
	}
	resp, err := http.Get(p.pprof + "/heap?gc=1")
	if err != nil {
		b.Logf("heap profile: %v", err)
		return
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".heap.pb.gz"), raw, 0o644)
	}
	if err != nil {
		b.Logf("heap profile: %v", err)
	}
}
