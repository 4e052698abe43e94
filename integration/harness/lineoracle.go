package harness

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// lineOracle is a tool process asked one question per line on its stdin,
// answering one line on its stdout: the regex oracles (Rust's regex crate,
// RE2). Questions are serialized by mu.
type lineOracle struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// toolBinary finds a tool `make tools` built: $env, or bin/<dir>/<name>.
// Missing is an error saying how to build it (what names the tool).
func toolBinary(env, dir, name, what string) (string, error) {
	bin := os.Getenv(env)
	if bin == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		bin = filepath.Join(root, "bin", dir, name)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s missing: run `make tools` (builds %s): %w", bin, what, err)
	}
	return bin, nil
}

// startLineOracle starts bin with pipes for questions and answers.
func startLineOracle(bin string) (*lineOracle, error) {
	o := &lineOracle{cmd: exec.Command(bin)}
	o.cmd.Stderr = os.Stderr
	var err error
	if o.in, err = o.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := o.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	o.out = bufio.NewScanner(stdout)
	o.out.Buffer(make([]byte, 1<<20), 1<<26)
	if err := o.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return o, nil
}

// Stop ends the oracle: its stdin closed, it exits.
func (o *lineOracle) Stop() error {
	_ = o.in.Close()
	return o.cmd.Wait()
}
