package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"

	"github.com/hashicorp/go-multierror"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// Reconciler reconciles one model.Key at a time.
type Reconciler struct {
	client   client.Client // reads from the cache, writes to the apiserver
	stores   *stores       // the Pod and Service informers' stores (nil: read through client)
	backend  backend.Backend
	recorder recorder.EventRecorder
	// build adds to the model what the backend needs (normalize.Options).
	build normalize.Options
	// written remembers, per object UID, the status this reconciler last
	// patched and the resourceVersion it patched from: a reconcile that
	// still reads that version from the cache does not patch the same
	// status again.
	written sync.Map // types.UID -> writtenStatus
	// queue is the controller's queue, once it started (nil: status writes
	// are never deferred).
	queue atomic.Pointer[priorityqueue.PriorityQueue[model.Key]]
	// deferred holds the keys whose status writes were deferred once
	// behind the mesh writes of other keys; deferring counts them.
	deferred  sync.Map // model.Key -> struct{}
	deferring atomic.Int64
	// workers is the controller's MaxConcurrentReconciles; active counts
	// the reconciles running (this one included).
	workers int
	active  atomic.Int64
}

// newQueue builds the controller's priority queue (as controller-runtime
// does by default) and keeps it, so that a reconcile can see whether other
// keys wait.
func (r *Reconciler) newQueue(log logr.Logger) func(string, workqueue.TypedRateLimiter[model.Key]) workqueue.TypedRateLimitingInterface[model.Key] {
	return func(name string, rl workqueue.TypedRateLimiter[model.Key]) workqueue.TypedRateLimitingInterface[model.Key] {
		q := priorityqueue.New(name, func(o *priorityqueue.Opts[model.Key]) {
			o.Log = log.WithValues("controller", name)
			o.RateLimiter = rl
		})
		r.queue.Store(&q)
		return q
	}
}

// othersWaiting is the number of keys ready in the queue, not counting
// those waiting only to write their status.
func (r *Reconciler) othersWaiting() int {
	q := r.queue.Load()
	if q == nil {
		return 0
	}
	return (*q).Len() - int(r.deferring.Load())
}

// backlog: more keys wait than there are idle workers to take them, so a
// status write now would delay one of them (with a worker idle, a waiting
// key starts at once, whatever this one writes). workers 0: any waiting key.
func (r *Reconciler) backlog() bool {
	idle := 0
	if r.workers > 0 {
		idle = max(0, r.workers-int(r.active.Load()))
	}
	return r.othersWaiting() > idle
}

// statusPriority is the queue priority of a key whose mesh objects are
// written and whose status writes wait: behind every key that may still
// have mesh writes to make, new grants included.
const statusPriority = newGrantPriority - 1

// plannedStatus is the status one SMI object should get.
type plannedStatus struct {
	obj   client.Object
	conds []metav1.Condition
	diags []*model.Diagnostic
}

var _ reconcile.TypedReconciler[model.Key] = (*Reconciler)(nil)

