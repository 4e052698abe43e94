package istio_test

import (
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// BenchmarkTranslate10k: normalize and translate every key of ~10,000 SMI
// objects (50 namespaces x 100 services: 5,000 TrafficTargets, 5,000
// TrafficSplits), what `smi-adapter translate` does after decoding.
func BenchmarkTranslate10k(b *testing.B) {
	m := testutil.BenchWorld(50, 100)
	keys := m.Keys()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, k := range keys {
			if k.Kind == model.KeyRoute {
				continue
			}
			slice, _ := normalize.Build(k, m)
			_ = istio.Translate(slice, istio.Options{})
		}
	}
}
