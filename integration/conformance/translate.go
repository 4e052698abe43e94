package conformance

import (
	"encoding/json"
	"errors"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// Translation is what a Kubernetes-native backend makes of a scenario, as a
// judge reads it.
type Translation struct {
	// Objects are the objects written, as JSON (what the apiserver stores),
	// so that a judge depends on the mesh's API shape, not the translator's
	// Go values.
	Objects []json.RawMessage
	// Pods are the scenario's pods.
	Pods []*corev1.Pod
	// FailedClosed are the diagnostics of what the backend left out,
	// sorted by object and message.
	FailedClosed []*model.Diagnostic
}

// Translate runs the product path on a scenario's objects: normalize every
// key (and the mesh-wide key when withMesh), then the backend's translate.
func Translate(objs []runtime.Object, withMesh bool, translate func(*model.Slice) ([]kubesink.Object, model.Problems)) (Translation, error) {
	var t Translation
	mem, err := normalize.NewMemory("default", objs...)
	if err != nil {
		return t, err
	}
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			t.Pods = append(t.Pods, p)
		}
	}
	keys := mem.Keys()
	if withMesh {
		keys = append(keys, model.MeshKey)
	}
	for _, k := range keys {
		if k.Kind == model.KeyRoute {
			continue
		}
		slice, normalized := normalize.Build(k, mem)
		objects, problems := translate(slice)
		// What normalize refuses (a regex no engine reads alike) is left
		// out as much as what the backend cannot express.
		problems.Merge(normalized)
		t.FailedClosed = append(t.FailedClosed, Diagnostics(problems)...)
		for _, o := range objects {
			b, err := json.Marshal(o.Obj)
			if err != nil {
				return t, err
			}
			t.Objects = append(t.Objects, b)
		}
	}
	SortDiagnostics(t.FailedClosed)
	return t, nil
}

// Diagnostics are every diagnostic of problems (an error that is not a
// Diagnostic is kept with no object).
func Diagnostics(problems model.Problems) []*model.Diagnostic {
	var out []*model.Diagnostic
	for ref, err := range problems {
		for _, e := range err.Errors {
			var d *model.Diagnostic
			if !errors.As(e, &d) {
				d = &model.Diagnostic{Object: ref, Message: e.Error()}
			}
			out = append(out, d)
		}
	}
	return out
}

// SortDiagnostics sorts ds by object, then message.
func SortDiagnostics(ds []*model.Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Object.String() != b.Object.String() {
			return a.Object.String() < b.Object.String()
		}
		return a.Error() < b.Error()
	})
}
