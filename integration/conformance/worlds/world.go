// Package worlds generates whole SMI worlds from a seed — namespaces,
// Services with several ports and protocols, pods and service accounts with
// mesh annotations, overlapping TrafficTargets, route groups with
// overlapping matches and regexes from a grammar, TrafficSplits with zero
// weights, matches and backends lacking root ports, in every API version —
// and then a sequence of edits and deletions. Each step is a conformance
// scenario whose decisions come from this package's own reading of SMI (the
// reference), which is independent of core's model: the judges of every mesh
// are asked the same decisions after each step.
package worlds

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// Options bound a world.
type Options struct {
	// Steps after the first state: each applies one edit or deletion.
	Edits int
	// Requests per step (access and split decisions together), at most.
	Requests int
}

// Default options: small enough for a mesh run per world in seconds.
var Default = Options{Edits: 4, Requests: 40}

const (
	annotOpaque  = "config.linkerd.io/opaque-ports"
	annotConnect = "consul.hashicorp.com/connect-service"
)

// workload is one service account's pod and its container ports.
type workload struct {
	ns, sa string
	ports  []int32
}

// sample generates strings a match's regexes accept.
type sample struct {
	path   func(*rand.Rand) string
	header map[string]func(*rand.Rand) string
}

// world is the generator's state; its objects are hub versions.
type world struct {
	r *rand.Rand
	// late draws what the generator learned after its corpus was kept, so
	// that a kept seed still grows the world it found.
	late       *rand.Rand
	namespaces []string
	workloads  []workload
	pods       map[string]*corev1.Pod // ns/sa
	services   []*corev1.Service
	groups     []*specsv1alpha4.HTTPRouteGroup
	tcps       []*specsv1alpha4.TCPRoute
	targets    []*accessv1alpha3.TrafficTarget
	splits     []*splitv1alpha4.TrafficSplit
	samples    map[string]sample // ns/group/match
	seq        int
}

func (w *world) next(prefix string) string {
	w.seq++
	return fmt.Sprintf("%s-%d", prefix, w.seq)
}

func (w *world) pick(xs ...string) string { return xs[w.r.IntN(len(xs))] }

func (w *world) chance(p float64) bool { return w.r.Float64() < p }

func meta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

func newWorld(seed uint64) *world {
	w := &world{r: rand.New(rand.NewPCG(seed, 24)), late: rand.New(rand.NewPCG(seed, 2412)), pods: map[string]*corev1.Pod{}, samples: map[string]sample{}}
	all := []string{"app", "shop", "team-b"}
	w.namespaces = all[:1+w.r.IntN(len(all))]
	accounts := []string{"api", "web", "db", "worker"}
	for _, ns := range w.namespaces {
		// Names repeat across namespaces: api in app and in shop are different identities.
		n := 2 + w.r.IntN(len(accounts)-1)
		for _, sa := range accounts[:n] {
			w.addWorkload(ns, sa)
		}
	}
	for range 1 + w.r.IntN(3) {
		w.addGroup(w.pick(w.namespaces...))
	}
	if w.chance(0.6) {
		w.addTCPRoute(w.pick(w.namespaces...))
	}
	for range 1 + w.r.IntN(4) {
		w.addTarget()
	}
	for range w.r.IntN(3) {
		w.addSplit()
	}
	return w
}

func (w *world) addWorkload(ns, sa string) {
	ports := []int32{8080}
	if w.chance(0.5) {
		ports = append(ports, 9090)
	}
	if w.chance(0.3) {
		ports = append(ports, 5432)
	}
	wl := workload{ns: ns, sa: sa, ports: ports}
	w.workloads = append(w.workloads, wl)
	labels := map[string]string{"app": sa}
	if w.chance(0.3) {
		labels["tier"] = "shared" // a label several workloads share
	}
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta(ns, sa+"-0"),
		Spec: corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "main"}}}}
	pod.Labels = labels
	for _, p := range ports {
		pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: p})
	}
	if w.chance(0.2) {
		pod.Annotations = map[string]string{annotOpaque: fmt.Sprint(w.pick(intStrings(ports)...))}
	}
	if w.chance(0.15) {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[annotConnect] = sa + "-svc"
	}
	w.pods[ns+"/"+sa] = pod
	svc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta(ns, sa),
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": sa}}}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, w.servicePort(p))
	}
	w.services = append(w.services, svc)
}

func intStrings(ps []int32) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprint(p)
	}
	return out
}

