package perf

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// controllerProcess is `smi-adapter run` as its own process (as in a
// cluster), so its RSS and counters are the controller's alone.
type controllerProcess struct {
	cmd     *exec.Cmd
	metrics string // http://127.0.0.1:port/metrics
	pprof   string // http://127.0.0.1:port/debug/pprof
	log     *syncBuffer
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// buildController builds smi-adapter once per benchmark process.
func buildController(b *testing.B) string {
	buildOnce.Do(func() {
		root, err := harness.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "smi-adapter-perf")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "smi-adapter")
		cmd := exec.Command("go", "build", "-o", built, "./cmd/smi-adapter")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build smi-adapter: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return built
}

// startController runs smi-adapter (bin) against env with the backend and
// waits until it serves its metrics; the harness's own manager keeps serving
// the conversion webhook.
func startController(b *testing.B, bin string, env *harness.Env, backend string, extraArgs []string, extraEnv []string) *controllerProcess {
	dir := b.TempDir()
	var err error
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := harness.WriteKubeconfig(env.Config, kubeconfig); err != nil {
		b.Fatal(err)
	}
	mport, pport := freePort(b), freePort(b)
	args := append([]string{"run", "--backend=" + backend, "--leader-elect=false", "--cert-mode=external",
		"--webhook-port=" + strconv.Itoa(freePort(b)), "--webhook-cert-dir=" + env.Env.WebhookInstallOptions.LocalServingCertDir,
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(mport), "--health-probe-bind-address=0", "--metrics-api-port=0",
		"--pprof-bind-address=127.0.0.1:" + strconv.Itoa(pport), "--zap-time-encoding=rfc3339nano"}, extraArgs...)
	p := &controllerProcess{metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport), pprof: fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", pport), log: &syncBuffer{}}
	procEnv := append(append(os.Environ(), "KUBECONFIG="+kubeconfig), extraEnv...)
	if p.cmd, err = harness.StartProcess(bin, args, procEnv, p.log); err != nil {
		b.Fatal(err)
	}
	// Ready: its caches are synced and the workers run (a live run measures
	// a running controller; a cold start is timed from before this).
	// Its caches list everything first: at 50,000 SMI objects (and 125,000
	// Services and pods) that alone took more than a minute.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		if _, err := p.counter("smi_adapter_reconcile_total"); err == nil && bytes.Contains(p.log.Bytes(), []byte(`"Starting workers"`)) {
			break
		}
		if time.Now().After(deadline) {
			p.stop()
			b.Fatalf("smi-adapter did not start its workers within 10 min:\n%s", p.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// firstLog is the time of the first line the controller logged with msg.
func (p *controllerProcess) firstLog(msg string) (time.Time, bool) {
	for line := range bytes.Lines(p.log.Bytes()) {
		var l struct {
			Msg string    `json:"msg"`
			TS  time.Time `json:"ts"`
		}
		if json.Unmarshal(line, &l) == nil && l.Msg == msg {
			return l.TS, true
		}
	}
	return time.Time{}, false
}

// syncBuffer is a bytes.Buffer the process writes to while the benchmark reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of what was written so far.
func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

// counter sums a counter's samples from the process's /metrics.
func (p *controllerProcess) counter(name string) (float64, error) { return p.counterWhere(name, "") }

// counterWhere sums the samples of a counter whose labels contain label
// (e.g. `op="create"`).
func (p *controllerProcess) counterWhere(name, label string) (float64, error) {
	req, err := http.NewRequest(http.MethodGet, p.metrics, nil)
	if err != nil {
		return 0, err
	}
	// Uncompressed: the scrape should cost the measured process little
	// (gzip was 5% of its CPU at ten scrapes a second).
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') || !strings.Contains(line, label) {
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

// rssParts is the process's resident memory now, in MB: anonymous (heap,
// stacks) and file-backed (mostly the binary's own pages).
func (p *controllerProcess) rssParts() (anon, file float64) {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "RssAnon:":
			anon = kb / 1024
		case "RssFile:":
			file = kb / 1024
		}
	}
	return anon, file
}

func (p *controllerProcess) stop() { harness.StopProcess(p.cmd, 15*time.Second) }

// profileCPU records the process's CPU profile for d into
// $SMI_PERF_PROFILES/<name>.cpu.pb.gz, in the background, when set.
// profileSeconds is how long CPU profiles run: 5 s from the start of the
// window, or $SMI_PERF_PROFILE_SECONDS (a profile still running when the
// window ends is lost).
func profileSeconds() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("SMI_PERF_PROFILE_SECONDS")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 5 * time.Second
}

func (p *controllerProcess) profileCPU(name string, d time.Duration) { profileURL(p.pprof, name, d) }

// saveProfiles writes the process's heap (and allocation) profile into
// $SMI_PERF_PROFILES, when set, named after the run: for `go tool pprof`.
func (p *controllerProcess) saveProfiles(b *testing.B, name string) {
	dir := os.Getenv("SMI_PERF_PROFILES")
	if dir == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".log"), p.log.Bytes(), 0o644); err != nil {
		b.Logf("controller log: %v", err)
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

// cpuSeconds is the CPU time (user + system) a process has used so far.
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) in parentheses.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// children finds the processes this one started with the given command
// name (envtest's kube-apiserver and etcd).
func children(comm string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		open, close := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
		if open < 0 || close < open || string(raw[open+1:close]) != comm {
			continue
		}
		f := strings.Fields(string(raw[close+2:]))
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			out = append(out, pid)
		}
	}
	return out
}

