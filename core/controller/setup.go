package controller

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// Config of the SMI controller.
type Config struct {
	Backend backend.Backend
	// MaxConcurrentReconciles is the number of keys reconciled in parallel.
	MaxConcurrentReconciles int
	// Enqueuer, when the backend was given its Add, is connected to the queue.
	Enqueuer *Enqueuer
	// SkipNameValidation allows several managers in one process (tests, demo).
	SkipNameValidation bool
}

// Setup registers the indexes, the watches and the keyed reconciler with mgr.
func Setup(ctx context.Context, mgr manager.Manager, cfg Config) error {
	if cfg.Backend == nil {
		return fmt.Errorf("no backend")
	}
	build := normalize.Options{IdentitiesElsewhere: backend.IdentitiesElsewhere(cfg.Backend)}
	if err := setupIndexes(ctx, mgr.GetFieldIndexer(), build.IdentitiesElsewhere); err != nil {
		return err
	}
	c := mgr.GetCache()
	st, err := newStores(ctx, c)
	if err != nil {
		return err
	}
	workers := cfg.MaxConcurrentReconciles
	if workers <= 0 {
		workers = 16 // reconciles wait on API round trips, not CPU
	}
	r := &Reconciler{client: mgr.GetClient(), stores: st, backend: cfg.Backend, recorder: mgr.GetEventRecorder("smi-adapter"), build: build, workers: workers}
	m := &mapper{c: mgr.GetClient(), elsewhere: build.IdentitiesElsewhere}
	b := builder.TypedControllerManagedBy[model.Key](mgr)
	if w, ok := cfg.Backend.(backend.Watcher); ok {
		for _, watch := range w.Watches() {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(watch.GVK)
			for _, ix := range watch.Indexes {
				extract := ix.Extract
				if err := mgr.GetFieldIndexer().IndexField(ctx, u.DeepCopy(), ix.Field, func(o client.Object) []string {
					if uo, ok := o.(*unstructured.Unstructured); ok {
						return extract(uo)
					}
					return nil
				}); err != nil {
					return fmt.Errorf("index %s %s: %w", watch.GVK.Kind, ix.Field, err)
				}
			}
			b = b.WatchesRawSource(source.TypedKind(c, u, keys(func(_ context.Context, o *unstructured.Unstructured) []model.Key { return watch.Map(o) })))
		}
	}
	// The mesh-wide key is reconciled once at start (and whenever what the
	// backend writes for it changes, through its watches).
	b = b.WatchesRawSource(source.TypedFunc[model.Key](func(_ context.Context, q workqueue.TypedRateLimitingInterface[model.Key]) error {
		q.Add(model.MeshKey)
		if cfg.Enqueuer != nil {
			cfg.Enqueuer.connect(q)
		}
		return nil
	}))
	return b.
		Named("smi").
		WithOptions(controller.TypedOptions[model.Key]{MaxConcurrentReconciles: workers, SkipNameValidation: &cfg.SkipNameValidation,
			NewQueue: r.newQueue(mgr.GetLogger())}).
		WatchesRawSource(source.TypedKind(c, &accessv1alpha3.TrafficTarget{}, targetHandler())).
		WatchesRawSource(source.TypedKind(c, &splitv1alpha4.TrafficSplit{}, m.splitHandler())).
		WatchesRawSource(source.TypedKind(c, &specsv1alpha4.HTTPRouteGroup{}, routeHandler[*specsv1alpha4.HTTPRouteGroup](m, normalize.KindHTTPRouteGroup))).
		WatchesRawSource(source.TypedKind(c, &specsv1alpha4.TCPRoute{}, routeHandler[*specsv1alpha4.TCPRoute](m, normalize.KindTCPRoute))).
		WatchesRawSource(source.TypedKind(c, &specsv1alpha4.UDPRoute{}, routeHandler[*specsv1alpha4.UDPRoute](m, normalize.KindUDPRoute))).
		WatchesRawSource(source.TypedKind(c, &corev1.Service{}, serviceHandler(m))).
		WatchesRawSource(source.TypedKind(c, &corev1.Pod{}, podHandler(m))).
		Complete(r)
}

// targetHandler: a TrafficTarget's key (its destination's); a new grant waits.
func targetHandler() handler.TypedFuncs[*accessv1alpha3.TrafficTarget, model.Key] {
	return newGrantsWait(keys(func(_ context.Context, o *accessv1alpha3.TrafficTarget) []model.Key {
		return []model.Key{normalize.AccessKey(o)}
	}))
}