// servicePort is port p (the same as its target port), with a name and an
// appProtocol that say its protocol in the ways meshes read.
func (w *world) servicePort(p int32) corev1.ServicePort {
	sp := corev1.ServicePort{Port: p, TargetPort: intstr.FromInt32(p), Protocol: corev1.ProtocolTCP}
	switch p {
	case 8080:
		sp.Name = w.pick("http", "web")
		if w.chance(0.3) {
			sp.AppProtocol = ptr("http")
		}
	case 9090:
		sp.Name = w.pick("grpc", "metrics", "tcp-admin")
		if w.chance(0.4) {
			sp.AppProtocol = ptr(w.pick("grpc", "http", "tcp", "kubernetes.io/h2c"))
		}
	case 5432:
		sp.Name = w.pick("tcp-pg", "pg")
		if w.chance(0.5) {
			sp.AppProtocol = ptr("tcp")
		}
	}
	return sp
}

func ptr[T any](v T) *T { return &v }

func (w *world) addGroup(ns string) {
	g := &specsv1alpha4.HTTPRouteGroup{TypeMeta: metav1.TypeMeta{APIVersion: "specs.smi-spec.io/v1alpha4", Kind: "HTTPRouteGroup"},
		ObjectMeta: meta(ns, w.next("routes"))}
	for i := range 1 + w.r.IntN(3) {
		g.Spec.Matches = append(g.Spec.Matches, w.match(ns, g.Name, fmt.Sprintf("m%d", i)))
	}
	w.groups = append(w.groups, g)
}

func (w *world) match(ns, group, name string) specsv1alpha4.HTTPMatch {
	m := specsv1alpha4.HTTPMatch{Name: name}
	s := sample{path: func(*rand.Rand) string { return "/" }, header: map[string]func(*rand.Rand) string{}}
	if w.chance(0.8) {
		re, smp := genRegex(w.r, pathPieces, 3)
		m.PathRegex, s.path = re, smp
	}
	if w.chance(0.6) {
		m.Methods = []string{w.pick("GET", "POST", "*", "DELETE")}
		if w.chance(0.3) {
			m.Methods = append(m.Methods, w.pick("GET", "PUT"))
		}
	}
	if w.chance(0.35) {
		m.Headers = map[string]string{}
		for range 1 + w.r.IntN(2) {
			h := w.pick("x-env", "x-canary", "user-agent")
			re, smp := genRegex(w.r, headerPieces, 2)
			m.Headers[h], s.header[h] = re, smp
		}
	}
	w.samples[ns+"/"+group+"/"+name] = s
	return m
}

func (w *world) addTCPRoute(ns string) {
	t := &specsv1alpha4.TCPRoute{TypeMeta: metav1.TypeMeta{APIVersion: "specs.smi-spec.io/v1alpha4", Kind: "TCPRoute"},
		ObjectMeta: meta(ns, w.next("tcp"))}
	if w.chance(0.6) {
		t.Spec.Matches.Ports = []int32{w.pick2(5432, 9090, 8080)}
	}
	w.tcps = append(w.tcps, t)
}

func (w *world) pick2(xs ...int32) int32 { return xs[w.r.IntN(len(xs))] }

func (w *world) workloadsIn(ns string) []workload {
	var out []workload
	for _, wl := range w.workloads {
		if wl.ns == ns {
			out = append(out, wl)
		}
	}
	return out
}

func (w *world) addTarget() {
	ns := w.pick(w.namespaces...)
	local := w.workloadsIn(ns)
	dst := local[w.r.IntN(len(local))]
	t := &accessv1alpha3.TrafficTarget{TypeMeta: metav1.TypeMeta{APIVersion: "access.smi-spec.io/v1alpha3", Kind: "TrafficTarget"},
		ObjectMeta: meta(ns, w.next("tt")),
		Spec:       accessv1alpha3.TrafficTargetSpec{Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: dst.sa}}}
	for range 1 + w.r.IntN(2) {
		src := w.workloads[w.r.IntN(len(w.workloads))]
		s := accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: src.sa}
		if src.ns != ns || w.chance(0.3) {
			s.Namespace = src.ns
		}
		t.Spec.Sources = append(t.Spec.Sources, s)
	}
	for range 1 + w.r.IntN(2) {
		t.Spec.Rules = append(t.Spec.Rules, w.rule(ns))
	}
	w.targets = append(w.targets, t)
}

