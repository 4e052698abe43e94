package metrics_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/core/certs"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestAccess: the API answers only callers Kubernetes authenticates and
// authorizes (delegated to kube-apiserver), through the aggregator and when
// reached directly.
func TestAccess(t *testing.T) {
	m := serveMesh(t, istio.Telemetry(), istioData())
	path := api + "/namespaces/shop/deployments/web-v1"

	t.Run("unauthenticated through the apiserver", func(t *testing.T) {
		anon := &rest.Config{Host: env.Config.Host, TLSClientConfig: rest.TLSClientConfig{CAData: env.Config.CAData}}
		_, err := raw(anon, path, nil)
		if code := statusCode(err); code != 401 && code != 403 {
			t.Errorf("anonymous: %v (code %d), want 401 or 403", err, code)
		}
	})

	alice, err := env.Env.AddUser(envtest.User{Name: "alice", Groups: []string{"developers"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("authenticated, not authorized", func(t *testing.T) {
		_, err := raw(alice.Config(), path, nil)
		if code := statusCode(err); code != 403 {
			t.Errorf("alice without RBAC: %v (code %d), want 403", err, code)
		}
	})

	t.Run("authorized for one resource", func(t *testing.T) {
		ctx := context.Background()
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "deployment-metrics"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"metrics.smi-spec.io"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list"}}}}
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "alice-deployment-metrics"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice", APIGroup: "rbac.authorization.k8s.io"}}}
		for _, o := range []client.Object{role, rb} {
			if err := env.Client.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = env.Client.Delete(ctx, o) })
		}
		harness.Eventually(t, 20*time.Second, func() error {
			_, err := raw(alice.Config(), path, nil)
			return err
		})
		if _, err := raw(alice.Config(), api+"/namespaces/shop/pods/"+webV1.pod, nil); statusCode(err) != 403 {
			t.Errorf("alice, pods: %v, want 403", err)
		}
		if _, err := raw(alice.Config(), api+"/namespaces/shop/deployments/web-v1/edges", nil); statusCode(err) != 403 {
			t.Errorf("alice, deployments/edges (a subresource of its own): %v, want 403", err)
		}
	})

	t.Run("direct, without the aggregator's client certificate", func(t *testing.T) {
		sec := &corev1.Secret{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: systemNS, Name: "smi-adapter-certs"}, sec); err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(sec.Data[certs.KeyCA])
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool,
			ServerName: metricsSvc + "." + systemNS + ".svc"}}}
		for name, header := range map[string]string{"no identity": "", "forged request header": "admin"} {
			req, _ := http.NewRequest(http.MethodGet, m.addr+path, nil)
			if header != "" {
				req.Header.Set("X-Remote-User", header)
				req.Header.Set("X-Remote-Group", "system:masters")
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "system:anonymous") {
				t.Errorf("%s: %d %s, want 403 for system:anonymous", name, resp.StatusCode, body)
			}
		}
	})
}

// TestPrometheusDown: without Prometheus the API answers 503 with the
// reason; when it is back, the same answers as before.
func TestPrometheusDown(t *testing.T) {
	m := serveMesh(t, istio.Telemetry(), istioData())
	path := api + "/namespaces/shop/deployments/web-v1"
	if err := m.prom.Stop(); err != nil {
		t.Fatal(err)
	}
	body, err := raw(env.Config, path, nil)
	if code := statusCode(err); code != 503 || !strings.Contains(string(body), "prometheus unavailable") {
		t.Errorf("Prometheus down: %s (code %d), want 503 prometheus unavailable", body, code)
	}
	// Discovery does not need Prometheus.
	if _, err := raw(env.Config, api, nil); err != nil {
		t.Errorf("discovery with Prometheus down: %v", err)
	}
	if err := m.prom.Start(); err != nil {
		t.Fatal(err)
	}
	var got = get(t, path)
	check(t, "after Prometheus returned", got, f1)
}
