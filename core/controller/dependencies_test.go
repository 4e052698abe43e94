package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// TestEveryAffectedKeyIsEnqueued: on random namespaces and one random change
// (an object created, deleted or edited), every key whose model or problems
// the change alters is among the keys the watch handlers enqueue — read from
// a client that already holds the new state, as the informer cache does when
// handlers run. A key missed here keeps a stale policy until the next resync
// (a pod taking another identity's labels once left a policy wider than SMI).
// The model is built as for a backend that collapses namespaces
// (IdentitiesElsewhere): pods and Services of a second namespace, some named
// like the accounts or registering as them (consul-k8s's connect-service
// annotation), change the policies granting a source of their name.
func TestEveryAffectedKeyIsEnqueued(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 11))
	rounds := 3000
	if n, err := strconv.Atoi(os.Getenv("SMI_DEPENDENCY_ROUNDS")); err == nil && n > 0 {
		rounds = n // a longer search: SMI_DEPENDENCY_ROUNDS=100000 go test -run TestEveryAffectedKeyIsEnqueued ./core/controller
	}
	changed := 0
	for round := range rounds {
		g := &world{r: r}
		before := g.random()
		after, old, new := g.change(before)
		must := affected(t, before, after)
		got := enqueued(t, scheme, after, old, new)
		for _, k := range must {
			if !got[k] {
				t.Fatalf("round %d: %s changed %s but the handlers enqueued only %v\nbefore: %s\nafter: %s",
					round, describe(old, new), k, keysOf(got), dump(before), dump(after))
			}
		}
		if len(must) > 0 {
			changed++
		}
	}
	if changed < rounds/3 {
		t.Fatalf("only %d of %d changes affected a key: the generator is too weak", changed, rounds)
	}
}

const (
	depNS = "ns"
	// depOther is the second namespace: sources name it, and pods and
	// Services there are identities of the same names as depNS's.
	depOther = "other"
)

// depBuild builds the model as for a backend that collapses namespaces.
var depBuild = normalize.Options{IdentitiesElsewhere: true}

var (
	accounts = []string{"a", "b", "c"}
	services = []string{"s1", "s2", "s3"}
	labelSet = []map[string]string{{"app": "x"}, {"app": "y"}, {"app": "x", "tier": "1"}, {"tier": "1"}, {"app": "y", "tier": "2"}, {}}
)

type world struct {
	r *rand.Rand
	n int
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func (g *world) pick(s []string) string { return pick(g.r, s) }

func (g *world) name(prefix string) string {
	g.n++
	return fmt.Sprintf("%s%d", prefix, g.n)
}

func (g *world) labels() map[string]string {
	out := map[string]string{}
	for k, v := range labelSet[g.r.IntN(len(labelSet))] {
		out[k] = v
	}
	return out
}

// ns is depNS two times in three, else depOther.
func (g *world) ns() string { return g.pick([]string{depNS, depNS, depOther}) }

func (g *world) pod() client.Object {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: g.ns(), Name: g.name("pod"), Labels: g.labels(), Annotations: g.connectService()},
		Spec: corev1.PodSpec{ServiceAccountName: g.pick(accounts), Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8080 + g.r.IntN(2))}}}}}}
}

// connectService: no annotations half the time, else consul-k8s's
// connect-service annotation naming accounts' names (the Consul service the
// pod registers as, whatever its service account), one or a multi-port list.
func (g *world) connectService() map[string]string {
	if g.r.IntN(2) == 0 {
		return nil
	}
	out := map[string]string{}
	if g.r.IntN(3) > 0 {
		out[normalize.AnnotationConnectService] = g.pick([]string{"a", "b", "c", "b,c", " a , c", "", "x,a"})
	}
	if g.r.IntN(3) == 0 {
		// Linkerd's opaque ports: a port of the pods, a name, a range, none.
		out[normalize.AnnotationOpaquePorts] = g.pick([]string{"8080", "http", "8080-8081", "", "9999"})
	}
	return out
}

