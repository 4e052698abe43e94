package normalize_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// TestBuildChangesNoInput: Build only reads what it is given. The controller
// relies on it: it hands Build the informer cache's own objects, not copies.
func TestBuildChangesNoInput(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	worlds := map[string]*normalize.Memory{"bench world": testutil.BenchWorld(3, 20)}
	for _, f := range files {
		worlds[filepath.Base(f)] = testutil.LoadMemory(t, f)
	}
	for name, mem := range worlds {
		t.Run(name, func(t *testing.T) {
			before := snapshot(mem)
			for _, k := range append(mem.Keys(), model.MeshKey) {
				normalize.Build(k, mem)
			}
			if after := snapshot(mem); !reflect.DeepEqual(before, after) {
				t.Fatal("Build changed its input")
			}
		})
	}
}

// snapshot deep-copies every object mem holds, as Build sees them.
func snapshot(mem *normalize.Memory) []runtime.Object {
	var out []runtime.Object
	for _, k := range mem.Keys() {
		for _, tt := range mem.TrafficTargets(k) {
			out = append(out, tt.DeepCopy())
			for _, r := range tt.Spec.Rules {
				if g := mem.HTTPRouteGroup(tt.Namespace, r.Name); g != nil {
					out = append(out, g.DeepCopy())
				}
				if g := mem.TCPRoute(tt.Namespace, r.Name); g != nil {
					out = append(out, g.DeepCopy())
				}
			}
		}
		for _, ts := range mem.TrafficSplits(k) {
			out = append(out, ts.DeepCopy())
			for _, b := range ts.Spec.Backends {
				if s := mem.Service(ts.Namespace, b.Service); s != nil {
					out = append(out, s.DeepCopy())
				}
			}
		}
		for _, s := range mem.Services(k.Namespace) {
			out = append(out, s.DeepCopy())
		}
		for _, p := range mem.Pods(k.Namespace) {
			out = append(out, p.DeepCopy())
		}
	}
	return out
}