// splitHandler: a TrafficSplit's key, and the access keys behind its root
// (their policies list the root as a split root).
func (m *mapper) splitHandler() handler.TypedFuncs[*splitv1alpha4.TrafficSplit, model.Key] {
	return keys(func(ctx context.Context, o *splitv1alpha4.TrafficSplit) []model.Key {
		return append([]model.Key{normalize.SplitKey(o)}, m.accessKeysBehindName(ctx, o.Namespace, o.Spec.Service)...)
	})
}

// routeHandler: a route's own key and the keys of the objects that use it.
func routeHandler[T client.Object](m *mapper, kind string) handler.TypedFuncs[T, model.Key] {
	return keys(func(ctx context.Context, o T) []model.Key {
		return m.routeKeys(ctx, kind, o.GetNamespace(), o.GetName())
	})
}

// mapper turns a change of a referenced object into the keys it affects,
// through the cache indexes: cost proportional to what the change touches.
// With elsewhere (normalize.Options.IdentitiesElsewhere), a pod or Service
// also affects the policies granting a source of its identity's name, in
// every namespace.
type mapper struct {
	c         client.Reader
	elsewhere bool
}

// sourceNameKeys: with elsewhere, the access keys of every TrafficTarget
// (any namespace) that names a source called one of names.
func (m *mapper) sourceNameKeys(ctx context.Context, names ...string) []model.Key {
	if !m.elsewhere {
		return nil
	}
	// A grant's source stands for the names its pods register under too
	// (model.Grant.SourceNames): an identity of one of those names counts
	// for the keys granting the service accounts of those pods.
	all := slices.Clone(names)
	for _, name := range names {
		var pods corev1.PodList
		if err := m.c.List(ctx, &pods, client.MatchingFields{indexIdentity: name}, client.UnsafeDisableDeepCopy); err != nil {
			logf.FromContext(ctx).Error(err, "list pods by identity", "name", name)
			continue
		}
		for i := range pods.Items {
			if sa := normalize.ServiceAccountOf(&pods.Items[i]); sa != name && !slices.Contains(all, sa) && slices.Contains(normalize.ConnectServiceNames(&pods.Items[i]), name) {
				all = append(all, sa)
			}
		}
	}
	names = all
	var out []model.Key
	for _, name := range names {
		var tts accessv1alpha3.TrafficTargetList
		if err := m.c.List(ctx, &tts, client.MatchingFields{indexSources: name}, client.UnsafeDisableDeepCopy); err != nil {
			logf.FromContext(ctx).Error(err, "list TrafficTargets by source name", "name", name)
			continue
		}
		for i := range tts.Items {
			if k := normalize.AccessKey(&tts.Items[i]); !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// identityKeys: sourceNameKeys of the identities that pods or Services (one
// object, or the old and new forms of one) make exist (normalize.IdentityNames:
// for a pod its service account and its connect-service names). Given both
// forms, only the names one has and the other lacks: an edit that keeps a
// pod's names (a status write) enqueues nothing.
func (m *mapper) identityKeys(ctx context.Context, pods []*corev1.Pod, svcs []*corev1.Service) []model.Key {
	if !m.elsewhere {
		return nil
	}
	var sets [][]string
	for _, p := range pods {
		sets = append(sets, normalize.IdentityNames(p, nil))
	}
	for _, s := range svcs {
		sets = append(sets, normalize.IdentityNames(nil, s))
	}
	var names []string
	if len(sets) == 2 {
		for i, set := range sets {
			for _, n := range set {
				if !slices.Contains(sets[1-i], n) {
					names = append(names, n)
				}
			}
		}
	} else {
		for _, set := range sets {
			names = append(names, set...)
		}
	}
	regChanged := len(names) > 0 || len(pods) != 2 ||
		normalize.ServiceAccountOf(pods[0]) != normalize.ServiceAccountOf(pods[1]) ||
		!slices.Equal(normalize.ConnectServiceNames(pods[0]), normalize.ConnectServiceNames(pods[1]))
	if regChanged {
		// The names the pods register under, or who they run as, changed:
		// so did the model.Grant.SourceNames of the sources they run as.
		for _, p := range pods {
			names = append(names, normalize.ServiceAccountOf(p))
		}
	}
	slices.Sort(names)
	return m.sourceNameKeys(ctx, slices.Compact(names)...)
}

func (m *mapper) routeKeys(ctx context.Context, kind, ns, name string) []model.Key {
	out := []model.Key{{Kind: model.KeyRoute, RouteKind: kind, Namespace: ns, Name: name}}
	v := routeIndexValue(kind, ns, name)
	var tts accessv1alpha3.TrafficTargetList
	if err := m.c.List(ctx, &tts, client.InNamespace(ns), client.MatchingFields{indexRoutes: v}); err != nil {
		logf.FromContext(ctx).Error(err, "list TrafficTargets by route", "route", v)
	}
	for i := range tts.Items {
		out = append(out, normalize.AccessKey(&tts.Items[i]))
	}
	var tss splitv1alpha4.TrafficSplitList
	if err := m.c.List(ctx, &tss, client.InNamespace(ns), client.MatchingFields{indexRoutes: v}); err != nil {
		logf.FromContext(ctx).Error(err, "list TrafficSplits by route", "route", v)
	}
	for i := range tss.Items {
		out = append(out, normalize.SplitKey(&tss.Items[i]))
	}
	return out
}

func (m *mapper) serviceKeys(ctx context.Context, svc *corev1.Service) []model.Key {
	ns, name := svc.Namespace, svc.Name
	out := m.splitKeysOfService(ctx, ns, name)
	// Access keys list the Services in front of their pods: the accounts of
	// the pods this Service selects are affected.
	return append(out, m.accessKeysBehind(ctx, svc)...)
}

// serviceHandler enqueues serviceKeys; a Service created or deleted also
// makes an identity of its name exist or go (identityKeys; an edit keeps
// its name).
func serviceHandler(m *mapper) handler.TypedFuncs[*corev1.Service, model.Key] {
	h := keys(m.serviceKeys)
	create, del := h.CreateFunc, h.DeleteFunc
	h.CreateFunc = func(ctx context.Context, e event.TypedCreateEvent[*corev1.Service], q queue) {
		create(ctx, e, q)
		enqueue(q, m.identityKeys(ctx, nil, []*corev1.Service{e.Object})...)
	}
	h.DeleteFunc = func(ctx context.Context, e event.TypedDeleteEvent[*corev1.Service], q queue) {
		del(ctx, e, q)
		enqueue(q, m.identityKeys(ctx, nil, []*corev1.Service{e.Object})...)
	}
	return h
}

// accessKeysBehindName: accessKeysBehind of the Service ns/name, if it exists.
func (m *mapper) accessKeysBehindName(ctx context.Context, ns, name string) []model.Key {
	var svc corev1.Service
	if err := m.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		return nil
	}
	return m.accessKeysBehind(ctx, &svc)
}

// accessKeysBehind: the access keys of the accounts whose pods svc selects
// (given the old and the new form of a Service, each selector is followed).
func (m *mapper) accessKeysBehind(ctx context.Context, svc *corev1.Service) []model.Key {
	ns := svc.Namespace
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	var pods corev1.PodList
	if err := m.c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(svc.Spec.Selector), client.UnsafeDisableDeepCopy); err != nil {
		logf.FromContext(ctx).Error(err, "list pods of service", "service", ns+"/"+svc.Name)
		return nil
	}
	destinations, err := m.destinations(ctx, ns)
	seen := map[string]bool{}
	var out []model.Key
	for i := range pods.Items {
		key := model.Key{Kind: model.KeyAccess, Namespace: ns, Name: normalize.ServiceAccountOf(&pods.Items[i])}
		if !seen[key.Name] && (err != nil || destinations[key]) { // on error, reconcile rather than miss it
			out = append(out, key)
		}
		seen[key.Name] = true
	}
	return out
}

func (m *mapper) splitKeysOfService(ctx context.Context, ns, name string) []model.Key {
	var tss splitv1alpha4.TrafficSplitList
	if err := m.c.List(ctx, &tss, client.InNamespace(ns), client.MatchingFields{indexServices: ns + "/" + name}); err != nil {
		logf.FromContext(ctx).Error(err, "list TrafficSplits by service", "service", ns+"/"+name)
	}
	var out []model.Key
	for i := range tss.Items {
		out = append(out, normalize.SplitKey(&tss.Items[i]))
	}
	return out
}

// splitKeysOfPods: the split keys whose root or backends are Services
// selecting one of pods (old and new form of a pod): the names consul-k8s
// registers those Services' pods under are part of the split's model
// (model.Service.RegisteredNames).
func (m *mapper) splitKeysOfPods(ctx context.Context, pods ...*corev1.Pod) []model.Key {
	if len(pods) == 0 {
		return nil
	}
	var svcs corev1.ServiceList
	if err := m.c.List(ctx, &svcs, client.InNamespace(pods[0].Namespace), client.UnsafeDisableDeepCopy); err != nil {
		logf.FromContext(ctx).Error(err, "list Services of namespace", "namespace", pods[0].Namespace)
		return nil
	}
	var out []model.Key
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		for _, p := range pods {
			if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(p.Labels)) {
				out = append(out, m.splitKeysOfService(ctx, svc.Namespace, svc.Name)...)
				break
			}
		}
	}
	return out
}

