package storagemigration_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/smi-adapter/smi-adapter/core/storagemigration"
)

var splits = storagemigration.Resource{CRD: "trafficsplits.split.smi-spec.io", Hub: schema.GroupVersionKind{Group: "split.smi-spec.io", Version: "v1alpha4", Kind: "TrafficSplit"}}

func crd(storage string, stored ...string) *apiextensionsv1.CustomResourceDefinition {
	c := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: splits.CRD},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: "split.smi-spec.io", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "trafficsplits", Kind: "TrafficSplit"}},
		Status: apiextensionsv1.CustomResourceDefinitionStatus{StoredVersions: stored}}
	c.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter}
	for _, v := range []string{"v1alpha1", "v1alpha2", "v1alpha4"} {
		c.Spec.Versions = append(c.Spec.Versions, apiextensionsv1.CustomResourceDefinitionVersion{Name: v, Served: true, Storage: v == storage,
			Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}}})
	}
	return c
}

func split(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(splits.Hub)
	u.SetNamespace(ns)
	u.SetName(name)
	_ = unstructured.SetNestedField(u.Object, "web", "spec", "service")
	return u
}

// counts are the calls the migrator made (it makes them one at a time).
type counts struct {
	lists, statusUpdates, crdPatches int
	updated                          []string
}

type world struct {
	c      client.WithWatch
	counts *counts
	events *events.FakeRecorder
}

// newWorld: a fake API with the CRD and objects; funcs may replace calls
// (nil fields keep the fake's own).
func newWorld(t *testing.T, c *apiextensionsv1.CustomResourceDefinition, funcs interceptor.Funcs, objs ...client.Object) *world {
	t.Helper()
	s := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	n := &counts{}
	status := []client.Object{&apiextensionsv1.CustomResourceDefinition{}}
	status = append(status, objs...)
	init := objs
	if c != nil {
		init = append([]client.Object{c}, objs...)
	}
	list, update, patch := funcs.List, funcs.SubResourceUpdate, funcs.SubResourcePatch
	funcs.List = func(ctx context.Context, cl client.WithWatch, l client.ObjectList, opts ...client.ListOption) error {
		n.lists++
		if list != nil {
			return list(ctx, cl, l, opts...)
		}
		return cl.List(ctx, l, opts...)
	}
	funcs.SubResourceUpdate = func(ctx context.Context, cl client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
		n.statusUpdates++
		n.updated = append(n.updated, o.GetNamespace()+"/"+o.GetName())
		if update != nil {
			return update(ctx, cl, sub, o, opts...)
		}
		return cl.SubResource(sub).Update(ctx, o, opts...)
	}
	funcs.SubResourcePatch = func(ctx context.Context, cl client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
		n.crdPatches++
		if patch != nil {
			return patch(ctx, cl, sub, o, p, opts...)
		}
		return cl.SubResource(sub).Patch(ctx, o, p, opts...)
	}
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(init...).WithStatusSubresource(status...).WithInterceptorFuncs(funcs).Build()
	return &world{c: cl, counts: n, events: events.NewFakeRecorder(10)}
}

func (w *world) migrator() *storagemigration.Migrator {
	return &storagemigration.Migrator{Reader: w.c, Client: w.c, Recorder: w.events, Resources: []storagemigration.Resource{splits},
		Retry: time.Millisecond, MaxRetry: 5 * time.Millisecond}
}

func (w *world) storedVersions(t *testing.T) []string {
	t.Helper()
	var got apiextensionsv1.CustomResourceDefinition
	if err := w.c.Get(context.Background(), client.ObjectKey{Name: splits.CRD}, &got); err != nil {
		t.Fatal(err)
	}
	return got.Status.StoredVersions
}

func TestMigratesAndTrimsStoredVersions(t *testing.T) {
	w := newWorld(t, crd("v1alpha4", "v1alpha1", "v1alpha4"), interceptor.Funcs{}, split("a", "one"), split("a", "two"), split("b", "three"))
	if err := w.migrator().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	slices.Sort(w.counts.updated)
	if want := []string{"a/one", "a/two", "b/three"}; !slices.Equal(w.counts.updated, want) {
		t.Errorf("rewrote %v, want %v", w.counts.updated, want)
	}
	if got := w.storedVersions(t); !slices.Equal(got, []string{"v1alpha4"}) {
		t.Errorf("storedVersions %v, want [v1alpha4]", got)
	}
	// A second pass costs a GET.
	calls := w.counts.lists + w.counts.statusUpdates + w.counts.crdPatches
	if err := w.migrator().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := w.counts.lists + w.counts.statusUpdates + w.counts.crdPatches; again != calls {
		t.Errorf("a migrated CRD was listed or written again: %d calls, then %d", calls, again)
	}
}

