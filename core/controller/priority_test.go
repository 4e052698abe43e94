package controller

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// TestNewGrantsWait: a created TrafficTarget's key is handed out after the
// keys already waiting; the same key enqueued by an update (a possible
// revocation) is not held back.
func TestNewGrantsWait(t *testing.T) {
	h := newGrantsWait(keys(func(_ context.Context, o *accessv1alpha3.TrafficTarget) []model.Key {
		return []model.Key{normalize.AccessKey(o)}
	}))
	tt := func(name string) *accessv1alpha3.TrafficTarget {
		return &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: "n", Name: name, Generation: 1},
			Spec: accessv1alpha3.TrafficTargetSpec{Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: name}}}
	}
	split := model.Key{Kind: model.KeySplit, Namespace: "n", Name: "web"}
	ctx := context.Background()

	q := priorityqueue.New[model.Key]("test")
	defer q.ShutDown()
	h.Create(ctx, event.TypedCreateEvent[*accessv1alpha3.TrafficTarget]{Object: tt("a")}, q)
	q.Add(split)
	if k, _, _ := q.GetWithPriority(); k != split {
		t.Fatalf("first key %v, want the split waiting behind no new grant", k)
	}
	if k, p, _ := q.GetWithPriority(); k != normalize.AccessKey(tt("a")) || p != newGrantPriority {
		t.Fatalf("second key %v priority %d, want the new grant at %d", k, p, newGrantPriority)
	}

	// An update (e.g. a narrowed grant) is not held back, even if the key
	// was waiting as a new grant.
	q2 := priorityqueue.New[model.Key]("test2")
	defer q2.ShutDown()
	h.Create(ctx, event.TypedCreateEvent[*accessv1alpha3.TrafficTarget]{Object: tt("b")}, q2)
	q2.Add(split)
	old, changed := tt("b"), tt("b")
	changed.Generation = 2
	h.Update(ctx, event.TypedUpdateEvent[*accessv1alpha3.TrafficTarget]{ObjectOld: old, ObjectNew: changed}, q2)
	for range 2 {
		if k, p, _ := q2.GetWithPriority(); k == normalize.AccessKey(tt("b")) && p != 0 {
			t.Fatalf("after an update the grant's key has priority %d, want 0", p)
		}
	}
}
