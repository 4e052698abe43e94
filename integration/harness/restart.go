package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
)

// RestartAPIServer kills kube-apiserver (SIGKILL: no graceful shutdown) and
// starts the same binary with the same arguments, certificates and etcd, so
// every client's credentials stay valid. It returns when the new process
// answers /readyz. Env.Stop stops the new process.
func (e *Env) RestartAPIServer(ctx context.Context, down time.Duration) error {
	u, err := url.Parse(e.Config.Host)
	if err != nil {
		return err
	}
	pid, args, err := findProcess("kube-apiserver", "--secure-port="+u.Port())
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill kube-apiserver: %w", err)
	}
	if e.apiserver != nil && e.apiserver.Process != nil && e.apiserver.Process.Pid == pid {
		_ = e.apiserver.Wait()
	}
	time.Sleep(down)
	if e.apiserver, err = StartProcess(args[0], args[1:], nil, &bytes.Buffer{}); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	if waitFor(60*time.Second, func() bool {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil
	}) {
		return nil
	}
	return errors.New("kube-apiserver not ready within 60s after the restart")
}

// findProcess finds a process by its binary's name and one argument, and
// returns its pid and command line.
func findProcess(name, arg string) (int, []string, error) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if filepath.Base(args[0]) != name {
			continue
		}
		for _, a := range args[1:] {
			if a == arg {
				var pid int
				if _, err := fmt.Sscanf(filepath.Base(d), "%d", &pid); err == nil {
					return pid, args, nil
				}
			}
		}
	}
	return 0, nil, fmt.Errorf("no %s process with %s", name, arg)
}