// rule names a route of ns: a group (some of its matches, all of them, or
// a name it does not have), a TCPRoute, or a route that does not exist.
func (w *world) rule(ns string) accessv1alpha3.TrafficTargetRule {
	var groups []*specsv1alpha4.HTTPRouteGroup
	for _, g := range w.groups {
		if g.Namespace == ns {
			groups = append(groups, g)
		}
	}
	var tcps []*specsv1alpha4.TCPRoute
	for _, t := range w.tcps {
		if t.Namespace == ns {
			tcps = append(tcps, t)
		}
	}
	switch {
	case len(tcps) > 0 && w.chance(0.25):
		return accessv1alpha3.TrafficTargetRule{Kind: "TCPRoute", Name: tcps[w.r.IntN(len(tcps))].Name}
	case len(groups) > 0 && w.chance(0.95):
		g := groups[w.r.IntN(len(groups))]
		rule := accessv1alpha3.TrafficTargetRule{Kind: "HTTPRouteGroup", Name: g.Name}
		if w.chance(0.7) {
			for _, m := range g.Spec.Matches {
				if w.chance(0.6) {
					rule.Matches = append(rule.Matches, m.Name)
				}
			}
			if w.chance(0.1) {
				rule.Matches = append(rule.Matches, "absent")
			}
		}
		return rule
	}
	return accessv1alpha3.TrafficTargetRule{Kind: "HTTPRouteGroup", Name: "missing"}
}

// addSplit splits a Service that has no split yet over new backends.
func (w *world) addSplit() {
	var roots []*corev1.Service
	for _, s := range w.services {
		if !strings.Contains(s.Name, "-v") && w.splitOf(s.Namespace, s.Name) == nil {
			roots = append(roots, s)
		}
	}
	if len(roots) == 0 {
		return
	}
	root := roots[w.r.IntN(len(roots))]
	ts := &splitv1alpha4.TrafficSplit{TypeMeta: metav1.TypeMeta{APIVersion: "split.smi-spec.io/v1alpha4", Kind: "TrafficSplit"},
		ObjectMeta: meta(root.Namespace, w.next("split")), Spec: splitv1alpha4.TrafficSplitSpec{Service: root.Name}}
	for i := range 1 + w.r.IntN(3) {
		b := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(root.Namespace, fmt.Sprintf("%s-v%d", root.Name, i+1)),
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": root.Name, "version": fmt.Sprint(i + 1)}}}
		for _, p := range root.Spec.Ports {
			if len(root.Spec.Ports) == 1 || w.chance(0.8) { // a backend may lack a root port
				b.Spec.Ports = append(b.Spec.Ports, p)
			}
		}
		if len(b.Spec.Ports) == 0 {
			b.Spec.Ports = append(b.Spec.Ports, root.Spec.Ports[0])
		}
		if w.serviceIndex(b.Namespace, b.Name) < 0 {
			w.services = append(w.services, b)
		}
		ts.Spec.Backends = append(ts.Spec.Backends, splitv1alpha4.TrafficSplitBackend{Service: b.Name, Weight: w.weight()})
	}
	if w.late.IntN(8) == 0 { // a backend listed twice: SMI adds its weights
		dup := ts.Spec.Backends[w.late.IntN(len(ts.Spec.Backends))]
		dup.Weight = 1 + w.late.IntN(100)
		ts.Spec.Backends = slices.Insert(ts.Spec.Backends, w.late.IntN(len(ts.Spec.Backends)+1), dup)
	}
	if w.chance(0.35) {
		var groups []string
		for _, g := range w.groups {
			if g.Namespace == root.Namespace {
				groups = append(groups, g.Name)
			}
		}
		if len(groups) > 0 {
			ts.Spec.Matches = append(ts.Spec.Matches, splitv1alpha4.TrafficSplitMatch{Kind: "HTTPRouteGroup", Name: w.pick(groups...)})
		}
	}
	w.splits = append(w.splits, ts)
}

func (w *world) weight() int {
	switch n := w.r.IntN(10); {
	case n == 0:
		return 0
	case n < 7:
		return 1 + w.r.IntN(100)
	case n < 9:
		return 1 + w.r.IntN(10000)
	}
	return 1 + w.r.IntN(3)
}

func (w *world) serviceIndex(ns, name string) int {
	return slices.IndexFunc(w.services, func(s *corev1.Service) bool { return s.Namespace == ns && s.Name == name })
}

func (w *world) splitOf(ns, root string) *splitv1alpha4.TrafficSplit {
	for _, s := range w.splits {
		if s.Namespace == ns && s.Spec.Service == root {
			return s
		}
	}
	return nil
}

type (
	accessSubject = accessv1alpha3.IdentityBindingSubject
	servicePort   = corev1.ServicePort
)

// specOf is obj's Spec field (nil when it has none).
func specOf(obj runtime.Object) any {
	v := reflect.ValueOf(obj)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if f := v.FieldByName("Spec"); f.IsValid() {
		return f.Interface()
	}
	return nil
}

func annotationsOf(obj runtime.Object) map[string]string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetAnnotations()
	}
	return nil
}
