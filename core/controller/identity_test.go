package controller

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// TestCacheIdentityNamespaces: the controller's cluster-wide identity index
// answers IdentityNamespaces as translate's scan of every pod and Service
// (normalize.Memory) does, on the property test's random worlds — pods
// registering as other Consul names through consul-k8s's connect-service
// annotation (one name, or a multi-port list) included — and on pods whose
// annotation alone makes a name exist.
func TestCacheIdentityNamespaces(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	annotated := func(ns, name, account, names string, phase corev1.PodPhase) client.Object {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{normalize.AnnotationConnectService: names}},
			Spec: corev1.PodSpec{ServiceAccountName: account}, Status: corev1.PodStatus{Phase: phase}}
	}
	fixed := []client.Object{
		annotated("ns-b", "impostor", "x", "web", corev1.PodRunning),
		annotated("ns-c", "multi", "y", "api, web ,admin", corev1.PodPending),
		annotated("ns-d", "done", "z", "web", corev1.PodSucceeded),
	}
	want := map[string][]string{"web": {"ns-b", "ns-c"}, "api": {"ns-c"}, "admin": {"ns-c"}, "x": {"ns-b"}, "y": {"ns-c"}, "z": nil}
	r := rand.New(rand.NewPCG(3, 5))
	for round := range 300 {
		w := fixed
		if round > 0 {
			w = (&world{r: r}).random()
		}
		b := fake.NewClientBuilder().WithScheme(scheme)
		for _, i := range append(indexes(), elsewhereIndexes()...) {
			b = b.WithIndex(i.obj, i.field, i.fn)
		}
		objs := make([]client.Object, len(w))
		for i, o := range w {
			objs[i] = o.DeepCopyObject().(client.Object)
		}
		src := &cacheSource{ctx: context.Background(), r: b.WithObjects(objs...).Build()}
		mem := memory(t, w)
		for _, name := range append([]string{"x", "y", "z", "web", "api", "admin", "default"}, append(accounts, services...)...) {
			got, scanned := src.IdentityNamespaces(name), mem.IdentityNamespaces(name)
			if len(got) == 0 && len(scanned) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, scanned) {
				t.Fatalf("round %d: IdentityNamespaces(%q): index %v, scan %v\n%s", round, name, got, scanned, dump(w))
			}
			if round == 0 && !reflect.DeepEqual(got, want[name]) {
				t.Errorf("IdentityNamespaces(%q) = %v, want %v", name, got, want[name])
			}
		}
		if src.err != nil {
			t.Fatal(src.err)
		}
	}
}
