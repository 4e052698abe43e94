package kube_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/controller"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// TestLeaderElectionFailover: two replicas with leader election — only the
// leader's backend is ever called; when it stops, the other takes over and
// reconciles what exists.
func TestLeaderElectionFailover(t *testing.T) {
	ns := namespace(t)
	wh := env.Env.WebhookInstallOptions
	type replica struct {
		rec    *recorder
		cancel context.CancelFunc
		done   chan error
	}
	start := func() *replica {
		mgr, err := controller.NewManager(env.Config, controller.ManagerOptions{MetricsBindAddress: "0", HealthProbeBindAddress: "0",
			LeaderElection: true, LeaderElectionNamespace: ns, WebhookHost: "127.0.0.1", WebhookPort: freePortNumber(t), WebhookCertDir: wh.LocalServingCertDir,
			LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		r := &replica{rec: &recorder{slices: map[model.Key]*model.Slice{}, syncs: map[model.Key]int{}, fail: map[model.Key]error{}}, done: make(chan error, 1)}
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		if err := controller.Setup(ctx, mgr, controller.Config{Backend: r.rec, SkipNameValidation: true}); err != nil {
			t.Fatal(err)
		}
		go func() { r.done <- mgr.Start(ctx) }()
		return r
	}
	a := start()
	key := model.Key{Kind: model.KeySplit, Namespace: ns, Name: "web"}
	create(t, svc(ns, "web", 80), svc(ns, "web-v1", 80),
		&splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v1", Weight: 1}}}})
	eventually(t, wait, func() error {
		if _, n := a.rec.last(key); n == 0 {
			return fmt.Errorf("the first replica has not reconciled yet")
		}
		return nil
	})
	b := start()
	time.Sleep(3 * time.Second) // several lease periods: b must stay a standby
	if _, n := b.rec.last(key); n != 0 {
		t.Fatalf("the standby reconciled %d times while the leader was alive", n)
	}
	a.cancel()
	<-a.done
	eventually(t, wait, func() error {
		if s, n := b.rec.last(key); n == 0 || s.Split == nil {
			return fmt.Errorf("the standby has not taken over")
		}
		return nil
	})
	b.cancel()
	<-b.done
}