func (g *world) service(ns, name string) client.Object {
	sel := g.labels()
	if len(sel) == 0 {
		sel = nil
	}
	port := corev1.ServicePort{Name: g.pick([]string{"http", "tcp"}), Port: 80}
	if g.r.IntN(2) == 0 {
		port.TargetPort = intstr.FromString("http")
	}
	var ann map[string]string
	if g.r.IntN(4) == 0 {
		ann = map[string]string{normalize.AnnotationOpaquePorts: g.pick([]string{"80", "http", "", "1-100"})}
	}
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann}, Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{port}}}
}

func (g *world) target() client.Object {
	rule := accessv1alpha3.TrafficTargetRule{Kind: "HTTPRouteGroup", Name: g.pick([]string{"routes", "missing"})}
	if g.r.IntN(3) == 0 {
		rule = accessv1alpha3.TrafficTargetRule{Kind: "TCPRoute", Name: "tcp"}
	}
	if rule.Kind == "HTTPRouteGroup" && g.r.IntN(2) == 0 {
		rule.Matches = []string{g.pick([]string{"read", "write"})}
	}
	return &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: depNS, Name: g.name("tt")},
		Spec: accessv1alpha3.TrafficTargetSpec{
			Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: g.pick(accounts), Namespace: g.pick([]string{"", "", "", depNS, "other"})},
			Rules:       []accessv1alpha3.TrafficTargetRule{rule},
			Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: g.pick(accounts), Namespace: g.pick([]string{"", "other"})}},
		}}
}

func (g *world) split() client.Object {
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: depNS, Name: g.name("ts")},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: g.pick(services),
			Backends: []splitv1alpha4.TrafficSplitBackend{{Service: g.pick(services), Weight: 1}, {Service: g.pick(append(services, "gone")), Weight: 2}}}}
	if g.r.IntN(3) == 0 {
		ts.Spec.Matches = []splitv1alpha4.TrafficSplitMatch{{Kind: "HTTPRouteGroup", Name: "routes"}}
	}
	return ts
}

func (g *world) routes() client.Object {
	m := []specsv1alpha4.HTTPMatch{{Name: "read", PathRegex: "/api", Methods: []string{"GET"}}}
	if g.r.IntN(2) == 0 {
		m = append(m, specsv1alpha4.HTTPMatch{Name: "write", PathRegex: "/api", Methods: []string{"POST"}})
	}
	return &specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: depNS, Name: "routes"}, Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: m}}
}

func (g *world) random() []client.Object {
	var out []client.Object
	for range g.r.IntN(5) {
		out = append(out, g.pod())
	}
	for _, s := range services {
		if g.r.IntN(4) > 0 {
			out = append(out, g.service(depNS, s))
		}
	}
	for _, a := range accounts { // Services named like the accounts: identities too
		if g.r.IntN(4) == 0 {
			out = append(out, g.service(g.ns(), a))
		}
	}
	for range g.r.IntN(4) {
		out = append(out, g.target())
	}
	for range g.r.IntN(3) {
		out = append(out, g.split())
	}
	if g.r.IntN(3) > 0 {
		out = append(out, g.routes())
	}
	if g.r.IntN(2) == 0 {
		out = append(out, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: depNS, Name: "tcp"}})
	}
	return out
}

