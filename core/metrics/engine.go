package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	prommodel "github.com/prometheus/common/model"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metricsv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/metrics/v1alpha1"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// DefaultWindow is the window when a request names none.
const DefaultWindow = 30 * time.Second

// Querier runs one instant PromQL query at a time.
type Querier interface {
	Query(ctx context.Context, query string, at time.Time) (prommodel.Vector, error)
}

// ErrUnavailable wraps a failure to reach the metrics store: the API answers 503.
var ErrUnavailable = errors.New("prometheus unavailable")

// Engine answers Traffic Metrics requests for one mesh: it resolves
// Kubernetes objects, asks Prometheus, and assembles TrafficMetrics.
type Engine struct {
	Telemetry  Telemetry
	Prometheus Querier
	// Pods reads pods (the controller's cache); Objects every other kind.
	Pods, Objects client.Reader
	// Now is the end of every window (time.Now by default).
	Now func() time.Time
	// Parallel bounds concurrent Prometheus queries of one request (default 8).
	Parallel int
}

// Request is one read of the API.
type Request struct {
	Kind      Kind
	Namespace string // "" = all namespaces (lists) or a cluster-scoped kind
	Name      string
	Selector  labels.Selector // lists only: filters the resources listed
	Window    time.Duration
}

// values are one resource's (or edge's) metrics.
type values struct {
	requests, failures float64
	latency            [3]float64 // ms, NaN without traffic; order of Quantiles
}

func emptyValues() values { return values{latency: [3]float64{math.NaN(), math.NaN(), math.NaN()}} }

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (r *Request) window() time.Duration {
	if r.Window <= 0 {
		return DefaultWindow
	}
	return r.Window
}

// plan is how one kind's resources are found in the telemetry.
type plan struct {
	side   *Side
	where  metricsv1alpha1.Side
	labels Labels
	// viaPods: the kind has no label of its own; its resources aggregate the
	// series of their pods (labels are then the pods' labels).
	viaPods bool
}

// keyOf is how an object's values are keyed in a query's result: without a
// namespace label the mesh names it by name only.
func (p plan) keyOf(o object) string {
	if p.labels.Namespace == "" && !p.viaPods {
		return key("", o.name())
	}
	return key(o.namespace(), o.name())
}

// resourcePlan: measured where the resource serves (its own proxy), else
// where its clients send to it; kinds without a label aggregate their pods.
func (e *Engine) resourcePlan(k Kind) (plan, error) { return resourcePlan(&e.Telemetry, k) }

func resourcePlan(t *Telemetry, k Kind) (plan, error) {
	if l, ok := t.Server.Self[k]; ok {
		return plan{side: &t.Server, where: metricsv1alpha1.Server, labels: l}, nil
	}
	if l, ok := t.Client.Peer[k]; ok {
		return plan{side: &t.Client, where: metricsv1alpha1.Client, labels: l}, nil
	}
	if k != TrafficSplits {
		if l, ok := t.Server.Self[Pods]; ok {
			return plan{side: &t.Server, where: metricsv1alpha1.Server, labels: l, viaPods: true}, nil
		}
		if l, ok := t.Client.Peer[Pods]; ok {
			return plan{side: &t.Client, where: metricsv1alpha1.Client, labels: l, viaPods: true}, nil
		}
	}
	return plan{}, unsupported(fmt.Sprintf("%s: %s telemetry names neither them nor their pods", k, t.Mesh))
}

// unsupported is the API's 404 for what a mesh's telemetry cannot answer.
func unsupported(msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusNotFound,
		Reason: metav1.StatusReasonNotFound, Message: "not available: " + msg}}
}

// unavailable is the API's 503 when Prometheus cannot answer.
func unavailable(err error) error {
	return apierrors.NewServiceUnavailable(err.Error())
}

// Get answers GET .../{kind}/{name}: the resource's metrics (zero counts
// without traffic). For a TrafficSplit: all traffic to its backends.
func (e *Engine) Get(ctx context.Context, r Request) (*metricsv1alpha1.TrafficMetrics, error) {
	o, err := e.get(ctx, r.Kind, r.Namespace, r.Name)
	if err != nil {
		return nil, err
	}
	at := e.now()
	if r.Kind == TrafficSplits {
		items, err := e.splitItems(ctx, o, r.window(), at, true)
		if err != nil {
			return nil, err
		}
		return &items[0], nil
	}
	p, err := e.resourcePlan(r.Kind)
	if err != nil {
		return nil, err
	}
	got, err := e.resources(ctx, p, []object{o}, r.Namespace, r.window(), at)
	if err != nil {
		return nil, err
	}
	v, ok := got[p.keyOf(o)]
	if !ok {
		v = emptyValues()
	}
	tm := e.item(ref(r.Kind, o.namespace(), o.name()), &metricsv1alpha1.Edge{Direction: metricsv1alpha1.From, Side: p.where,
		Resource: &metricsv1alpha1.ObjectReference{}}, v, r.window(), at)
	return &tm, nil
}

