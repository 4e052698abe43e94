// Package harness starts the real servers smi-adapter's integration tests run
// against: kube-apiserver and etcd (built from source into bin/ by `make tools`)
// through controller-runtime's envtest, with smi-adapter's CRDs installed and
// its conversion webhook served by a real manager in the test process.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/controller"
)

// Versions of the servers the harness expects in bin/ (see the Makefile).
const (
	KubeVersion = "1.37.2"
	EtcdVersion = "3.6.16"
)

// RepoRoot finds the repository root (the directory with the main go.mod).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && containsModule(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root not found (no go.mod of github.com/smi-adapter/smi-adapter above the working directory)")
		}
		dir = parent
	}
}

func containsModule(gomod []byte) bool {
	const want = "module github.com/smi-adapter/smi-adapter\n"
	return len(gomod) >= len(want) && string(gomod[:len(want)]) == want
}

// Assets returns the folder with kube-apiserver, etcd and kubectl: the
// KUBEBUILDER_ASSETS environment variable, else bin/ of the repository. A
// missing binary is an error that says how to build it: tests never skip.
func Assets() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin", fmt.Sprintf("envtest-k8s%s-etcd%s", KubeVersion, EtcdVersion))
	}
	for _, b := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("test server %s missing in %s: run `make tools` (builds kube-apiserver %s and etcd %s from source): %w", b, dir, KubeVersion, EtcdVersion, err)
		}
	}
	return dir, nil
}

// Env is a running control plane with smi-adapter's CRDs and webhook.
type Env struct {
	Env     *envtest.Environment
	Config  *rest.Config
	Scheme  *runtime.Scheme
	Client  client.Client // direct, uncached
	Manager manager.Manager
	// StartTime is how long the control plane took to start (CRDs installed).
	StartTime time.Duration
	cancel    context.CancelFunc
	done      chan error
	opts      Options
	tmp       string
	apiserver *exec.Cmd // kube-apiserver after RestartAPIServer
}

// Options of Start.
type Options struct {
	// Backend, when set, runs the SMI controller with it in the manager.
	Backend backend.Backend
	// NewBackend, when set, builds the backend from the manager's client
	// (as `smi-adapter run` does) and runs the controller with it.
	NewBackend backend.Constructor
	// Settings are passed to NewBackend.
	Settings map[string]string
	// ExtraCRDPaths are installed next to crds/ (e.g. a mesh's CRDs).
	ExtraCRDPaths []string
	// Workers is the number of keys reconciled in parallel (default 16).
	Workers int
	// Aggregator configures kube-apiserver's aggregation layer (front-proxy
	// CA and client certificate) so APIServices can be served.
	Aggregator bool
}

// Start starts etcd and kube-apiserver, installs the CRDs, and runs a manager
// serving the conversion webhook (and the controller, with Options.Backend).
// Always call Stop, also when Start fails part way.
func Start(o Options) (*Env, error) {
	setLoggerOnce.Do(func() { logf.SetLogger(ringLogger()) })
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	scheme, err := controller.NewScheme()
	if err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	e := &Env{Scheme: scheme, opts: o}
	e.Env = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              append([]string{filepath.Join(root, "crds")}, o.ExtraCRDPaths...),
			ErrorIfPathMissing: true,
			Scheme:             scheme,
		},
		ErrorIfCRDPathMissing: true,
	}
	if o.Aggregator {
		dir, err := os.MkdirTemp("", "smi-aggregator-")
		if err != nil {
			return e, err
		}
		e.tmp = dir
		if err := enableAggregator(e.Env, dir); err != nil {
			return e, fmt.Errorf("aggregator certificates: %w", err)
		}
	}
	start := time.Now()
	cfg, err := e.Env.Start()
	if err != nil {
		return e, fmt.Errorf("start control plane: %w", err)
	}
	e.StartTime = time.Since(start)
	e.Config = cfg
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return e, err
	}
	return e, e.StartManager()
}

// StartManager starts (again) the manager that serves the conversion webhook
// and runs the controller with the configured backend.
func (e *Env) StartManager() error {
	o := e.opts
	cfg := e.Config
	wh := e.Env.WebhookInstallOptions
	mgr, err := controller.NewManager(cfg, controller.ManagerOptions{
		MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		WebhookHost: wh.LocalServingHost, WebhookPort: wh.LocalServingPort, WebhookCertDir: wh.LocalServingCertDir,
		SyncPeriod: time.Hour,
	})
	if err != nil {
		return err
	}
	e.Manager = mgr
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	enq := &controller.Enqueuer{}
	if o.NewBackend != nil {
		b, err := o.NewBackend(backend.Options{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Log: mgr.GetLogger(), Settings: o.Settings, Enqueue: enq.Add})
		if err != nil {
			return err
		}
		o.Backend = b
	}
	if o.Backend != nil {
		if err := controller.Setup(ctx, mgr, controller.Config{Backend: o.Backend, Enqueuer: enq, SkipNameValidation: true, MaxConcurrentReconciles: o.Workers}); err != nil {
			return err
		}
	}
	e.done = make(chan error, 1)
	go func() { e.done <- mgr.Start(ctx) }()
	return waitWebhook(ctx, mgr)
}

// StopManager stops the manager: the webhook and the controller go away, the
// control plane stays (a crashed or upgraded smi-adapter).
func (e *Env) StopManager() error {
	if e.cancel == nil {
		return nil
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("manager did not stop within 30s")
	}
}

func waitWebhook(ctx context.Context, mgr manager.Manager) error {
	check := mgr.GetWebhookServer().StartedChecker()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if check(nil) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("conversion webhook did not start within 30s")
}

// Stop stops the manager and the control plane (also after a failed Start).
func (e *Env) Stop() error {
	if e == nil {
		return nil
	}
	var errs []error
	if err := e.StopManager(); err != nil {
		errs = append(errs, err)
	}
	StopProcess(e.apiserver, 30*time.Second) // a restarted kube-apiserver is ours to stop
	if e.Env != nil {
		if err := e.Env.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
	return errors.Join(errs...)
}

// StartBare starts a control plane with nothing installed, for tests that
// install things the way a user does (kubectl apply). Stop it with Stop.
func StartBare() (*envtest.Environment, error) {
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	e := &envtest.Environment{BinaryAssetsDirectory: assets}
	if _, err := e.Start(); err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	return e, nil
}

// IstioCRDs returns the path of Istio's own CRDs, shipped in the istio.io/api
// module the main module depends on.
func IstioCRDs() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locate istio.io/api: %w", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "kubernetes", "customresourcedefinitions.gen.yaml")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("Istio CRDs: %w", err)
	}
	return path, nil
}

// Update re-reads obj, applies mutate and updates it, retrying when another
// writer (the controller writing status, say) got in between.
func (e *Env) Update(ctx context.Context, obj client.Object, mutate func()) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return e.Client.Update(ctx, obj)
	})
}

// LinkerdCRDs returns the path of Linkerd's own CRDs: $LINKERD_CRDS, else
// shared/upstream/linkerd/crds.yaml beside the repository. A missing file is
// an error that says so: the Linkerd tests must not pass without Linkerd's schemas.
func LinkerdCRDs() (string, error) {
	path := os.Getenv("LINKERD_CRDS")
	if path == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		path = filepath.Join(filepath.Dir(root), "shared", "upstream", "linkerd", "crds.yaml")
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("Linkerd's CRDs not found at %s (set LINKERD_CRDS to their path): %w", path, err)
	}
	return path, nil
}