// cpuMeter reads the CPU time of the control plane's processes, the
// controller's and this process's (the conversion webhook and the client).
type cpuMeter struct{ apiserver, etcd, controller, agent int }

type cpuUse struct{ apiserver, etcd, controller, bench, agent float64 }

func newCPUMeter(ctrl *controllerProcess) cpuMeter {
	m := cpuMeter{}
	if p := children("kube-apiserver"); len(p) == 1 {
		m.apiserver = p[0]
	}
	if p := children("etcd"); len(p) == 1 {
		m.etcd = p[0]
	}
	if ctrl != nil {
		m.controller = ctrl.cmd.Process.Pid
	}
	return m
}

func (m cpuMeter) read() cpuUse {
	u := cpuUse{bench: cpuSeconds(os.Getpid())}
	if m.apiserver > 0 {
		u.apiserver = cpuSeconds(m.apiserver)
	}
	if m.etcd > 0 {
		u.etcd = cpuSeconds(m.etcd)
	}
	if m.controller > 0 {
		u.controller = cpuSeconds(m.controller)
	}
	if m.agent > 0 {
		u.agent = cpuSeconds(m.agent)
	}
	return u
}

func (u cpuUse) minus(v cpuUse) cpuUse {
	return cpuUse{u.apiserver - v.apiserver, u.etcd - v.etcd, u.controller - v.controller, u.bench - v.bench, u.agent - v.agent}
}

// profileAPIServer records kube-apiserver's CPU profile for d into
// $SMI_PERF_PROFILES/<name>.apiserver.cpu.pb.gz, in the background, when set.
func profileAPIServer(env *harness.Env, name string, d time.Duration) {
	dir := os.Getenv("SMI_PERF_PROFILES")
	if dir == "" {
		return
	}
	go func() {
		out := filepath.Join(dir, name+".apiserver.cpu.pb.gz")
		rc, err := rest.RESTClientFor(withNegotiatedSerializer(env.Config))
		if err != nil {
			_ = os.WriteFile(out+".error", []byte(err.Error()), 0o644)
			return
		}
		raw, err := rc.Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(int(d.Seconds()))).Timeout(d + 30*time.Second).DoRaw(context.Background())
		if err != nil {
			_ = os.WriteFile(out+".error", []byte(err.Error()), 0o644)
			return
		}
		_ = os.WriteFile(out, raw, 0o644)
	}()
}

func withNegotiatedSerializer(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	if c.GroupVersion == nil {
		c.GroupVersion = &schema.GroupVersion{Version: "v1"}
	}
	return c
}

// profileURL records the CPU profile a pprof endpoint serves (base is
// e.g. http://127.0.0.1:8500/debug/pprof) for d into
// $SMI_PERF_PROFILES/<name>.cpu.pb.gz, in the background, when set.
func profileURL(base, name string, d time.Duration) {
	dir := os.Getenv("SMI_PERF_PROFILES")
	if dir == "" {
		return
	}
	go func() {
		out := filepath.Join(dir, name+".cpu.pb.gz")
		resp, err := http.Get(fmt.Sprintf("%s/profile?seconds=%d", base, int(d.Seconds())))
		if err != nil {
			_ = os.WriteFile(out+".error", []byte(err.Error()), 0o644)
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			_ = os.WriteFile(out+".error", append([]byte(resp.Status+"\n"), raw...), 0o644)
			return
		}
		_ = os.WriteFile(out, raw, 0o644)
	}()
}
