package controller

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestStoresAnswerAsTheCache: on the manager's own cache (its transforms,
// a real kube-apiserver), the Pod and Service informers' stores are found
// (a controller-runtime upgrade that hides them would silently bring back
// the copying List) and answer a namespace's objects as the cache's List
// does, with the cache's own pointers.
func TestStoresAnswerAsTheCache(t *testing.T) {
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver (KUBEBUILDER_ASSETS, `make tools`): %v", err)
	}
	defer func() { _ = env.Stop() }()
	mgr, err := NewManager(cfg, ManagerOptions{MetricsBindAddress: "0", HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := newStores(ctx, mgr.GetCache())
	if err != nil {
		t.Fatal(err)
	}
	if st.pods == nil || st.services == nil {
		t.Fatalf("stores not found behind the cache's informers (pods %v, services %v)", st.pods != nil, st.services != nil)
	}
	c, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"a", "b"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			name := fmt.Sprintf("%s-%d", ns, i)
			if err := c.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}}); err != nil {
				t.Fatal(err)
			}
			if err := c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{ServiceAccountName: name, Containers: []corev1.Container{{Name: "c", Image: "app"}}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	go func() { _ = mgr.GetCache().Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	names := func(objs []client.Object) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.GetNamespace()+"/"+o.GetName())
		}
		slices.Sort(out)
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fromStores := &cacheSource{ctx: ctx, r: mgr.GetClient(), stores: st}
		fromList := &cacheSource{ctx: ctx, r: mgr.GetClient()}
		var got, want []client.Object
		for _, ns := range []string{"a", "b"} {
			for _, o := range fromStores.Pods(ns) {
				got = append(got, o)
			}
			for _, o := range fromStores.Services(ns) {
				got = append(got, o)
			}
			for _, o := range fromList.Pods(ns) {
				want = append(want, o)
			}
			for _, o := range fromList.Services(ns) {
				want = append(want, o)
			}
		}
		if fromStores.err != nil || fromList.err != nil {
			t.Fatalf("read errors: stores %v, list %v", fromStores.err, fromList.err)
		}
		g, w := names(got), names(want)
		if len(w) == 12 && slices.Equal(g, w) {
			// The stores hand out the transformed objects the cache holds.
			for _, o := range got {
				if len(o.GetManagedFields()) > 0 {
					t.Fatalf("%s from the store still has managedFields: not the cache's transformed object", o.GetName())
				}
			}
			if p := fromStores.Pods("a"); len(p) != 3 || p[0].Spec.ServiceAccountName == "" {
				t.Fatalf("pods of a from the store: %+v", p)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stores answer %v, the cache's List %v", g, w)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