func TestNothingToDo(t *testing.T) {
	for name, c := range map[string]*apiextensionsv1.CustomResourceDefinition{"hub only": crd("v1alpha4", "v1alpha4"), "not installed": nil} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, c, interceptor.Funcs{}, split("a", "one"))
			if err := w.migrator().Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if w.counts.lists+w.counts.statusUpdates+w.counts.crdPatches != 0 {
				t.Errorf("calls %+v, want none", w.counts)
			}
		})
	}
}

// TestNotSMIAdaptersCRDsYet: the upstream CRD is still installed (storage
// v1alpha1): nothing is written, and the error says why.
func TestNotSMIAdaptersCRDsYet(t *testing.T) {
	w := newWorld(t, crd("v1alpha1", "v1alpha1"), interceptor.Funcs{}, split("a", "one"))
	err := w.migrator().Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "storage version is not v1alpha4") {
		t.Fatalf("err %v", err)
	}
	if w.counts.statusUpdates+w.counts.crdPatches != 0 {
		t.Errorf("calls %+v, want no writes", w.counts)
	}
	// smi-adapter's storage version, but no conversion (someone patched it
	// to None): a write would store old fields as the hub.
	none := crd("v1alpha4", "v1alpha1", "v1alpha4")
	none.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
	w = newWorld(t, none, interceptor.Funcs{}, split("a", "one"))
	if err := w.migrator().Run(context.Background()); err == nil || !strings.Contains(err.Error(), "does not convert through a webhook") {
		t.Fatalf("err %v", err)
	}
	if w.counts.statusUpdates+w.counts.crdPatches != 0 {
		t.Errorf("calls %+v with conversion None, want no writes", w.counts)
	}
	noStatus := crd("v1alpha4", "v1alpha1", "v1alpha4")
	noStatus.Spec.Versions[2].Subresources = nil
	w = newWorld(t, noStatus, interceptor.Funcs{}, split("a", "one"))
	if err := w.migrator().Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no status subresource") {
		t.Fatalf("err %v", err)
	}
}

// TestFailedObjectKeepsStoredVersions: one object that cannot be written
// keeps the old version in storedVersions (removing it would make that
// object unreadable once the version goes), gets an Event, and the others
// are still rewritten.
func TestFailedObjectKeepsStoredVersions(t *testing.T) {
	w := newWorld(t, crd("v1alpha4", "v1alpha1", "v1alpha4"), interceptor.Funcs{
		SubResourceUpdate: func(ctx context.Context, cl client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
			if o.GetName() == "bad" {
				return apierrors.NewInvalid(schema.GroupKind{Group: "split.smi-spec.io", Kind: "TrafficSplit"}, "bad", nil)
			}
			return cl.SubResource(sub).Update(ctx, o, opts...)
		},
	}, split("a", "good"), split("a", "bad"))
	err := w.migrator().Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1 of 2 objects") {
		t.Fatalf("err %v", err)
	}
	if got := w.storedVersions(t); !slices.Equal(got, []string{"v1alpha1", "v1alpha4"}) {
		t.Errorf("storedVersions %v, want them kept", got)
	}
	select {
	case e := <-w.events.Events:
		if !strings.Contains(e, storagemigration.ReasonFailed) || !strings.Contains(e, "Warning") {
			t.Errorf("event %q", e)
		}
	default:
		t.Error("no Event for the failed object")
	}
	if len(w.events.Events) != 0 {
		t.Errorf("%d more Events, want one per failed object", len(w.events.Events))
	}
}

// TestConflictAndDeletion: an object changed meanwhile is read again and
// written; one deleted meanwhile is done.
func TestConflictAndDeletion(t *testing.T) {
	conflicts := 0
	w := newWorld(t, crd("v1alpha4", "v1alpha2", "v1alpha4"), interceptor.Funcs{
		SubResourceUpdate: func(ctx context.Context, cl client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
			switch {
			case o.GetName() == "changed" && conflicts == 0:
				conflicts++
				return apierrors.NewConflict(schema.GroupResource{Group: "split.smi-spec.io", Resource: "trafficsplits"}, "changed", errors.New("the object has been modified"))
			case o.GetName() == "gone":
				return apierrors.NewNotFound(schema.GroupResource{Group: "split.smi-spec.io", Resource: "trafficsplits"}, "gone")
			}
			return cl.SubResource(sub).Update(ctx, o, opts...)
		},
	}, split("a", "changed"), split("a", "gone"))
	if err := w.migrator().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.storedVersions(t); !slices.Equal(got, []string{"v1alpha4"}) {
		t.Errorf("storedVersions %v", got)
	}
	if w.counts.statusUpdates != 3 {
		t.Errorf("%d status writes, want 3 (changed twice, gone once)", w.counts.statusUpdates)
	}
}