// change returns the world after one change, and the object before and
// after it (nil when created or deleted).
func (g *world) change(w []client.Object) (after []client.Object, old, new client.Object) {
	after = append([]client.Object(nil), w...)
	switch op := g.r.IntN(3); {
	case op == 0 || len(w) == 0: // create
		switch g.r.IntN(5) {
		case 0:
			new = g.pod()
		case 1:
			switch g.r.IntN(3) {
			case 0:
				new = g.service(depNS, g.name("svc"))
			case 1:
				new = g.service(depNS, g.pick(services))
			default:
				new = g.service(g.ns(), g.pick(accounts))
			}
		case 2:
			new = g.target()
		case 3:
			new = g.split()
		default:
			new = g.routes()
		}
		for _, o := range w {
			if sameObject(o, new) {
				return g.change(w) // it exists: another change
			}
		}
		return append(after, new), nil, new
	case op == 1: // delete
		i := g.r.IntN(len(w))
		return append(after[:i], after[i+1:]...), w[i], nil
	default: // edit
		i := g.r.IntN(len(w))
		old = w[i]
		switch o := old.(type) {
		case *corev1.Pod:
			p := o.DeepCopy()
			switch g.r.IntN(5) {
			case 0:
				p.Labels = g.labels()
			case 4:
				p.Annotations = g.connectService()
			case 1:
				p.Status.Phase = pick(g.r, []corev1.PodPhase{corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed})
			case 2:
				p.Spec.ServiceAccountName = g.pick(append([]string{""}, accounts...))
			default:
				p.Spec.Containers[0].Ports[0].ContainerPort = int32(8080 + g.r.IntN(3))
			}
			new = p
		case *corev1.Service:
			new = g.service(o.Namespace, o.Name)
		case *accessv1alpha3.TrafficTarget:
			tt := g.target().(*accessv1alpha3.TrafficTarget)
			tt.Name = o.Name
			new = tt
		case *splitv1alpha4.TrafficSplit:
			ts := g.split().(*splitv1alpha4.TrafficSplit)
			ts.Name = o.Name
			new = ts
		case *specsv1alpha4.HTTPRouteGroup:
			new = g.routes()
		default:
			return g.change(w)
		}
		after[i] = new
		return after, old, new
	}
}

func sameObject(a, b client.Object) bool {
	return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b) && a.GetNamespace() == b.GetNamespace() && a.GetName() == b.GetName()
}

// affected lists the keys whose model slice or problems differ between the worlds.
func affected(t *testing.T, before, after []client.Object) []model.Key {
	var universe []model.Key
	for _, sa := range append(accounts, "default") {
		universe = append(universe, model.Key{Kind: model.KeyAccess, Namespace: depNS, Name: sa})
	}
	for _, w := range [][]client.Object{before, after} {
		for _, o := range w {
			if s, ok := o.(*corev1.Service); ok {
				universe = append(universe, model.Key{Kind: model.KeySplit, Namespace: s.Namespace, Name: s.Name})
			}
		}
	}
	for _, s := range services {
		universe = append(universe, model.Key{Kind: model.KeySplit, Namespace: depNS, Name: s})
	}
	universe = append(universe, model.Key{Kind: model.KeyRoute, RouteKind: normalize.KindHTTPRouteGroup, Namespace: depNS, Name: "routes"},
		model.Key{Kind: model.KeyRoute, RouteKind: normalize.KindTCPRoute, Namespace: depNS, Name: "tcp"})
	mb, ma := memory(t, before), memory(t, after)
	seen := map[model.Key]bool{}
	var out []model.Key
	for _, k := range universe {
		if seen[k] {
			continue
		}
		seen[k] = true
		if build(k, mb) != build(k, ma) {
			out = append(out, k)
		}
	}
	return out
}