// podKeys: the access keys a pod's appearance, change or removal affects —
// its own identity's (its workloads, ports, probes, Services), and those of
// other identities one of whose pods shares a selector label with it: such a
// pod can make their selectors select it (they must narrow) or stop doing so.
// Given the old and new form of a pod, it covers both. Only identities some
// TrafficTarget names as destination have a key.
func (m *mapper) podKeys(ctx context.Context, pods ...*corev1.Pod) []model.Key {
	if len(pods) == 0 {
		return nil
	}
	ns := pods[0].Namespace
	affected := map[model.Key]bool{}
	for _, p := range pods {
		affected[model.Key{Kind: model.KeyAccess, Namespace: ns, Name: normalize.ServiceAccountOf(p)}] = true
	}
	destinations, err := m.destinations(ctx, ns)
	if err != nil {
		return slices.Collect(maps.Keys(affected)) // the pods' own identities at least
	}
	others := false
	for k := range destinations {
		others = others || !affected[k]
	}
	if others {
		var all corev1.PodList
		if err := m.c.List(ctx, &all, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			logf.FromContext(ctx).Error(err, "list pods of namespace", "namespace", ns)
		}
		for i := range all.Items {
			q := &all.Items[i]
			k := model.Key{Kind: model.KeyAccess, Namespace: ns, Name: normalize.ServiceAccountOf(q)}
			if affected[k] || !destinations[k] {
				continue
			}
			for _, p := range pods {
				if normalize.SharesSelectorLabel(p, q) {
					affected[k] = true
					break
				}
			}
		}
	}
	var out []model.Key
	for k := range affected {
		if destinations[k] {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b model.Key) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// destinations: the access keys of namespace ns some TrafficTarget names.
func (m *mapper) destinations(ctx context.Context, ns string) (map[model.Key]bool, error) {
	var tts accessv1alpha3.TrafficTargetList
	if err := m.c.List(ctx, &tts, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		logf.FromContext(ctx).Error(err, "list TrafficTargets of namespace", "namespace", ns)
		return nil, err
	}
	out := map[model.Key]bool{}
	for i := range tts.Items {
		out[normalize.AccessKey(&tts.Items[i])] = true
	}
	return out, nil
}

type queue = workqueue.TypedRateLimitingInterface[model.Key]

// keys is an event handler that enqueues fn(object), and on update the keys
// of both the old and the new object (a TrafficTarget whose destination
// changed must also be reconciled under its old key, to remove what it granted).
// Updates that change neither spec nor annotations (status writes) are dropped.
func keys[T client.Object](fn func(context.Context, T) []model.Key) handler.TypedFuncs[T, model.Key] {
	add := func(_ context.Context, q queue, ks []model.Key) { enqueue(q, ks...) }
	return handler.TypedFuncs[T, model.Key]{
		CreateFunc: func(ctx context.Context, e event.TypedCreateEvent[T], q queue) { add(ctx, q, fn(ctx, e.Object)) },
		UpdateFunc: func(ctx context.Context, e event.TypedUpdateEvent[T], q queue) {
			if e.ObjectOld.GetGeneration() == e.ObjectNew.GetGeneration() && e.ObjectNew.GetGeneration() != 0 &&
				maps.Equal(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()) {
				return // status or label change of an object with a spec generation
			}
			ks := fn(ctx, e.ObjectOld)
			for _, k := range fn(ctx, e.ObjectNew) {
				if !slices.Contains(ks, k) {
					ks = append(ks, k)
				}
			}
			add(ctx, q, ks)
		},
		DeleteFunc:  func(ctx context.Context, e event.TypedDeleteEvent[T], q queue) { add(ctx, q, fn(ctx, e.Object)) },
		GenericFunc: func(ctx context.Context, e event.TypedGenericEvent[T], q queue) { add(ctx, q, fn(ctx, e.Object)) },
	}
}

// enqueue adds keys at priority 0, explicitly: a key waiting at a lower
// priority (a new grant) is raised, since whatever else changed may narrow it.
func enqueue(q queue, ks ...model.Key) {
	if pq, ok := q.(priorityqueue.PriorityQueue[model.Key]); ok {
		p := 0
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: &p}, ks...)
		return
	}
	for _, k := range ks {
		q.Add(k)
	}
}