// List answers GET .../{kind}: the resources of the kind (matching the
// selector) that had traffic in the window.
func (e *Engine) List(ctx context.Context, r Request) (*metricsv1alpha1.TrafficMetricsList, error) {
	if _, ok := kinds[r.Kind]; !ok {
		return nil, unsupported(string(r.Kind))
	}
	objs, err := e.list(ctx, r.Kind, r.Namespace, r.Selector)
	if err != nil {
		return nil, err
	}
	at := e.now()
	out := &metricsv1alpha1.TrafficMetricsList{Resource: &metricsv1alpha1.ObjectReference{Kind: KindName(r.Kind), Namespace: r.Namespace},
		Items: []metricsv1alpha1.TrafficMetrics{}}
	if r.Kind == TrafficSplits {
		for _, o := range objs {
			items, err := e.splitItems(ctx, o, r.window(), at, false)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, items...)
		}
		return out, nil
	}
	p, err := e.resourcePlan(r.Kind)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return out, nil
	}
	got, err := e.resources(ctx, p, objs, r.Namespace, r.window(), at)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		v, ok := got[p.keyOf(o)]
		if !ok || v.requests == 0 {
			continue
		}
		out.Items = append(out.Items, e.item(ref(r.Kind, o.namespace(), o.name()), &metricsv1alpha1.Edge{
			Direction: metricsv1alpha1.From, Side: p.where, Resource: &metricsv1alpha1.ObjectReference{}}, v, r.window(), at))
	}
	return out, nil
}

// resources computes the metrics of objects of one kind, keyed by
// namespace/name. Kinds with labels take one grouped query per metric; kinds
// that aggregate pods take one query set per object.
func (e *Engine) resources(ctx context.Context, p plan, objs []object, namespace string, w time.Duration, at time.Time) (map[string]values, error) {
	if !p.viaPods {
		var names []string
		if len(objs) == 1 {
			names = []string{objs[0].name()}
		}
		ns := namespace
		if len(objs) == 1 {
			ns = objs[0].namespace()
		}
		s := selection{side: p.side, where: p.where, match: selectResource(p.labels, ns, names), by: groupLabels(p.labels)}
		return e.run(ctx, s, w, at)
	}
	out := map[string]values{}
	var mu sync.Mutex
	err := e.each(len(objs), func(i int) error {
		o := objs[i]
		pods, err := e.podsOf(ctx, o)
		if err != nil {
			return err
		}
		if len(pods) == 0 {
			return nil
		}
		ns := o.namespace()
		if o.kind == Namespaces {
			ns = o.name()
		}
		s := selection{side: p.side, where: p.where, match: selectResource(p.labels, ns, pods)}
		got, err := e.run(ctx, s, w, at)
		if err != nil {
			return err
		}
		if v, ok := got[""]; ok {
			mu.Lock()
			out[p.keyOf(o)] = v
			mu.Unlock()
		}
		return nil
	})
	return out, err
}

