// Command smi-adapter keeps a service mesh's own resources in step with the
// SMI objects in a cluster.
//
//	smi-adapter run --backend=NAME   controller, conversion webhook, Traffic Metrics API, probes, metrics
//	smi-adapter translate --backend=NAME -f FILE|DIR|-   offline rendering
//	smi-adapter version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/certs"
	"github.com/smi-adapter/smi-adapter/core/controller"
	"github.com/smi-adapter/smi-adapter/core/metrics"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// backends is the explicit registry of mesh backends. Adapters are added here
// by name as they land (adapters/istio, adapters/linkerd, adapters/consul).
func backends() backend.Registry {
	return backend.Registry{
		consul.Name:  consul.New,
		istio.Name:   istio.New,
		linkerd.Name: linkerd.New,
	}
}

func main() {
	if err := runMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errInvalid) {
			fmt.Fprintln(os.Stderr, "smi-adapter:", err)
		}
		os.Exit(1)
	}
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errors.New("no command")
	}
	switch args[0] {
	case "run":
		return run(ctx, args[1:], stderr)
	case "translate":
		batchGC()
		return translate(args[1:], os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	default:
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: smi-adapter <command> [flags]

commands:
  run       watch SMI objects and program the mesh (--backend=NAME)
  translate render the mesh resources for SMI YAML, with no cluster (--backend=NAME -f FILE|DIR|-)
  version   print the version`)
}

type kvFlag map[string]string

func (f kvFlag) String() string { return fmt.Sprint(map[string]string(f)) }
func (f kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	f[k] = v
	return nil
}

// metricsAPIService is the APIService of the Traffic Metrics API.
const metricsAPIService = "v1alpha1.metrics.smi-spec.io"

type metricsAPIOptions struct {
	port          int
	prometheusURL string
	timeout       time.Duration
	certDir       string
}

// addMetricsAPI runs the Traffic Metrics API server in every replica (it
// only reads), answered from Prometheus with the backend's telemetry.
func addMetricsAPI(mgr manager.Manager, be backend.Backend, o metricsAPIOptions, log logr.Logger) error {
	if o.prometheusURL == "" || o.port == 0 {
		log.Info("Traffic Metrics API not served: no --prometheus-url")
		return nil
	}
	p, ok := be.(metrics.Provider)
	if !ok {
		return fmt.Errorf("backend %s has no telemetry for the Traffic Metrics API", be.Name())
	}
	q, err := metrics.NewPrometheus(o.prometheusURL, o.timeout)
	if err != nil {
		return err
	}
	engine := &metrics.Engine{Telemetry: p.Telemetry(), Prometheus: q, Pods: mgr.GetClient(), Objects: mgr.GetAPIReader()}
	srv, err := metrics.NewServer(engine, metrics.ServerOptions{Port: o.port,
		CertFile: filepath.Join(o.certDir, certs.KeyCert), KeyFile: filepath.Join(o.certDir, certs.KeyKey),
		Kubeconfig: os.Getenv("KUBECONFIG")}) // empty in a cluster: in-cluster config
	if err != nil {
		return err
	}
	log.Info("serving the Traffic Metrics API", "port", o.port, "prometheus", o.prometheusURL, "mesh", engine.Telemetry.Mesh)
	return mgr.Add(srv)
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		backendName string
		mo          controller.ManagerOptions
		workers     int
		settings    = kvFlag{}
	)
	fs.StringVar(&backendName, "backend", "", "mesh backend to program (required)")
	fs.Var(settings, "backend-opt", "backend setting key=value (repeatable)")
	fs.StringVar(&mo.MetricsBindAddress, "metrics-bind-address", ":8080", "Prometheus metrics address (0 disables)")
	fs.StringVar(&mo.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "/healthz and /readyz address (0 disables)")
	fs.StringVar(&mo.PprofBindAddress, "pprof-bind-address", "0", "Go profiling (/debug/pprof) address, e.g. 127.0.0.1:6060 (0 disables)")
	fs.BoolVar(&mo.LeaderElection, "leader-elect", true, "elect a leader so that only one replica writes")
	fs.StringVar(&mo.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election lease (default: in-cluster namespace)")
	fs.IntVar(&mo.WebhookPort, "webhook-port", 9443, "conversion webhook port")
	fs.StringVar(&mo.WebhookCertDir, "webhook-cert-dir", "", "directory with tls.crt and tls.key for the webhook")
	fs.IntVar(&workers, "max-concurrent-reconciles", 16, "keys reconciled in parallel")
	var certMode, certSecret, webhookService, podNamespace string
	fs.StringVar(&certMode, "cert-mode", "self", "webhook serving certificates: self (created and rotated by smi-adapter) or external (mounted, e.g. by cert-manager)")
	fs.StringVar(&certSecret, "cert-secret", "smi-adapter-webhook-cert", "Secret holding the self-managed certificates")
	fs.StringVar(&webhookService, "webhook-service", "smi-adapter-webhook", "Service in front of the webhook (the certificate's name)")
	fs.StringVar(&podNamespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace smi-adapter runs in (default $POD_NAMESPACE)")
	var metricsAPIPort int
	var prometheusURL, metricsService string
	var prometheusTimeout time.Duration
	fs.IntVar(&metricsAPIPort, "metrics-api-port", 6443, "Traffic Metrics API (metrics.smi-spec.io) HTTPS port")
	fs.StringVar(&prometheusURL, "prometheus-url", "", "Prometheus the Traffic Metrics API queries (e.g. http://prometheus.istio-system:9090); empty: the API is not served")
	fs.DurationVar(&prometheusTimeout, "prometheus-timeout", 10*time.Second, "timeout of one Prometheus query")
	fs.StringVar(&metricsService, "metrics-service", "smi-adapter-traffic-metrics", "Service in front of the Traffic Metrics API (the certificate's name)")
	zo := zap.Options{}
	zo.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := zap.New(zap.UseFlagOptions(&zo))
	ctrl.SetLogger(log)
	klog.SetLogger(log.WithName("apiserver")) // k8s.io/apiserver logs through klog
	// Not in a container (no cgroup limit found, or none set): no soft limit.
	if _, err := controller.SetMemoryLimit(log.WithName("memlimit"), memlimit.FromCgroup); err != nil {
		log.Info("GOMEMLIMIT not set from the cgroup", "error", err.Error())
	}

	reg := backends()
	if backendName == "" {
		return fmt.Errorf("--backend is required (known: %s)", strings.Join(reg.Names(), ", "))
	}
	// An unknown backend fails before anything else starts: never a silent default.
	if !reg.Has(backendName) {
		_, err := reg.New(backendName, backend.Options{})
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if certMode != "self" && certMode != "external" {
		return fmt.Errorf("--cert-mode: %q is neither self nor external", certMode)
	}
	if mo.WebhookCertDir == "" {
		mo.WebhookCertDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	mgr, err := controller.NewManager(cfg, mo)
	if err != nil {
		return err
	}
	if certMode == "self" {
		if podNamespace == "" {
			return errors.New("--namespace (or $POD_NAMESPACE) is needed to keep the webhook certificates")
		}
		direct, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
		if err != nil {
			return err
		}
		cc := certs.Config{
			Secret: client.ObjectKey{Namespace: podNamespace, Name: certSecret},
			DNSName: []string{webhookService + "." + podNamespace + ".svc", webhookService + "." + podNamespace + ".svc.cluster.local",
				metricsService + "." + podNamespace + ".svc", metricsService + "." + podNamespace + ".svc.cluster.local"},
			CertDir:     mo.WebhookCertDir,
			CRDs:        []string{"traffictargets.access.smi-spec.io", "httproutegroups.specs.smi-spec.io", "tcproutes.specs.smi-spec.io", "trafficsplits.split.smi-spec.io"},
			APIServices: []string{metricsAPIService},
		}
		if err := certs.Ensure(ctx, direct, cc); err != nil {
			return fmt.Errorf("webhook certificates: %w", err)
		}
		if err := mgr.Add(&certs.Rotator{Client: direct, Config: cc}); err != nil {
			return err
		}
	}
	enq := &controller.Enqueuer{}
	be, err := reg.New(backendName, backend.Options{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Log: log.WithName(backendName), Settings: settings, Enqueue: enq.Add})
	if err != nil {
		return err
	}
	if err := addMetricsAPI(mgr, be, metricsAPIOptions{port: metricsAPIPort, prometheusURL: prometheusURL,
		timeout: prometheusTimeout, certDir: mo.WebhookCertDir}, log); err != nil {
		return err
	}
	ctx = ctrl.SetupSignalHandler()
	if err := controller.Setup(ctx, mgr, controller.Config{Backend: be, MaxConcurrentReconciles: workers, Enqueuer: enq}); err != nil {
		return err
	}
	log.Info("starting", "backend", backendName, "version", version)
	return mgr.Start(ctx)
}
