package kube_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha2 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha2"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha2 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha2"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

const wait = 20 * time.Second

func svc(ns, name string, ports ...int32) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, p := range ports {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: fmt.Sprint("p", p), Port: p})
	}
	return s
}

// condition reads a condition of a hub object from the apiserver.
func condition(obj client.Object, typ string) (*metav1.Condition, error) {
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil, err
	}
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *splitv1alpha4.TrafficSplit:
		conds = o.Status.Conditions
	case *accessv1alpha3.TrafficTarget:
		conds = o.Status.Conditions
	case *specsv1alpha4.HTTPRouteGroup:
		conds = o.Status.Conditions
	}
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		return nil, fmt.Errorf("no %s condition yet", typ)
	}
	return c, nil
}

func wantCondition(t *testing.T, obj client.Object, typ string, status metav1.ConditionStatus, reason string, gen int64) *metav1.Condition {
	t.Helper()
	var got *metav1.Condition
	eventually(t, wait, func() error {
		c, err := condition(obj, typ)
		if err != nil {
			return err
		}
		if c.Status != status || c.Reason != reason || c.ObservedGeneration != gen {
			return fmt.Errorf("%s is %s/%s gen %d (%s), want %s/%s gen %d", typ, c.Status, c.Reason, c.ObservedGeneration, c.Message, status, reason, gen)
		}
		got = c
		return nil
	})
	return got
}

// TestSplitStatusFollowsGeneration: a TrafficSplit written in v1alpha2 becomes
// Accepted and Programmed for generation 1; the backend gets the exact weights;
// a weight change moves both conditions to generation 2.
func TestSplitStatusFollowsGeneration(t *testing.T) {
	ns := namespace(t)
	create(t, svc(ns, "web", 80), svc(ns, "web-v1", 80), svc(ns, "web-v2", 80))
	ts := &splitv1alpha2.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: splitv1alpha2.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha2.TrafficSplitBackend{{Service: "web-v1", Weight: 90}, {Service: "web-v2", Weight: 10}}}}
	create(t, ts)
	hub := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
	wantCondition(t, hub, common.ConditionAccepted, metav1.ConditionTrue, "Accepted", 1)
	wantCondition(t, hub, common.ConditionProgrammed, metav1.ConditionTrue, "Programmed", 1)
	key := model.Key{Kind: model.KeySplit, Namespace: ns, Name: "web"}
	s, _ := backend.last(key)
	if s == nil || s.Split == nil || len(s.Split.Backends) != 2 || s.Split.Backends[0].Weight != 9 || s.Split.Backends[1].Weight != 1 {
		t.Fatalf("backend got %+v", s)
	}

	// Shift the canary as Flagger does: 50/50.
	if err := env.Update(context.Background(), ts, func() { ts.Spec.Backends[0].Weight, ts.Spec.Backends[1].Weight = 50, 50 }); err != nil {
		t.Fatal(err)
	}
	wantCondition(t, hub, common.ConditionAccepted, metav1.ConditionTrue, "Accepted", 2)
	wantCondition(t, hub, common.ConditionProgrammed, metav1.ConditionTrue, "Programmed", 2)
	eventually(t, wait, func() error {
		s, _ := backend.last(key)
		if s.Split == nil || s.Split.Backends[0].Weight != 1 || s.Split.Backends[1].Weight != 1 {
			return fmt.Errorf("backend has %+v", s.Split)
		}
		return nil
	})

	// Deleting the split hands the backend an empty slice for the root.
	if err := env.Client.Delete(context.Background(), ts); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		if s, _ := backend.last(key); s.Split != nil {
			return errors.New("backend still has the split")
		}
		return nil
	})
}

// TestInvalidTargetIsReported: a dangling reference gives Accepted=False with
// the field path, and an Event; creating the route group fixes it (the route
// watch maps to the TrafficTarget's key through the index).
func TestInvalidTargetIsReported(t *testing.T) {
	ns := namespace(t)
	tt := &accessv1alpha2.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
		Spec: accessv1alpha2.TrafficTargetSpec{
			Destination: accessv1alpha2.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
			Rules:       []accessv1alpha2.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}},
			Sources:     []accessv1alpha2.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "web"}},
		}}
	create(t, tt)
	hub := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"}}
	c := wantCondition(t, hub, common.ConditionAccepted, metav1.ConditionFalse, model.ReasonRefNotFound, 1)
	if !strings.Contains(c.Message, "spec.rules[0].name") || !strings.Contains(c.Message, "HTTPRouteGroup "+ns+"/routes not found") {
		t.Errorf("message does not say what and where: %q", c.Message)
	}
	eventually(t, wait, func() error {
		var evs eventsv1.EventList
		if err := env.Client.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == "api" && e.Reason == model.ReasonRefNotFound && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no RefNotFound event among %d", len(evs.Items))
	})
	key := model.Key{Kind: model.KeyAccess, Namespace: ns, Name: "api"}
	if s, _ := backend.last(key); s == nil || s.Access == nil || len(s.Access.Grants) != 0 {
		t.Fatalf("a dangling rule must grant nothing (deny by default), backend got %+v", s)
	}

	create(t, &specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "routes"},
		Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "all", PathRegex: "/api"}}}})
	wantCondition(t, hub, common.ConditionAccepted, metav1.ConditionTrue, "Accepted", 1)
	s, _ := backend.last(key)
	if len(s.Access.Grants) != 1 || s.Access.Grants[0].Rules[0].HTTP.PathRegex != "^(?:/api).*$" {
		t.Fatalf("backend got %+v", s.Access)
	}
}

