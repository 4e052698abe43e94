package metrics_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/core/metrics"
)

// BenchmarkGetDeployment: one deployment's metrics (Istio data) three ways in
// the same run: through kube-apiserver's aggregation layer (what a client
// sees), the engine alone (Kubernetes read + PromQL), and the same five PromQL
// queries sent straight to Prometheus, concurrently as the engine sends them.
func BenchmarkGetDeployment(b *testing.B) {
	m := serveMesh(b, istio.Telemetry(), istioData())
	path := api + "/namespaces/shop/deployments/web-v1"
	ctx := context.Background()
	b.Run("api", func(b *testing.B) {
		for b.Loop() {
			if _, err := raw(env.Config, path, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("engine", func(b *testing.B) {
		r := metrics.Request{Kind: metrics.Deployments, Namespace: "shop", Name: "web-v1", Window: 30 * time.Second}
		for b.Loop() {
			if _, err := m.engine.Get(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("promql", func(b *testing.B) {
		_, qs := metrics.Explain(istio.Telemetry(), metrics.Deployments, "shop", "web-v1", 30*time.Second)
		for b.Loop() {
			var wg sync.WaitGroup
			errs := make([]error, len(qs))
			for i, q := range qs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = m.engine.Prometheus.Query(ctx, q, at)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