// newGrantPriority is the queue priority of the key of a TrafficTarget just
// created: behind every other key waiting (those have 0).
const newGrantPriority = -1

// newGrantsWait makes the creation of a TrafficTarget enqueue its key behind
// the keys already waiting: a new grant that waits denies a little longer
// (fails closed), and a mesh that validates its routing entries against
// every intention it holds (Consul compiles the discovery chain of each
// intention's destination on every service-defaults or splitter write) does
// far less work when routes come before intentions. Updates and deletions
// (which may revoke access) are not delayed, and a key that is waiting keeps
// the highest priority it was given.
func newGrantsWait[T client.Object](h handler.TypedFuncs[T, model.Key]) handler.TypedFuncs[T, model.Key] {
	create := h.CreateFunc // updates and deletions enqueue at 0 (keys)
	h.CreateFunc = func(ctx context.Context, e event.TypedCreateEvent[T], q queue) {
		pq, ok := q.(priorityqueue.PriorityQueue[model.Key])
		if !ok {
			create(ctx, e, q)
			return
		}
		capture := &keyCapture{queue: q}
		create(ctx, e, capture)
		p := newGrantPriority
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: &p}, capture.keys...)
	}
	return h
}

// keyCapture collects the keys a handler adds instead of queueing them.
type keyCapture struct {
	queue
	keys []model.Key
}

