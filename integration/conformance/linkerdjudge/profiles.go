package linkerdjudge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// ProfileSource is Linkerd's destination service reading a cluster that
// holds one scenario at a time: the Linkerd judge asks it for the profile a
// proxy receives instead of reading ServiceProfiles itself.
type ProfileSource interface {
	// Apply makes the cluster hold objs (a scenario's Services and the
	// ServiceProfiles smi-adapter wrote for it) in place of what the last
	// Apply wrote, and returns once the destination service has seen every
	// change, with the generation that names this state.
	Apply(objs []*unstructured.Unstructured) (generation int64, err error)
	// GetProfile asks the destination service for path
	// (<svc>.<ns>.svc.<domain>:<port>) as a proxy with contextToken does.
	// It fails when the cluster no longer holds generation (another judge
	// applied its scenario in between).
	GetProfile(generation int64, path, contextToken string) (*harness.LinkerdProfile, error)
}

// Destination is a ProfileSource: a kube-apiserver with Linkerd's CRDs (no
// smi-adapter: the judge writes what the translator produced) and Linkerd's
// own destination service (github.com/linkerd/linkerd2 at
// harness.LinkerdDestinationVersion, harness.StartLinkerdDestination)
// reading it. One serves a whole test run; judges use it one at a time.
type Destination struct {
	env  *harness.Env
	dest *harness.LinkerdDestination
	// StartTime is how long the control plane and the destination service
	// took to start.
	StartTime time.Duration

	mu         sync.Mutex
	gen        int64
	applied    []*unstructured.Unstructured
	namespaces map[string]bool
	stats      DestinationStats
}

// DestinationStats counts what a Destination did.
type DestinationStats struct {
	// Applies are the scenario states written to the cluster.
	Applies int
	// Objects are the objects created (Services, ServiceProfiles).
	Objects int
	// Profiles are the GetProfile calls judges made, as a proxy would.
	Profiles int
	// BarrierPolls are the GetProfile calls that waited for the destination
	// service to see an Apply; BarrierTime is the time they took.
	BarrierPolls int
	BarrierTime  time.Duration
}

// syncNamespace holds the sentinel ServiceProfile whose dstOverride names the
// generation: when the destination service answers with a generation's
// sentinel, it has seen every ServiceProfile change written before it (one
// informer, events in the apiserver's order).
const syncNamespace = "linkerd-judge-sync"

var _ ProfileSource = (*Destination)(nil)

// StartDestination starts a control plane with Linkerd's CRDs
// (harness.LinkerdCRDs) and Linkerd's destination service on it. Stop it with Stop.
func StartDestination() (*Destination, error) {
	start := time.Now()
	built, err := harness.LinkerdDestinationBuiltVersion()
	if err != nil {
		return nil, err
	}
	if built != harness.LinkerdDestinationVersion {
		return nil, fmt.Errorf("linkerd destination driver built with linkerd2 %s, want %s (make tools)", built, harness.LinkerdDestinationVersion)
	}
	crds, err := harness.LinkerdCRDs()
	if err != nil {
		return nil, err
	}
	env, err := harness.StartControlPlane(harness.Options{ExtraCRDPaths: []string{crds}})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	d := &Destination{env: env, namespaces: map[string]bool{"default": true}}
	if err := d.ensureNamespace(syncNamespace); err != nil {
		_ = env.Stop()
		return nil, err
	}
	if d.dest, err = harness.StartLinkerdDestination(env.Config); err != nil {
		_ = env.Stop()
		return nil, err
	}
	if err := d.barrier(); err != nil {
		_ = d.Stop()
		return nil, err
	}
	d.stats = DestinationStats{} // the first barrier waited for the start
	d.StartTime = time.Since(start)
	return d, nil
}

// Stop stops the destination service and the control plane.
func (d *Destination) Stop() error {
	var errs []error
	if d.dest != nil {
		errs = append(errs, d.dest.Stop())
	}
	errs = append(errs, d.env.Stop())
	return errors.Join(errs...)
}