// transient: every error in err is ErrTransient.
func transient(err error) bool {
	if err == nil {
		return false
	}
	var me *multierror.Error
	if errors.As(err, &me) && len(me.Errors) > 0 {
		for _, e := range me.Errors {
			if !errors.Is(e, backend.ErrTransient) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, backend.ErrTransient)
}

// Reconcile builds the key's model slice, hands it to the backend and writes
// the status of every SMI object that fed the key.
func (r *Reconciler) Reconcile(ctx context.Context, key model.Key) (reconcile.Result, error) {
	log := logf.FromContext(ctx).WithValues("key", key.String(), "backend", r.backend.Name())
	ctx = logf.IntoContext(ctx, log)
	start := time.Now()
	r.active.Add(1)
	defer r.active.Add(-1)

	src := &cacheSource{ctx: ctx, r: r.client, stores: r.stores}
	slice, problems := r.build.Build(key, src)
	origins := r.origins(ctx, key, src)
	if src.err != nil {
		reconcileTotal.WithLabelValues(r.backend.Name(), string(key.Kind), "error").Inc()
		return reconcile.Result{}, fmt.Errorf("read cache: %w", src.err)
	}

	var syncErr error
	backendProblems := model.Problems{}
	// A key back only to write the status it deferred: if neither its model
	// nor its objects changed since, the mesh is as its last sync left it.
	saved, again := r.deferred.LoadAndDelete(key)
	synced := false
	if again {
		r.deferring.Add(-1)
		if d := saved.(*deferral); d.digest == sliceDigest(slice) && d.sameOrigins(origins) {
			backendProblems, synced = d.problems, true
		}
	}
	if key.Kind != model.KeyRoute && !synced {
		more, err := r.backend.Sync(ctx, slice)
		if err != nil {
			backendSyncErrors.WithLabelValues(r.backend.Name(), string(key.Kind)).Inc()
			syncErr = err
		}
		backendProblems.Merge(more)
	}

	var planned []plannedStatus
	for _, obj := range origins {
		ref := model.ObjectRef{Kind: kindOf(obj), Namespace: obj.GetNamespace(), Name: obj.GetName(), Generation: obj.GetGeneration()}
		diags := problems.Diagnostics(ref)
		accepted := acceptedCondition(obj.GetGeneration(), diags)
		conds := []metav1.Condition{accepted}
		// A transient error (the cache behind the apiserver) is retried
		// without touching Programmed: it says nothing about the mesh.
		if key.Kind != model.KeyRoute && !transient(syncErr) {
			bd := backendProblems.Diagnostics(ref)
			conds = append(conds, programmedCondition(obj.GetGeneration(), r.backend.Name(), accepted, syncErr, bd))
			diags = append(diags, bd...)
		}
		planned = append(planned, plannedStatus{obj, conds, diags})
	}
	// What the sync knew, kept only if the status is deferred (the digest
	// marshals the whole slice: not on every reconcile).
	known := func() *deferral {
		return &deferral{digest: sliceDigest(slice), problems: backendProblems, origins: versions(origins)}
	}
	if !again && r.deferStatus(key, syncErr, planned, known) {
		reconcileTotal.WithLabelValues(r.backend.Name(), string(key.Kind), "status-deferred").Inc()
		log.V(1).Info("status deferred behind other keys", "duration", time.Since(start).String())
		p := statusPriority
		return reconcile.Result{RequeueAfter: time.Nanosecond, Priority: &p}, nil
	}
	var errs *multierror.Error
	for _, ps := range planned {
		if _, err := r.writeStatus(ctx, ps.obj, ps.conds, ps.diags); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	if syncErr != nil {
		errs = multierror.Append(errs, fmt.Errorf("sync %s: %w", key, syncErr))
	}
	result := "success"
	if errs.ErrorOrNil() != nil {
		result = "error"
	}
	reconcileTotal.WithLabelValues(r.backend.Name(), string(key.Kind), result).Inc()
	log.V(1).Info("reconciled", "objects", len(origins), "result", result, "duration", time.Since(start).String())
	var res reconcile.Result
	if rs, ok := r.backend.(backend.Resyncer); ok && key.Kind != model.KeyRoute && errs.ErrorOrNil() == nil {
		res.RequeueAfter = rs.ResyncPeriod()
	}
	return res, errs.ErrorOrNil()
}

// deferStatus: the mesh comes first. While other keys wait in the queue, a
// key whose mesh objects are in sync defers its status writes once, to be
// written when it comes round again behind every key still waiting (the
// next reconcile of the key writes whatever it finds, deferred or not, and
// syncs again only if the key's model or SMI objects changed meanwhile). A
// status write costs the apiserver more than a mesh write (the conversion
// webhook for every served SMI version's watch cache): in a burst, the mesh
// follows every edit first and Programmed follows the mesh.
func (r *Reconciler) deferStatus(key model.Key, syncErr error, planned []plannedStatus, known func() *deferral) bool {
	if syncErr != nil || !r.backlog() {
		return false
	}
	for _, ps := range planned {
		if r.statusChanges(ps.obj, ps.conds) {
			d := known()
			r.deferred.Store(key, d)
			r.deferring.Add(1)
			// Never starved: a queue that never empties (edits arriving faster
			// than the mesh takes them) would hold a status at the lowest
			// priority forever; after statusMaxWait it is as urgent as any key.
			time.AfterFunc(statusMaxWait, func() {
				if cur, still := r.deferred.Load(key); still && cur == d {
					if q := r.queue.Load(); q != nil {
						p := 0
						(*q).AddWithOpts(priorityqueue.AddOpts{Priority: &p}, key)
					}
				}
			})
			return true
		}
	}
	return false
}

// statusMaxWait bounds how long a deferred status waits behind other keys.
const statusMaxWait = time.Second

// deferral is what a key that deferred its status knew when it synced.
type deferral struct {
	digest   string            // of the model slice synced
	problems model.Problems    // the backend's, from that sync
	origins  map[string]string // UID -> resourceVersion of the SMI objects
}

func (d *deferral) sameOrigins(objs []client.Object) bool {
	now := versions(objs)
	if len(now) != len(d.origins) {
		return false
	}
	for uid, rv := range now {
		if d.origins[uid] != rv {
			return false
		}
	}
	return true
}

func versions(objs []client.Object) map[string]string {
	out := make(map[string]string, len(objs))
	for _, o := range objs {
		out[string(o.GetUID())] = o.GetResourceVersion()
	}
	return out
}

// sliceDigest identifies a model slice (what the backend syncs).
func sliceDigest(s *model.Slice) string {
	b, err := json.Marshal(s)
	if err != nil {
		return "unencodable: " + err.Error()
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// origins lists the SMI objects whose status this key owns, as copies.
func (r *Reconciler) origins(ctx context.Context, key model.Key, src *cacheSource) []client.Object {
	var out []client.Object
	switch key.Kind {
	case model.KeyAccess:
		for _, tt := range src.TrafficTargets(key) {
			out = append(out, tt.DeepCopy()) // the cache's own object: the status write changes it
		}
	case model.KeySplit:
		for _, ts := range src.TrafficSplits(key) {
			out = append(out, ts.DeepCopy())
		}
	case model.KeyRoute:
		var obj client.Object
		switch key.RouteKind {
		case normalize.KindHTTPRouteGroup:
			if o := src.HTTPRouteGroup(key.Namespace, key.Name); o != nil {
				obj = o
			}
		case normalize.KindTCPRoute:
			if o := src.TCPRoute(key.Namespace, key.Name); o != nil {
				obj = o
			}
		case normalize.KindUDPRoute:
			if o := src.UDPRoute(key.Namespace, key.Name); o != nil {
				obj = o
			}
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
	return out
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *accessv1alpha3.TrafficTarget:
		return normalize.KindTrafficTarget
	case *splitv1alpha4.TrafficSplit:
		return normalize.KindTrafficSplit
	case *specsv1alpha4.HTTPRouteGroup:
		return normalize.KindHTTPRouteGroup
	case *specsv1alpha4.TCPRoute:
		return normalize.KindTCPRoute
	case *specsv1alpha4.UDPRoute:
		return normalize.KindUDPRoute
	}
	return fmt.Sprintf("%T", obj)
}