// TestPages: a list in pages rewrites every page.
func TestPages(t *testing.T) {
	var objs []client.Object
	for i := range 5 {
		objs = append(objs, split("a", fmt.Sprintf("s%d", i)))
	}
	w := newWorld(t, crd("v1alpha4", "v1alpha1", "v1alpha4"), interceptor.Funcs{
		// The fake client does not page: pages of two, the continue token
		// is the next index.
		List: func(ctx context.Context, cl client.WithWatch, l client.ObjectList, opts ...client.ListOption) error {
			lo := (&client.ListOptions{}).ApplyOptions(opts)
			if err := cl.List(ctx, l); err != nil {
				return err
			}
			ul := l.(*unstructured.UnstructuredList)
			slices.SortFunc(ul.Items, func(a, b unstructured.Unstructured) int { return strings.Compare(a.GetName(), b.GetName()) })
			from := 0
			if lo.Continue != "" {
				_, _ = fmt.Sscanf(lo.Continue, "%d", &from)
			}
			to := min(from+int(lo.Limit), len(ul.Items))
			ul.Items = ul.Items[from:to]
			ul.SetContinue("")
			if to < 5 {
				ul.SetContinue(fmt.Sprint(to))
			}
			return nil
		},
	}, objs...)
	m := w.migrator()
	m.PageSize = 2
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.counts.lists != 3 || w.counts.statusUpdates != 5 {
		t.Errorf("%d lists and %d writes, want 3 and 5", w.counts.lists, w.counts.statusUpdates)
	}
}

// TestStartRetries: a pass that fails (the webhook not serving yet, say) is
// retried until one succeeds; Start then returns nil.
func TestStartRetries(t *testing.T) {
	fails := 2
	w := newWorld(t, crd("v1alpha4", "v1alpha1", "v1alpha4"), interceptor.Funcs{
		List: func(ctx context.Context, cl client.WithWatch, l client.ObjectList, opts ...client.ListOption) error {
			if fails > 0 {
				fails--
				return errors.New("conversion webhook for split.smi-spec.io/v1alpha1, Kind=TrafficSplit failed: connection refused")
			}
			return cl.List(ctx, l, opts...)
		},
	}, split("a", "one"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.migrator().Start(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Start did not return before the deadline")
	}
	if got := w.storedVersions(t); !slices.Equal(got, []string{"v1alpha4"}) {
		t.Errorf("storedVersions %v", got)
	}
	if !w.migrator().NeedLeaderElection() {
		t.Error("the migration must run as the leader only")
	}
}

// TestStartStopsWithContext: while something is left, Start returns when
// its context ends.
func TestStartStopsWithContext(t *testing.T) {
	w := newWorld(t, crd("v1alpha1", "v1alpha1"), interceptor.Funcs{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.migrator().Start(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start did not return after its context ended")
	}
}

// TestCRDChangedMeanwhile: storedVersions is set only on the CRD version
// that was checked; a CRD changed during the pass is a conflict, retried.
func TestCRDChangedMeanwhile(t *testing.T) {
	w := newWorld(t, crd("v1alpha4", "v1alpha1", "v1alpha4"), interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			// Someone applies the CRD again between the check and the patch.
			var c apiextensionsv1.CustomResourceDefinition
			if err := cl.Get(ctx, client.ObjectKey{Name: splits.CRD}, &c); err != nil {
				return err
			}
			c.Labels = map[string]string{"changed": "yes"}
			if err := cl.Update(ctx, &c); err != nil {
				return err
			}
			return cl.SubResource(sub).Patch(ctx, o, p, opts...)
		},
	}, split("a", "one"))
	err := w.migrator().Run(context.Background())
	if !apierrors.IsConflict(err) {
		t.Fatalf("err %v, want a conflict", err)
	}
	if got := w.storedVersions(t); !slices.Equal(got, []string{"v1alpha1", "v1alpha4"}) {
		t.Errorf("storedVersions %v, want them kept", got)
	}
}
