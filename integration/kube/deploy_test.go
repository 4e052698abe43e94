package kube_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	prommodel "github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	smibackend "github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/certs"
	"github.com/smi-adapter/smi-adapter/core/controller"
	"github.com/smi-adapter/smi-adapter/core/metrics"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestDeployOverlays: every overlay is accepted by a real apiserver
// (kubectl apply -k … --dry-run=server), and the Istio install, applied for
// real, lets the controller do its job as its ServiceAccount — and no more.
func TestDeployOverlays(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bare, err := harness.StartBare()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bare.Stop() }()
	kubectl := bare.ControlPlane.KubeCtl()
	run := func(args ...string) string {
		t.Helper()
		stdout, stderr, err := kubectl.Run(args...)
		out, _ := readAll(stdout)
		if err != nil {
			e, _ := readAll(stderr)
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, e)
		}
		return out
	}
	run("create", "namespace", "smi-adapter-system") // a dry run cannot create the namespace its objects go to
	for _, b := range []string{"istio", "linkerd", "consul"} {
		out := run("apply", "-k", filepath.Join(root, "deploy/overlays", b), "--dry-run=server")
		if !strings.Contains(out, "deployment.apps/smi-adapter") {
			t.Errorf("%s: %s", b, out)
		}
	}

	// For real, with Istio's CRDs so the backend's kinds exist.
	crds, err := harness.IstioCRDs()
	if err != nil {
		t.Fatal(err)
	}
	run("apply", "--server-side", "-f", crds)
	run("apply", "-k", filepath.Join(root, "deploy/overlays/istio"))
	run("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")

	admin, err := client.New(bare.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	sa := rest.CopyConfig(bare.Config)
	sa.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:smi-adapter-system:smi-adapter"}
	asSA, err := client.New(sa, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}

	// Outside the generated RBAC: refused.
	if err := asSA.List(context.Background(), &corev1.SecretList{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets cluster-wide must be forbidden, got %v", err)
	}
	if err := asSA.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}); !apierrors.IsForbidden(err) {
		t.Errorf("deleting a namespace must be forbidden, got %v", err)
	}

	// Inside it: certificates, leader election, watches, Istio writes, status.
	dir := t.TempDir()
	if err := certs.Ensure(context.Background(), asSA, certs.Config{Secret: client.ObjectKey{Namespace: "smi-adapter-system", Name: "smi-adapter-webhook-cert"},
		DNSName: []string{"smi-adapter-webhook.smi-adapter-system.svc"}, CertDir: dir,
		CRDs: []string{"trafficsplits.split.smi-spec.io"}, APIServices: []string{"v1alpha1.metrics.smi-spec.io"}}); err != nil {
		t.Fatalf("certificates as the ServiceAccount: %v", err)
	}
	mgr, err := controller.NewManager(sa, controller.ManagerOptions{MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		LeaderElection: true, LeaderElectionNamespace: "smi-adapter-system", WebhookHost: "127.0.0.1", WebhookPort: freePortNumber(t), WebhookCertDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	be, err := istio.New(smibackend.Options{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := controller.Setup(ctx, mgr, controller.Config{Backend: be, SkipNameValidation: true}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() { cancel(); <-done }()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rbac-demo"}}
	for _, o := range []client.Object{ns,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "rbac-demo", Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "rbac-demo", Name: "web-v1"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
	} {
		if err := admin.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: "rbac-demo", Name: "web"},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v1", Weight: 1}}}}
	if err := admin.Create(context.Background(), ts); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 60*time.Second, func() error {
		vs := &unstructured.Unstructured{}
		vs.SetGroupVersionKind(istio.VirtualServiceGVK)
		if err := admin.Get(context.Background(), client.ObjectKey{Namespace: "rbac-demo", Name: istio.VirtualServiceName("web")}, vs); err != nil {
			return err
		}
		if err := admin.Get(context.Background(), client.ObjectKeyFromObject(ts), ts); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("programmed %+v", c)
		}
		return nil
	})

	// The Traffic Metrics API as the ServiceAccount: it starts (reads the
	// request-header CA in kube-system), authorizes a caller (SubjectAccessReview)
	// and reads every kind it resolves.
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := harness.WriteKubeconfig(sa, kubeconfig); err != nil {
		t.Fatal(err)
	}
	engine := &metrics.Engine{Telemetry: istio.Telemetry(), Pods: asSA, Objects: asSA, Prometheus: noTraffic{}}
	for _, k := range metrics.AllKinds {
		if _, err := engine.List(ctx, metrics.Request{Kind: k, Namespace: "empty-namespace"}); err != nil {
			t.Errorf("metrics API, list %s as the ServiceAccount: %v", k, err)
		}
	}
	port := freePortNumber(t)
	srv, err := metrics.NewServer(engine, metrics.ServerOptions{BindAddress: "127.0.0.1", Port: port,
		CertFile: filepath.Join(dir, certs.KeyCert), KeyFile: filepath.Join(dir, certs.KeyKey), Kubeconfig: kubeconfig})
	if err != nil {
		t.Fatalf("metrics API as the ServiceAccount: %v", err)
	}
	sctx, scancel := context.WithCancel(ctx)
	sdone := make(chan error, 1)
	go func() { sdone <- srv.Start(sctx) }()
	defer func() { scancel(); <-sdone }()
	caller := rest.CopyConfig(bare.Config)
	caller.Host = fmt.Sprintf("https://127.0.0.1:%d", port)
	caller.TLSClientConfig.Insecure, caller.TLSClientConfig.CAData = true, nil
	cs, err := kubernetes.NewForConfig(caller)
	if err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 30*time.Second, func() error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/apis/metrics.smi-spec.io/v1alpha1").DoRaw(ctx)
		return err
	})
}

// noTraffic answers every query with nothing (this test is about
// Kubernetes permissions; integration/metrics queries a real Prometheus).
type noTraffic struct{}

func (noTraffic) Query(context.Context, string, time.Time) (prommodel.Vector, error) { return nil, nil }

func freePortNumber(t *testing.T) int {
	addr := freePort(t)
	var port int
	_, _ = fmt.Sscanf(addr[strings.LastIndex(addr, ":")+1:], "%d", &port)
	return port
}
