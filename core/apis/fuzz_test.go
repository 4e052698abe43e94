package apis_test

import (
	"math"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/conversion"
	"sigs.k8s.io/randfill"

	"github.com/smi-adapter/smi-adapter/core/apis"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// fill makes a random but valid-as-stored hub object from fuzz bytes.
func fill(data []byte, obj client.Object) {
	f := randfill.NewFromGoFuzz(data).NilChance(0.2).NumElements(0, 3).Funcs(
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			c.Fill(&m.Name)
			c.Fill(&m.Namespace)
			c.Fill(&m.Labels)
			c.Fill(&m.Annotations)
			m.Generation = c.Int63()
		},
		func(cond *metav1.Condition, c randfill.Continue) {
			c.FillNoCustom(cond)
			cond.LastTransitionTime = metav1.Unix(c.Int63n(1<<32), 0)
		},
		func(b *splitv1alpha4.TrafficSplitBackend, c randfill.Continue) {
			c.Fill(&b.Service)
			b.Weight = int(c.Int63n(math.MaxInt32 + 1)) // the schema's range
		},
	)
	f.Fill(obj)
	// Our own annotations are reserved: the conversion owns them.
	ann := obj.GetAnnotations()
	for _, k := range []string{common.AnnotationHubSpec, common.AnnotationV1alpha1Weights, common.AnnotationDestinationPort} {
		delete(ann, k)
	}
	obj.SetAnnotations(ann)
}

// FuzzHubRoundTrip: any stored object, read in any served version and written
// back, is unchanged. That is what makes old clients safe next to new ones.
func FuzzHubRoundTrip(f *testing.F) {
	f.Add([]byte("seed"), uint8(0))
	f.Add([]byte("another seed with more bytes for the filler"), uint8(1))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, uint8(4))
	s := runtime.NewScheme()
	if err := apis.AddToScheme(s); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		hubs := apis.HubObjects()
		hub := hubs[int(which)%len(hubs)].DeepCopyObject().(client.Object)
		gvks, _, err := s.ObjectKinds(hub)
		if err != nil {
			t.Fatal(err)
		}
		fill(data, hub)
		hub.GetObjectKind().SetGroupVersionKind(gvks[0])
		for _, gvk := range versionsOf(s, gvks[0].GroupKind()) {
			spoke, err := apis.FromHub(s, hub.(conversion.Hub), gvk)
			if err != nil {
				t.Fatalf("hub -> %s: %v", gvk.Version, err)
			}
			back, err := apis.ToHub(s, spoke, gvk)
			if err != nil {
				t.Fatalf("%s -> hub: %v", gvk.Version, err)
			}
			back.GetObjectKind().SetGroupVersionKind(hub.GetObjectKind().GroupVersionKind())
			if !equality.Semantic.DeepEqual(hub, back) {
				t.Fatalf("hub -> %s -> hub changed the object:\n%s", gvk.Version, diffYAML(t, hub, back))
			}
		}
	})
}
