package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/core/certs"
	"github.com/smi-adapter/smi-adapter/core/metrics"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

const (
	apiServiceName = "v1alpha1.metrics.smi-spec.io"
	systemNS       = "smi-adapter-system"
	metricsSvc     = "smi-adapter-traffic-metrics"
)

// at is the end of every window: the last sample.
var at = time.Unix(t0+60, 0)

// mesh is one backend's metrics API in front of its own Prometheus.
type mesh struct {
	addr   string // the metrics API server, https://127.0.0.1:port
	prom   *harness.Prometheus
	engine *metrics.Engine
	cancel context.CancelFunc
	done   chan error
}

// serveMesh starts Prometheus with the data and the metrics API server with
// the telemetry, registers the APIService (CA injected by the certificate
// manager, as `smi-adapter run` does) and waits until the apiserver proxies
// to it.
func serveMesh(t testing.TB, tel metrics.Telemetry, data []byte) *mesh {
	t.Helper()
	dir := t.TempDir()
	prom, err := harness.StartPrometheus(dir, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prom.Stop() })
	q, err := metrics.NewPrometheus(prom.URL, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := &mesh{prom: prom, engine: &metrics.Engine{Telemetry: tel, Prometheus: q, Pods: env.Client, Objects: env.Client,
		Now: func() time.Time { return at }}}

	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	registerAPIService(t, int32(port))
	certDir := filepath.Join(dir, "certs")
	if err := certs.Ensure(ctx, env.Client, certs.Config{Secret: client.ObjectKey{Namespace: systemNS, Name: "smi-adapter-certs"},
		DNSName: []string{metricsSvc + "." + systemNS + ".svc"}, CertDir: certDir, APIServices: []string{apiServiceName}}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := harness.WriteKubeconfig(env.Config, kubeconfig); err != nil {
		t.Fatal(err)
	}
	srv, err := metrics.NewServer(m.engine, metrics.ServerOptions{BindAddress: "127.0.0.1", Port: port,
		CertFile: filepath.Join(certDir, certs.KeyCert), KeyFile: filepath.Join(certDir, certs.KeyKey), Kubeconfig: kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	m.addr = fmt.Sprintf("https://127.0.0.1:%d", port)
	sctx, cancel := context.WithCancel(ctx)
	m.cancel, m.done = cancel, make(chan error, 1)
	go func() { m.done <- srv.Start(sctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-m.done:
		case <-time.After(30 * time.Second):
			t.Error("metrics API server did not stop")
		}
	})
	harness.Eventually(t, 60*time.Second, func() error {
		var rl metav1.APIResourceList
		if err := getJSON(env.Config, "/apis/metrics.smi-spec.io/v1alpha1", nil, &rl); err != nil {
			return err
		}
		if len(rl.APIResources) == 0 {
			return errors.New("no resources yet")
		}
		// The aggregator may still proxy to a previous server: ask ours.
		_, err := raw(env.Config, "/apis/metrics.smi-spec.io/v1alpha1/namespaces/shop/deployments/web-v1", nil)
		return err
	})
	return m
}

// registerAPIService points v1alpha1.metrics.smi-spec.io at the server: an
// ExternalName Service (localhost) lets the aggregator reach a process on
// this machine, with TLS verified for the in-cluster name.
func registerAPIService(t testing.TB, port int32) {
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: metricsSvc},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"}}
	if err := env.Client.Create(ctx, svc); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	as := &apiregistrationv1.APIService{}
	err := env.Client.Get(ctx, client.ObjectKey{Name: apiServiceName}, as)
	if apierrors.IsNotFound(err) {
		as = &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: apiServiceName},
			Spec: apiregistrationv1.APIServiceSpec{Group: "metrics.smi-spec.io", Version: "v1alpha1",
				Service:              &apiregistrationv1.ServiceReference{Namespace: systemNS, Name: metricsSvc, Port: ptr.To(port)},
				GroupPriorityMinimum: 100, VersionPriority: 100}}
		if err := env.Client.Create(ctx, as); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	as.Spec.Service.Port = ptr.To(port)
	if err := env.Client.Update(ctx, as); err != nil {
		t.Fatal(err)
	}
}

// raw GETs a path through the apiserver.
func raw(cfg *rest.Config, path string, params map[string]string) ([]byte, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	req := cs.Discovery().RESTClient().Get().AbsPath(path)
	for k, v := range params {
		req = req.Param(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return req.DoRaw(ctx)
}

func getJSON(cfg *rest.Config, path string, params map[string]string, out any) error {
	b, err := raw(cfg, path, params)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// statusCode of an apiserver error (0 for none or another error).
func statusCode(err error) int {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return int(se.ErrStatus.Code)
	}
	return 0
}
