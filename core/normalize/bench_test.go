package normalize_test

import (
	"testing"

	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// BenchmarkBuildAccessKey: one access key (a reconcile) in a namespace of 20 services.
func BenchmarkBuildAccessKey(b *testing.B) {
	m := testutil.BenchWorld(1, 20)
	keys := m.Keys()
	var k = keys[0]
	for _, x := range keys {
		if x.Kind == "Access" {
			k = x
			break
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		normalize.Build(k, m)
	}
}

// BenchmarkBuildSplitKey: one split key (a reconcile).
func BenchmarkBuildSplitKey(b *testing.B) {
	m := testutil.BenchWorld(1, 20)
	var k = m.Keys()[0]
	for _, x := range m.Keys() {
		if x.Kind == "Split" {
			k = x
			break
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		normalize.Build(k, m)
	}
}

// BenchmarkBuildAll10k: every key of ~10,000 SMI objects (50 namespaces x 100
// services: 5,000 TrafficTargets, 5,000 TrafficSplits, 50 route groups).
func BenchmarkBuildAll10k(b *testing.B) {
	m := testutil.BenchWorld(50, 100)
	keys := m.Keys()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, k := range keys {
			normalize.Build(k, m)
		}
	}
	b.ReportMetric(float64(len(keys)), "keys")
}