// Edges answers GET .../{kind}/{name}/edges: the traffic between the resource
// and each peer it exchanged requests with, in both directions where the
// mesh's telemetry names both ends.
func (e *Engine) Edges(ctx context.Context, r Request) (*metricsv1alpha1.TrafficMetricsList, error) {
	plans := e.edgePlans(r.Kind)
	if len(plans) == 0 && r.Kind != TrafficSplits {
		return nil, unsupported(fmt.Sprintf("edges of %s: %s telemetry does not name both ends", r.Kind, e.Telemetry.Mesh))
	}
	o, err := e.get(ctx, r.Kind, r.Namespace, r.Name)
	if err != nil {
		return nil, err
	}
	at := e.now()
	out := &metricsv1alpha1.TrafficMetricsList{Resource: ref(r.Kind, o.namespace(), o.name()), Items: []metricsv1alpha1.TrafficMetrics{}}
	if r.Kind == TrafficSplits {
		items, err := e.splitItems(ctx, o, r.window(), at, false)
		if err != nil {
			return nil, err
		}
		out.Items = items
		return out, nil
	}
	for _, ep := range plans {
		s := selection{side: ep.side, where: ep.where, match: selectResource(ep.self, o.namespace(), []string{o.name()}), by: groupLabels(ep.peer)}
		if r.Kind == Namespaces {
			s.match = selectResource(ep.self, "", []string{o.name()})
		}
		got, err := e.run(ctx, s, r.window(), at)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(got))
		for k, v := range got {
			if v.requests > 0 {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			ns, name := splitKey(k)
			if ep.peer.Namespace == "" && r.Kind.Namespaced() {
				ns = "" // the mesh does not say the peer's namespace
			}
			out.Items = append(out.Items, e.item(ref(r.Kind, o.namespace(), o.name()), &metricsv1alpha1.Edge{
				Direction: ep.direction, Side: ep.where, Resource: ref(r.Kind, ns, name)}, got[k], r.window(), at))
		}
	}
	return out, nil
}

// edgePlan is one direction of a resource's edges: the labels naming the
// resource (self) and its peers on the side that records both.
type edgePlan struct {
	direction  metricsv1alpha1.Direction
	side       *Side
	where      metricsv1alpha1.Side
	self, peer Labels
}

func (e *Engine) edgePlans(k Kind) []edgePlan {
	t := &e.Telemetry
	var out []edgePlan
	// from: peers sent to the resource.
	if s, ok := t.Server.Self[k]; ok {
		if p, ok := t.Server.Peer[k]; ok {
			out = append(out, edgePlan{metricsv1alpha1.From, &t.Server, metricsv1alpha1.Server, s, p})
		}
	}
	if len(out) == 0 {
		if s, ok := t.Client.Peer[k]; ok {
			if p, ok := t.Client.Self[k]; ok {
				out = append(out, edgePlan{metricsv1alpha1.From, &t.Client, metricsv1alpha1.Client, s, p})
			}
		}
	}
	// to: the resource sent to peers.
	n := len(out)
	if s, ok := t.Client.Self[k]; ok {
		if p, ok := t.Client.Peer[k]; ok {
			out = append(out, edgePlan{metricsv1alpha1.To, &t.Client, metricsv1alpha1.Client, s, p})
		}
	}
	if len(out) == n {
		if s, ok := t.Server.Peer[k]; ok {
			if p, ok := t.Server.Self[k]; ok {
				out = append(out, edgePlan{metricsv1alpha1.To, &t.Server, metricsv1alpha1.Server, s, p})
			}
		}
	}
	return out
}

// splitItems: a TrafficSplit's metrics per backend (total=false), or of all
// its backends together (total=true), measured where requests are sent.
func (e *Engine) splitItems(ctx context.Context, o object, w time.Duration, at time.Time, total bool) ([]metricsv1alpha1.TrafficMetrics, error) {
	ts := o.obj.(*splitv1alpha4.TrafficSplit)
	t := &e.Telemetry
	var p plan
	if l, ok := t.Client.Peer[Services]; ok {
		p = plan{side: &t.Client, where: metricsv1alpha1.Client, labels: l}
	} else if l, ok := t.Server.Self[Services]; ok {
		p = plan{side: &t.Server, where: metricsv1alpha1.Server, labels: l}
	} else {
		return nil, unsupported(fmt.Sprintf("trafficsplits: %s telemetry does not name services", t.Mesh))
	}
	self := ref(TrafficSplits, ts.Namespace, ts.Name)
	edge := &metricsv1alpha1.Edge{Direction: metricsv1alpha1.From, Side: p.where, Resource: &metricsv1alpha1.ObjectReference{}}
	var names []string
	for _, b := range ts.Spec.Backends {
		names = append(names, b.Service)
	}
	if total {
		s := selection{side: p.side, where: p.where, match: selectResource(p.labels, ts.Namespace, names)}
		got, err := e.run(ctx, s, w, at)
		if err != nil {
			return nil, err
		}
		v, ok := got[""]
		if !ok {
			v = emptyValues()
		}
		return []metricsv1alpha1.TrafficMetrics{e.item(self, edge, v, w, at)}, nil
	}
	if len(names) == 0 {
		return nil, nil
	}
	s := selection{side: p.side, where: p.where, match: selectResource(p.labels, ts.Namespace, names), by: groupLabels(p.labels)}
	got, err := e.run(ctx, s, w, at)
	if err != nil {
		return nil, err
	}
	var out []metricsv1alpha1.TrafficMetrics
	for _, b := range ts.Spec.Backends {
		k := key(ts.Namespace, b.Service)
		if p.labels.Namespace == "" {
			k = key("", b.Service)
		}
		v, ok := got[k]
		if !ok || v.requests == 0 {
			continue
		}
		tm := e.item(self, edge, v, w, at)
		tm.Backend = &metricsv1alpha1.Backend{Apex: ts.Spec.Service, Name: b.Service, Weight: b.Weight}
		out = append(out, tm)
	}
	return out, nil
}

