package kube_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/controller"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestManagerEndpointsAndLeaderElection runs a second manager built exactly
// as `smi-adapter run` builds it: it takes the leader Lease and serves
// /healthz, /readyz and Prometheus metrics with smi-adapter's own counters.
func TestManagerEndpointsAndLeaderElection(t *testing.T) {
	ns := namespace(t)
	// Something to reconcile, so that smi-adapter's counters have a sample.
	create(t, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tcp"}})
	metricsAddr, probeAddr, webhookAddr := freePort(t), freePort(t), freePort(t)
	_, portStr, _ := net.SplitHostPort(webhookAddr)
	webhookPort, _ := strconv.Atoi(portStr)
	wh := env.Env.WebhookInstallOptions
	mgr, err := controller.NewManager(env.Config, controller.ManagerOptions{
		MetricsBindAddress: metricsAddr, HealthProbeBindAddress: probeAddr,
		LeaderElection: true, LeaderElectionNamespace: ns,
		WebhookHost: "127.0.0.1", WebhookPort: webhookPort, WebhookCertDir: wh.LocalServingCertDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop")
		}
	}()

	eventually(t, wait, func() error {
		var lease coordinationv1.Lease
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "smi-adapter.smi-spec.io"}, &lease); err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return fmt.Errorf("lease has no holder")
		}
		return nil
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		eventually(t, wait, func() error {
			code, body, err := httpGet("http://" + probeAddr + path)
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("%s: %d %s", path, code, body)
			}
			return nil
		})
	}
	eventually(t, wait, func() error {
		code, body, err := httpGet("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		for _, m := range []string{"smi_adapter_reconcile_total", "controller_runtime_reconcile_total", "smi_adapter_status_writes_total"} {
			if code != http.StatusOK || !strings.Contains(body, m) {
				return fmt.Errorf("metrics (%d) lack %s", code, m)
			}
		}
		return nil
	})
}
