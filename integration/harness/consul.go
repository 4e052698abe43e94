package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	capi "github.com/hashicorp/consul/api"
)

// ConsulVersion is the agent the harness runs (built by `make tools`).
const ConsulVersion = "1.22.3"

// ConsulBinary finds the agent: $SMI_ADAPTER_CONSUL, else bin/ of the
// repository. Missing is an error that says how to build it.
func ConsulBinary() (string, error) {
	path := os.Getenv("SMI_ADAPTER_CONSUL")
	if path == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		path = filepath.Join(root, "bin", "consul-"+ConsulVersion, "consul")
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("consul agent missing at %s: run `make tools` (builds Consul %s from source): %w", path, ConsulVersion, err)
	}
	return path, nil
}

// Consul is a real `consul agent -dev` on 127.0.0.1 with free ports.
type Consul struct {
	Addr string // host:port of the HTTP API
	// GRPCAddr is host:port of the agent's plaintext gRPC port, which serves
	// xDS (the ADS stream an Envoy sidecar opens) among other services.
	GRPCAddr string
	Client   *capi.Client
	args     []string
	bin      string
	cmd      *exec.Cmd
	log      *bytes.Buffer
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// StartConsul starts the agent and waits until it has a leader.
func StartConsul() (*Consul, error) { return StartConsulWith("", "") }

// StartConsulWith starts an agent with extra HCL configuration (e.g. ACLs)
// and a token for the harness's own client.
func StartConsulWith(hcl, token string) (*Consul, error) {
	bin, err := ConsulBinary()
	if err != nil {
		return nil, err
	}
	p, err := freePorts(7)
	if err != nil {
		return nil, err
	}
	c := &Consul{bin: bin, Addr: "127.0.0.1:" + strconv.Itoa(p[0]), GRPCAddr: "127.0.0.1:" + strconv.Itoa(p[2])}
	c.args = []string{"agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", strconv.Itoa(p[0]), "-dns-port", strconv.Itoa(p[1]), "-grpc-port", strconv.Itoa(p[2]),
		"-serf-lan-port", strconv.Itoa(p[3]), "-serf-wan-port", strconv.Itoa(p[4]), "-server-port", strconv.Itoa(p[5]),
		"-hcl", fmt.Sprintf("ports { grpc_tls = %d }", p[6])}
	if hcl != "" {
		c.args = append(c.args, "-hcl", hcl)
	}
	cfg := capi.DefaultConfig()
	cfg.Address = c.Addr
	cfg.Token = token
	if c.Client, err = capi.NewClient(cfg); err != nil {
		return nil, err
	}
	return c, c.start()
}

func (c *Consul) start() error {
	c.log = &bytes.Buffer{}
	var err error
	if c.cmd, err = StartProcess(c.bin, c.args, nil, c.log); err != nil {
		return err
	}
	if !waitFor(30*time.Second, func() bool {
		leader, err := c.Client.Status().Leader()
		return err == nil && leader != ""
	}) {
		_ = c.Stop()
		return fmt.Errorf("consul did not elect a leader within 30s:\n%s", c.log.String())
	}
	// A new agent first migrates legacy intentions to config entries and
	// refuses service-intentions writes until it is done ("Intentions are
	// read only while being upgraded to config entries"): wait for a probe
	// entry to be written, then remove it.
	probe := &capi.ServiceIntentionsConfigEntry{Kind: capi.ServiceIntentions, Name: "smi-adapter-harness-probe",
		Sources: []*capi.SourceIntention{{Name: "*", Action: capi.IntentionActionDeny, Type: capi.IntentionSourceConsul}}}
	var werr error
	if !waitFor(30*time.Second, func() bool {
		_, _, werr = c.Client.ConfigEntries().Set(probe, nil)
		return werr == nil
	}) {
		_ = c.Stop()
		return fmt.Errorf("consul refused service-intentions writes for 30s (%v):\n%s", werr, c.log.String())
	}
	if _, err := c.Client.ConfigEntries().Delete(capi.ServiceIntentions, probe.Name, nil); err != nil {
		_ = c.Stop()
		return fmt.Errorf("consul: remove the readiness probe: %w", err)
	}
	return nil
}

// Stop stops the agent (its state, in -dev mode, is in memory and gone).
func (c *Consul) Stop() error {
	if c == nil {
		return nil
	}
	StopProcess(c.cmd, 10*time.Second)
	c.cmd = nil
	return nil
}

// Pid is the agent process's id (0 when stopped).
func (c *Consul) Pid() int {
	if c == nil || c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Restart stops and starts the agent on the same ports (a -dev agent
// forgets everything: what smi-adapter wrote must come back by itself).
func (c *Consul) Restart() error {
	if err := c.Stop(); err != nil {
		return err
	}
	if c.bin == "" {
		return errors.New("not started")
	}
	return c.start()
}

// StartProcess starts bin in its own process group (so StopProcess reaches
// its children) that dies with the test process, output to out; env nil
// inherits the test's environment.
func StartProcess(bin string, args, env []string, out io.Writer) (*exec.Cmd, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL} // gone with a crashed test
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	return cmd, nil
}

// waitFor polls ready every 100ms until it is true or timeout passes.
func waitFor(timeout time.Duration, ready func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ready() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// StopProcess stops a process started in its own process group: SIGTERM to
// the group, SIGKILL after grace. A nil or unstarted command is a no-op.
func StopProcess(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
