package kubesink

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/smi-adapter/smi-adapter/core/model"
)

// staleClient reads from a cache that stops following the apiserver when
// frozen: it keeps the objects as they were.
type staleClient struct {
	client.Client
	frozen map[client.ObjectKey]*unstructured.Unstructured
}

func (c *staleClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if f, ok := c.frozen[key]; ok {
		f.DeepCopyInto(obj.(*unstructured.Unstructured))
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

var testGVK = schema.GroupVersionKind{Group: "example.io", Version: "v1", Kind: "Thing"}

func thing(weight int64) Object {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(testGVK)
	u.SetNamespace("n")
	u.SetName("web")
	_ = unstructured.SetNestedField(u.Object, weight, "spec", "weight")
	return Object{Obj: u, Sources: []model.ObjectRef{{Kind: "TrafficSplit", Namespace: "n", Name: "web"}}}
}

// TestStaleCacheIsNotWrittenAgain: after an update, a cache that still
// shows the version the update was made from does not make the sink write
// the same again (it would fail on the stale resourceVersion and retry);
// another change is still written (and, from the stale version, fails as
// a conflict to retry, never silently).
func TestStaleCacheIsNotWrittenAgain(t *testing.T) {
	scheme := runtime.NewScheme()
	scheme.AddKnownTypeWithName(testGVK, &unstructured.Unstructured{})
	scheme.AddKnownTypeWithName(testGVK.GroupVersion().WithKind("ThingList"), &unstructured.UnstructuredList{})
	index := &unstructured.Unstructured{}
	index.SetGroupVersionKind(testGVK)
	live := fake.NewClientBuilder().WithScheme(scheme).WithIndex(index, IndexKeyHash, func(o client.Object) []string {
		return KeyHashIndex.Extract(o.(*unstructured.Unstructured))
	}).Build()
	c := &staleClient{Client: live, frozen: map[client.ObjectKey]*unstructured.Unstructured{}}
	s := &Sink{Client: c, Kinds: []schema.GroupVersionKind{testGVK}}
	key := model.Key{Kind: model.KeySplit, Namespace: "n", Name: "web"}
	ctx := context.Background()
	apply := func(weight int64) (Stats, error) {
		_, st, err := s.Apply(ctx, key, []Object{thing(weight)})
		return st, err
	}
	if st, err := apply(1); err != nil || st.Created != 1 {
		t.Fatalf("create: %+v %v", st, err)
	}
	// The cache freezes at the created version; the sink updates from it.
	created := &unstructured.Unstructured{}
	created.SetGroupVersionKind(testGVK)
	if err := live.Get(ctx, client.ObjectKey{Namespace: "n", Name: "web"}, created); err != nil {
		t.Fatal(err)
	}
	c.frozen[client.ObjectKeyFromObject(created)] = created
	if st, err := apply(2); err != nil || st.Updated != 1 {
		t.Fatalf("update: %+v %v", st, err)
	}
	// Same desired state, cache still behind: nothing to write.
	if st, err := apply(2); err != nil || st.Updated != 0 || st.Unchanged != 1 {
		t.Fatalf("same state from a stale cache: %+v %v; want it unchanged", st, err)
	}
	// A new desired state is written (from the stale version: a conflict to retry).
	if st, err := apply(3); err == nil || st.Unchanged != 0 {
		t.Fatalf("new state from a stale cache: %+v %v; want a write that fails as a conflict", st, err)
	}
	// The cache catches up: the new state is written.
	delete(c.frozen, client.ObjectKeyFromObject(created))
	if st, err := apply(3); err != nil || st.Updated != 1 {
		t.Fatalf("new state, fresh cache: %+v %v", st, err)
	}
}