// Stats says what the Destination did so far.
func (d *Destination) Stats() DestinationStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Apply implements ProfileSource. Namespaces are created as needed and
// kept (nothing finalizes a namespace in this control plane).
func (d *Destination) Apply(objs []*unstructured.Unstructured) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(objs) == 0 && len(d.applied) == 0 {
		return d.gen, nil
	}
	ctx := context.Background()
	c := d.env.Client
	for _, o := range d.applied {
		if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("delete %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	// Nothing here has finalizers: gone from the apiserver at once; wait
	// for it all the same, so the next creates never meet a terminating object.
	deadline := time.Now().Add(20 * time.Second)
	for _, o := range d.applied {
		for {
			probe := &unstructured.Unstructured{}
			probe.SetGroupVersionKind(o.GroupVersionKind())
			err := c.Get(ctx, client.ObjectKeyFromObject(o), probe)
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s %s/%s not deleted within 20s (%v)", o.GetKind(), o.GetNamespace(), o.GetName(), err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	d.applied = nil
	for _, o := range objs {
		o = o.DeepCopy()
		if o.GetNamespace() == "" {
			o.SetNamespace("default")
		}
		if err := d.ensureNamespace(o.GetNamespace()); err != nil {
			return 0, err
		}
		unstructured.RemoveNestedField(o.Object, "status")
		unstructured.RemoveNestedField(o.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(o.Object, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(o.Object, "metadata", "uid")
		if err := c.Create(ctx, o); err != nil {
			return 0, fmt.Errorf("create %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		d.applied = append(d.applied, o)
		d.stats.Objects++
	}
	d.stats.Applies++
	if err := d.barrier(); err != nil {
		return 0, err
	}
	return d.gen, nil
}

// barrier moves to the next generation: it writes the sentinel
// ServiceProfile naming it and waits until the destination service answers
// with it. Services need no barrier: a profile looked up by name depends on
// the ServiceProfiles alone (a Service's opaque-ports annotation and
// ExternalName type aside, which no scenario uses).
func (d *Destination) barrier() error {
	start := time.Now()
	d.gen++
	want := fmt.Sprintf("gen-%d.%s.svc.cluster.local:1", d.gen, syncNamespace)
	sentinel := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"dstOverrides": []any{map[string]any{"authority": want, "weight": int64(1)}},
	}}}
	sentinel.SetGroupVersionKind(linkerd.ServiceProfileGVK)
	sentinel.SetNamespace(syncNamespace)
	sentinel.SetName(linkerd.ServiceProfileName("sentinel", syncNamespace, "cluster.local"))
	ctx := context.Background()
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(linkerd.ServiceProfileGVK)
	err := d.env.Client.Get(ctx, client.ObjectKeyFromObject(sentinel), cur)
	switch {
	case apierrors.IsNotFound(err):
		err = d.env.Client.Create(ctx, sentinel)
	case err == nil:
		sentinel.SetResourceVersion(cur.GetResourceVersion())
		err = d.env.Client.Update(ctx, sentinel)
	}
	if err != nil {
		return fmt.Errorf("sentinel ServiceProfile: %w", err)
	}
	path := sentinel.GetName() + ":1"
	token := fmt.Sprintf(`{"ns":%q}`, syncNamespace)
	sleep := time.Millisecond
	for {
		p, err := d.dest.GetProfile(path, token)
		d.stats.BarrierPolls++
		if err != nil {
			return err
		}
		if len(p.DstOverrides) == 1 && p.DstOverrides[0].Authority == want {
			break
		}
		if time.Since(start) > 20*time.Second {
			return fmt.Errorf("Linkerd's destination service did not see generation %d within 20s: it answers %s", d.gen, p.Raw)
		}
		time.Sleep(sleep)
		sleep = min(2*sleep, 20*time.Millisecond)
	}
	d.stats.BarrierTime += time.Since(start)
	return nil
}

func (d *Destination) ensureNamespace(ns string) error {
	if d.namespaces[ns] {
		return nil
	}
	err := d.env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	d.namespaces[ns] = true
	return nil
}

// GetProfile implements ProfileSource.
func (d *Destination) GetProfile(generation int64, path, contextToken string) (*harness.LinkerdProfile, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if generation != d.gen {
		return nil, fmt.Errorf("the cluster holds generation %d of the scenarios, not %d: another judge applied its scenario in between (judges share a Destination one at a time)", d.gen, generation)
	}
	d.stats.Profiles++
	return d.dest.GetProfile(path, contextToken)
}