// TestInvalidRouteGroupIsReported: a regex RE2 rejects is reported on the
// route group itself, with the field path.
func TestInvalidRouteGroupIsReported(t *testing.T) {
	ns := namespace(t)
	hrg := &specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"},
		Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "m", PathRegex: "/(unclosed"}}}}
	create(t, hrg)
	c := wantCondition(t, hrg, common.ConditionAccepted, metav1.ConditionFalse, model.ReasonInvalid, 1)
	if !strings.Contains(c.Message, "spec.matches[0].pathRegex") {
		t.Errorf("message: %q", c.Message)
	}
}

// TestCrossNamespaceTargetGrantsNothing: a TrafficTarget may not open a
// destination in another namespace; the other namespace's key never sees it.
func TestCrossNamespaceTargetGrantsNothing(t *testing.T) {
	ns, victim := namespace(t), namespace(t)
	create(t, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tcp"}})
	tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sneaky"},
		Spec: accessv1alpha3.TrafficTargetSpec{
			Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "payments", Namespace: victim},
			Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
			Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "attacker"}},
		}}
	create(t, tt)
	wantCondition(t, tt, common.ConditionAccepted, metav1.ConditionFalse, model.ReasonCrossNamespace, 1)
	if s, n := backend.last(model.Key{Kind: model.KeyAccess, Namespace: victim, Name: "payments"}); n != 0 {
		t.Fatalf("the victim namespace's key was reconciled: %+v", s)
	}
	s, _ := backend.last(model.Key{Kind: model.KeyAccess, Namespace: ns, Name: "payments"})
	if s == nil || s.Access == nil || len(s.Access.Grants) != 0 {
		t.Fatalf("grants leaked: %+v", s)
	}
}

// TestProgrammedFalseWhileBackendFails: a failing backend gives
// Programmed=False with its error and is retried; recovery gives True.
func TestProgrammedFalseWhileBackendFails(t *testing.T) {
	ns := namespace(t)
	key := model.Key{Kind: model.KeySplit, Namespace: ns, Name: "web"}
	backend.setFail(key, errors.New("mesh unreachable"))
	create(t, svc(ns, "web", 80), svc(ns, "web-v1", 80))
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v1", Weight: 1}}}}
	create(t, ts)
	c := wantCondition(t, ts, common.ConditionProgrammed, metav1.ConditionFalse, "BackendError", 1)
	if !strings.Contains(c.Message, "mesh unreachable") {
		t.Errorf("message: %q", c.Message)
	}
	wantCondition(t, ts, common.ConditionAccepted, metav1.ConditionTrue, "Accepted", 1)
	backend.setFail(key, nil)
	wantCondition(t, ts, common.ConditionProgrammed, metav1.ConditionTrue, "Programmed", 1)
}

// TestPodsDriveWorkloadSelection: the backend learns the labels that select
// exactly the pods running as the destination, and follows pod changes.
func TestPodsDriveWorkloadSelection(t *testing.T) {
	ns := namespace(t)
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"}},
		&specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tcp"}},
		&accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
			Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "web"}},
			}})
	pod := func(name string, l map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: l},
			Spec: corev1.PodSpec{ServiceAccountName: "api", AutomountServiceAccountToken: new(false),
				Containers: []corev1.Container{{Name: "c", Image: "app", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
	}
	create(t, pod("api-1", map[string]string{"app": "api", "pod-template-hash": "x1"}))
	key := model.Key{Kind: model.KeyAccess, Namespace: ns, Name: "api"}
	eventually(t, wait, func() error {
		s, _ := backend.last(key)
		if s == nil || s.Access == nil || s.Access.Workloads.Pods != 1 || len(s.Access.Workloads.Selectors) != 1 || s.Access.Workloads.Selectors[0]["app"] != "api" {
			return fmt.Errorf("workloads %+v", s)
		}
		return nil
	})
	create(t, pod("api-2", map[string]string{"app": "api", "pod-template-hash": "x2"}))
	eventually(t, wait, func() error {
		s, _ := backend.last(key)
		if s.Access.Workloads.Pods != 2 || !s.Access.Workloads.Exact {
			return fmt.Errorf("workloads %+v", s.Access.Workloads)
		}
		return nil
	})
}

// TestMovedTargetIsWithdrawnFromOldDestination: when a TrafficTarget's
// destination changes, the old destination's key is reconciled too and loses
// the grant — access never stays wider than the SMI objects say.
func TestMovedTargetIsWithdrawnFromOldDestination(t *testing.T) {
	ns := namespace(t)
	create(t, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tcp"}})
	tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "t"},
		Spec: accessv1alpha3.TrafficTargetSpec{
			Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "old"},
			Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
			Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "web"}},
		}}
	create(t, tt)
	oldKey := model.Key{Kind: model.KeyAccess, Namespace: ns, Name: "old"}
	newKey := model.Key{Kind: model.KeyAccess, Namespace: ns, Name: "new"}
	eventually(t, wait, func() error {
		if s, _ := backend.last(oldKey); s == nil || s.Access == nil || len(s.Access.Grants) != 1 {
			return fmt.Errorf("old destination not granted yet: %+v", s)
		}
		return nil
	})
	if err := env.Update(context.Background(), tt, func() { tt.Spec.Destination.Name = "new" }); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		if s, _ := backend.last(oldKey); s.Access != nil {
			return fmt.Errorf("old destination still has %+v", s.Access.Grants)
		}
		if s, _ := backend.last(newKey); s == nil || s.Access == nil || len(s.Access.Grants) != 1 {
			return fmt.Errorf("new destination not granted: %+v", s)
		}
		return nil
	})
}
