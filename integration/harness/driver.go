package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"k8s.io/client-go/rest"
)

// FlaggerVersion is the Flagger whose own router code drives TrafficSplits
// in the tests, built by `make tools` into bin/flagger-<version>/.
const FlaggerVersion = "1.36.1"

// ArgoRolloutsVersion is the Argo Rollouts whose own SMI traffic router
// drives TrafficSplits in the tests, built by `make tools` into
// bin/argo-rollouts-<version>/.
const ArgoRolloutsVersion = "1.10.1"

// Driver is a process running another project's own code (Flagger's
// routers, Argo Rollouts' SMI router) against the test apiserver. Those
// projects build on older Kubernetes libraries than smi-adapter, so each
// driver is a module and a binary of its own: one JSON request per line on
// stdin, one JSON answer per line on stdout.
type Driver struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *lockedBuffer
	dir    string
}

// ToolDir finds the folder `make tools` built a driver into:
// $<envVar>, else bin/<name>-<version>/ of the repository. Missing is an
// error that says how to build it.
func ToolDir(envVar, name, version string) (string, error) {
	dir := os.Getenv(envVar)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin", name+"-"+version)
	}
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("%s missing: run `make tools` (builds %s %s's driver): %w", dir, name, version, err)
	}
	return dir, nil
}

// StartDriver runs binary with -kubeconfig pointing at cfg.
func StartDriver(binary string, cfg *rest.Config) (*Driver, error) {
	dir, err := os.MkdirTemp("", "smi-driver-")
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := WriteKubeconfig(cfg, kubeconfig); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	d := &Driver{dir: dir, stderr: &lockedBuffer{}}
	d.cmd = exec.Command(binary, "-kubeconfig", kubeconfig)
	d.cmd.Stderr = d.stderr
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	d.out = bufio.NewScanner(stdout)
	d.out.Buffer(make([]byte, 1<<20), 1<<24)
	if err := d.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	return d, nil
}

// Call sends req and decodes the answer into ans. The answer's "error"
// field, when set, is returned as the error.
func (d *Driver) Call(req, ans any) error {
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := d.in.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("driver: write request: %w (stderr: %s)", err, d.stderr.String())
	}
	if !d.out.Scan() {
		return fmt.Errorf("driver: no answer to %s: %v (stderr: %s)", line, d.out.Err(), d.stderr.String())
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(d.out.Bytes(), &e); err != nil {
		return fmt.Errorf("driver: answer %q: %w", d.out.Bytes(), err)
	}
	if e.Error != "" {
		return fmt.Errorf("%s", e.Error)
	}
	if ans == nil {
		return nil
	}
	return json.Unmarshal(d.out.Bytes(), ans)
}

// Stop closes stdin, waits for the driver to exit, and removes its files.
func (d *Driver) Stop() error {
	_ = d.in.Close()
	err := d.cmd.Wait()
	_ = os.RemoveAll(d.dir)
	if err != nil {
		return fmt.Errorf("driver: %w (stderr: %s)", err, d.stderr.String())
	}
	return nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
