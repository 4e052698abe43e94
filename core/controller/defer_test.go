package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// recordingBackend records its syncs and writes nothing.
type recordingBackend struct{ synced []model.Key }

func (b *recordingBackend) Name() string { return "recording" }
func (b *recordingBackend) Sync(_ context.Context, s *model.Slice) (model.Problems, error) {
	b.synced = append(b.synced, s.Key)
	return nil, nil
}

// TestStatusWaitsForTheMesh: while other keys wait, a key syncs the mesh
// and defers its status write once, behind them (at statusPriority); the
// next reconcile of the key writes it. With nothing waiting the status is
// written at once.
func TestStatusWaitsForTheMesh(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: "n", Name: "web", Generation: 1},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v1", Weight: 1}, {Service: "web-v2", Weight: 1}}}}
	objs := []client.Object{ts}
	for _, s := range []string{"web", "web-v1", "web-v2"} {
		objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "n", Name: s}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}})
	}
	newReconciler := func() (*Reconciler, *recordingBackend, client.Client) {
		b := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&splitv1alpha4.TrafficSplit{})
		for _, i := range indexes() {
			b = b.WithIndex(i.obj, i.field, i.fn)
		}
		c := b.WithObjects(objs...).Build()
		be := &recordingBackend{}
		return &Reconciler{client: c, backend: be}, be, c
	}
	programmed := func(c client.Client) bool {
		var got splitv1alpha4.TrafficSplit
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(ts), &got); err != nil {
			t.Fatal(err)
		}
		return meta.IsStatusConditionTrue(got.Status.Conditions, common.ConditionProgrammed)
	}
	key := normalize.SplitKey(ts)
	ctx := context.Background()

	// Other keys wait: the mesh is synced, the status deferred.
	r, be, c := newReconciler()
	q := priorityqueue.New[model.Key]("test")
	defer q.ShutDown()
	r.queue.Store(&q)
	q.Add(model.Key{Kind: model.KeySplit, Namespace: "n", Name: "other"})
	res, err := r.Reconcile(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(be.synced) != 1 || programmed(c) {
		t.Fatalf("first reconcile: synced %v, Programmed %v; want the mesh synced and the status deferred", be.synced, programmed(c))
	}
	if res.Priority == nil || *res.Priority != statusPriority || res.RequeueAfter <= 0 {
		t.Fatalf("first reconcile: result %+v, want a requeue at priority %d", res, statusPriority)
	}
	// Its turn again (others still waiting): written now, never deferred twice.
	if res, err = r.Reconcile(ctx, key); err != nil {
		t.Fatal(err)
	}
	if !programmed(c) || res.Priority != nil {
		t.Fatalf("second reconcile: Programmed %v, result %+v; want the status written", programmed(c), res)
	}
	if len(be.synced) != 1 {
		t.Fatalf("second reconcile synced again (%v): nothing changed since the first", be.synced)
	}
	if n := r.deferring.Load(); n != 0 {
		t.Fatalf("%d keys counted as deferring after the write, want 0", n)
	}

	// Deferred behind a queue that never empties: after statusMaxWait the
	// key is back at the normal priority (never starved).
	r, _, _ = newReconciler()
	q3 := priorityqueue.New[model.Key]("test3")
	defer q3.ShutDown()
	r.queue.Store(&q3)
	busy := model.Key{Kind: model.KeySplit, Namespace: "n", Name: "busy"}
	q3.Add(busy)
	if res, err = r.Reconcile(ctx, key); err != nil || res.Priority == nil {
		t.Fatalf("not deferred: %+v %v", res, err)
	}
	low := statusPriority
	q3.AddWithOpts(priorityqueue.AddOpts{Priority: &low}, key) // as the controller requeues it
	time.Sleep(statusMaxWait + 200*time.Millisecond)
	for range 2 {
		k, p, _ := q3.GetWithPriority()
		if k == key && p != 0 {
			t.Fatalf("after %s the deferred key has priority %d, want 0", statusMaxWait, p)
		}
	}

	// Deferred, then the split changes: the next reconcile syncs again.
	r, be, c = newReconciler()
	r.queue.Store(&q)
	q.Add(model.Key{Kind: model.KeySplit, Namespace: "n", Name: "another"})
	if _, err := r.Reconcile(ctx, key); err != nil {
		t.Fatal(err)
	}
	var cur splitv1alpha4.TrafficSplit
	if err := c.Get(ctx, client.ObjectKeyFromObject(ts), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Backends[0].Weight = 3
	if err := c.Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, key); err != nil {
		t.Fatal(err)
	}
	if len(be.synced) != 2 || !programmed(c) {
		t.Fatalf("changed while deferred: synced %d times, Programmed %v; want a second sync and the status written", len(be.synced), programmed(c))
	}

	// Nothing else waits: written at once.
	r, _, c = newReconciler()
	q2 := priorityqueue.New[model.Key]("test2")
	defer q2.ShutDown()
	r.queue.Store(&q2)
	if res, err = r.Reconcile(ctx, key); err != nil {
		t.Fatal(err)
	}
	if !programmed(c) || res.Priority != nil {
		t.Fatalf("idle queue: Programmed %v, result %+v; want the status written at once", programmed(c), res)
	}

	// Keys wait, but no more than the idle workers take at once: deferring
	// would only delay Programmed (seen under steady churn).
	r, _, c = newReconciler()
	r.workers = 4
	q4 := priorityqueue.New[model.Key]("test4")
	defer q4.ShutDown()
	r.queue.Store(&q4)
	for i := range 3 {
		q4.Add(model.Key{Kind: model.KeySplit, Namespace: "n", Name: fmt.Sprint("waiting-", i)})
	}
	if res, err = r.Reconcile(ctx, key); err != nil {
		t.Fatal(err)
	}
	if !programmed(c) || res.Priority != nil {
		t.Fatalf("3 keys waiting, 3 workers idle: Programmed %v, result %+v; want the status written at once", programmed(c), res)
	}
	// One more than the idle workers: a backlog, deferred.
	r, _, c = newReconciler()
	r.workers = 4
	r.queue.Store(&q4)
	q4.Add(model.Key{Kind: model.KeySplit, Namespace: "n", Name: "waiting-3"})
	if res, err = r.Reconcile(ctx, key); err != nil {
		t.Fatal(err)
	}
	if programmed(c) || res.Priority == nil {
		t.Fatalf("4 keys waiting, 3 workers idle: Programmed %v, result %+v; want the status deferred", programmed(c), res)
	}
}