// item assembles one TrafficMetrics.
func (e *Engine) item(res *metricsv1alpha1.ObjectReference, edge *metricsv1alpha1.Edge, v values, w time.Duration, at time.Time) metricsv1alpha1.TrafficMetrics {
	tm := metricsv1alpha1.TrafficMetrics{
		TypeMeta:   metav1.TypeMeta{Kind: "TrafficMetrics", APIVersion: metricsv1alpha1.GroupVersion.String()},
		ObjectMeta: metav1.ObjectMeta{Name: res.Name, Namespace: res.Namespace, CreationTimestamp: metav1.NewTime(at.UTC())},
		Resource:   res, Edge: edge, Timestamp: metav1.NewTime(at.UTC()), Window: metav1.Duration{Duration: w},
	}
	for i, q := range Quantiles {
		m := &metricsv1alpha1.Metric{Name: q.Name, Unit: metricsv1alpha1.LatencyUnit}
		if l := v.latency[i]; !math.IsNaN(l) && !math.IsInf(l, 0) {
			m.Value = resource.NewMilliQuantity(int64(math.Round(l*1000)), resource.DecimalSI)
		}
		tm.Metrics = append(tm.Metrics, m)
	}
	success := math.Max(0, v.requests-v.failures)
	tm.Metrics = append(tm.Metrics,
		&metricsv1alpha1.Metric{Name: metricsv1alpha1.SuccessCount, Value: resource.NewQuantity(int64(math.Round(success)), resource.DecimalSI)},
		&metricsv1alpha1.Metric{Name: metricsv1alpha1.FailureCount, Value: resource.NewQuantity(int64(math.Round(v.failures)), resource.DecimalSI)})
	return tm
}

// run executes a selection's queries and gathers values per group (keyed by
// the group labels' values, namespace/name; "" without grouping).
func (e *Engine) run(ctx context.Context, s selection, w time.Duration, at time.Time) (map[string]values, error) {
	qs := s.Queries(w)
	res := make([]prommodel.Vector, len(qs))
	if err := e.each(len(qs), func(i int) error {
		v, err := e.Prometheus.Query(ctx, qs[i], at)
		res[i] = v
		return err
	}); err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, unavailable(err)
		}
		return nil, apierrors.NewInternalError(err)
	}
	out := map[string]values{}
	get := func(m prommodel.Metric) values {
		k := groupKey(m, s.by)
		v, ok := out[k]
		if !ok {
			v = emptyValues()
		}
		return v
	}
	for i, vec := range res {
		for _, smp := range vec {
			k := groupKey(smp.Metric, s.by)
			v := get(smp.Metric)
			f := float64(smp.Value)
			switch {
			case i == 0:
				v.requests = f
			case i == 1:
				v.failures = f
			default:
				v.latency[i-2] = f * s.side.LatencyToMs
			}
			out[k] = v
		}
	}
	return out, nil
}

// each runs f(0..n-1) with bounded parallelism and returns the first error.
func (e *Engine) each(n int, f func(i int) error) error {
	par := e.Parallel
	if par <= 0 {
		par = 8
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	return first
}

func key(namespace, name string) string { return namespace + "/" + name }

func splitKey(k string) (string, string) {
	ns, name, _ := strings.Cut(k, "/")
	return ns, name
}

// groupKey is namespace/name from a sample's group labels ("" ungrouped).
func groupKey(m prommodel.Metric, by []string) string {
	switch len(by) {
	case 0:
		return ""
	case 1:
		return key("", string(m[prommodel.LabelName(by[0])]))
	default:
		return key(string(m[prommodel.LabelName(by[0])]), string(m[prommodel.LabelName(by[1])]))
	}
}