func memory(t *testing.T, w []client.Object) *normalize.Memory {
	objs := make([]runtime.Object, len(w))
	for i, o := range w {
		objs[i] = o
	}
	m, err := normalize.NewMemory(depNS, objs...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// build renders a key's model and problems.
func build(k model.Key, s normalize.Source) string {
	slice, problems := depBuild.Build(k, s)
	b, _ := json.Marshal(slice)
	var lines []string
	for ref, err := range problems {
		if err != nil {
			lines = append(lines, ref.String()+": "+err.Error())
		}
	}
	sort.Strings(lines)
	return string(b) + "\n" + strings.Join(lines, "\n")
}

// enqueued runs the handler of the changed object's kind against a client
// holding the world after the change.
func enqueued(t *testing.T, scheme *runtime.Scheme, after []client.Object, old, new client.Object) map[model.Key]bool {
	b := fake.NewClientBuilder().WithScheme(scheme)
	for _, i := range append(indexes(), elsewhereIndexes()...) {
		b = b.WithIndex(i.obj, i.field, i.fn)
	}
	objs := make([]client.Object, len(after))
	for i, o := range after {
		objs[i] = o.DeepCopyObject().(client.Object)
	}
	m := &mapper{c: b.WithObjects(objs...).Build(), elsewhere: depBuild.IdentitiesElsewhere}
	q := &captureQueue{keys: map[model.Key]bool{}}
	ctx := context.Background()
	obj := new
	if obj == nil {
		obj = old
	}
	switch obj.(type) {
	case *corev1.Pod:
		dispatch(ctx, podHandler(m), old, new, q)
	case *corev1.Service:
		dispatch(ctx, serviceHandler(m), old, new, q)
	case *accessv1alpha3.TrafficTarget:
		dispatch(ctx, targetHandler(), old, new, q)
	case *splitv1alpha4.TrafficSplit:
		dispatch(ctx, m.splitHandler(), old, new, q)
	case *specsv1alpha4.HTTPRouteGroup:
		dispatch(ctx, routeHandler[*specsv1alpha4.HTTPRouteGroup](m, normalize.KindHTTPRouteGroup), old, new, q)
	case *specsv1alpha4.TCPRoute:
		dispatch(ctx, routeHandler[*specsv1alpha4.TCPRoute](m, normalize.KindTCPRoute), old, new, q)
	default:
		t.Fatalf("no handler for %T", obj)
	}
	return q.keys
}

func dispatch[T client.Object](ctx context.Context, h handler.TypedEventHandler[T, model.Key], old, new client.Object, q queue) {
	switch {
	case old == nil:
		h.Create(ctx, event.TypedCreateEvent[T]{Object: new.(T)}, q)
	case new == nil:
		h.Delete(ctx, event.TypedDeleteEvent[T]{Object: old.(T)}, q)
	default:
		h.Update(ctx, event.TypedUpdateEvent[T]{ObjectOld: old.(T), ObjectNew: new.(T)}, q)
	}
}

// captureQueue records the keys added to it.
type captureQueue struct {
	workqueue.TypedRateLimitingInterface[model.Key]
	keys map[model.Key]bool
}

func (q *captureQueue) Add(k model.Key) { q.keys[k] = true }

func keysOf(m map[model.Key]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k.String())
	}
	sort.Strings(out)
	return out
}

func describe(old, new client.Object) string {
	switch {
	case old == nil:
		return fmt.Sprintf("creating %T %s", new, new.GetName())
	case new == nil:
		return fmt.Sprintf("deleting %T %s", old, old.GetName())
	}
	return fmt.Sprintf("editing %T %s", new, new.GetName())
}

func dump(w []client.Object) string {
	var out []string
	for _, o := range w {
		b, _ := json.Marshal(o)
		out = append(out, fmt.Sprintf("%T %s", o, b))
	}
	return strings.Join(out, "\n")
}

// TestIdentityKeysOnlyWhenCollapsing: a pod running as web in another
// namespace enqueues the policy granting ns-a/web only for a backend that
// collapses namespaces (Consul's free edition); for the others (Istio,
// Linkerd) it changes nothing and enqueues nothing.
func TestIdentityKeysOnlyWhenCollapsing(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-a", Name: "api"},
		Spec: accessv1alpha3.TrafficTargetSpec{
			Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
			Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
			Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "web"}},
		}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-b", Name: "web-0"}, Spec: corev1.PodSpec{ServiceAccountName: "web"}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-c", Name: "web"}}
	want := model.Key{Kind: model.KeyAccess, Namespace: "ns-a", Name: "api"}
	for _, elsewhere := range []bool{false, true} {
		b := fake.NewClientBuilder().WithScheme(scheme)
		for _, i := range append(indexes(), elsewhereIndexes()...) {
			b = b.WithIndex(i.obj, i.field, i.fn)
		}
		m := &mapper{c: b.WithObjects(tt, pod, svc).Build(), elsewhere: elsewhere}
		for _, obj := range []client.Object{pod, svc} {
			q := &captureQueue{keys: map[model.Key]bool{}}
			if p, ok := obj.(*corev1.Pod); ok {
				dispatch(context.Background(), podHandler(m), nil, p, q)
			} else {
				dispatch(context.Background(), serviceHandler(m), nil, obj, q)
			}
			if q.keys[want] != elsewhere || len(q.keys) > 1 {
				t.Errorf("elsewhere=%v: creating %T %s/%s enqueued %v", elsewhere, obj, obj.GetNamespace(), obj.GetName(), keysOf(q.keys))
			}
		}
	}
}