func (c *keyCapture) Add(k model.Key) { c.keys = append(c.keys, k) }

// podHandler enqueues on pod create/delete and on changes that move a pod in
// or out of a selection: labels, service account, terminal phase, ports,
// the annotations the model reads (meshAnnotationsChanged);
// and, for a backend that collapses namespaces, on changes of the identity
// names it makes exist (service account, terminal phase, consul-k8s's
// connect-service annotation: identityKeys).
func podHandler(m *mapper) handler.TypedEventHandler[*corev1.Pod, model.Key] {
	return handler.TypedFuncs[*corev1.Pod, model.Key]{
		CreateFunc: func(ctx context.Context, e event.TypedCreateEvent[*corev1.Pod], q queue) {
			enqueue(q, m.podKeys(ctx, e.Object)...)
			enqueue(q, m.splitKeysOfPods(ctx, e.Object)...)
			enqueue(q, m.identityKeys(ctx, []*corev1.Pod{e.Object}, nil)...)
		},
		UpdateFunc: func(ctx context.Context, e event.TypedUpdateEvent[*corev1.Pod], q queue) {
			o, n := e.ObjectOld, e.ObjectNew
			if !maps.Equal(o.Labels, n.Labels) || o.Spec.ServiceAccountName != n.Spec.ServiceAccountName ||
				terminal(o) != terminal(n) || !equality.Semantic.DeepEqual(containerPorts(o), containerPorts(n)) ||
				meshAnnotationsChanged(o, n) {
				enqueue(q, m.podKeys(ctx, o, n)...)
			}
			if !maps.Equal(o.Labels, n.Labels) || terminal(o) != terminal(n) ||
				o.Annotations[normalize.AnnotationConnectService] != n.Annotations[normalize.AnnotationConnectService] {
				enqueue(q, m.splitKeysOfPods(ctx, o, n)...)
			}
			enqueue(q, m.identityKeys(ctx, []*corev1.Pod{o, n}, nil)...)
		},
		DeleteFunc: func(ctx context.Context, e event.TypedDeleteEvent[*corev1.Pod], q queue) {
			enqueue(q, m.podKeys(ctx, e.Object)...)
			enqueue(q, m.splitKeysOfPods(ctx, e.Object)...)
			enqueue(q, m.identityKeys(ctx, []*corev1.Pod{e.Object}, nil)...)
		},
	}
}

// meshAnnotationsChanged: the pod annotations the model reads changed
// (Linkerd's opaque ports, the names consul-k8s registers the pod under).
func meshAnnotationsChanged(o, n *corev1.Pod) bool {
	for _, a := range []string{normalize.AnnotationOpaquePorts, normalize.AnnotationConnectService} {
		if o.Annotations[a] != n.Annotations[a] {
			return true
		}
	}
	_, had := o.Annotations[normalize.AnnotationOpaquePorts]
	_, has := n.Annotations[normalize.AnnotationOpaquePorts]
	return had != has // present and empty is not absent
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func containerPorts(p *corev1.Pod) []corev1.Container {
	out := make([]corev1.Container, len(p.Spec.Containers))
	for i, c := range p.Spec.Containers {
		out[i] = corev1.Container{Ports: c.Ports, LivenessProbe: c.LivenessProbe, ReadinessProbe: c.ReadinessProbe, StartupProbe: c.StartupProbe}
	}
	return out
}

var _ reconcile.TypedReconciler[model.Key] = (*Reconciler)(nil)
