package perf

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// latencyRow is one measurement of BenchmarkLatency.
type latencyRow struct {
	backend, condition, what string
	p                        percentiles
	note                     string
}

var latencyRows []latencyRow

// latNS holds the objects whose latencies are measured; the world's
// 10,000 SMI objects live in namespaces of their own.
const latNS = "lat"

var (
	trafficSplitV1alpha4 = schema.GroupVersionKind{Group: "split.smi-spec.io", Version: "v1alpha4", Kind: "TrafficSplit"}
	consulKinds          = []string{"service-splitter", "service-intentions"}
)

// envSizes reads a comma-separated list of sizes (nil when unset).
func envSizes(name string) []int {
	v := os.Getenv(name)
	if v == "" {
		return nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkLatency measures what a user waits for, per backend, with
// 10,000 SMI objects present (SMI_LATENCY_WORLD), idle and under a steady
// churn of 50 edits/s of other objects: a TrafficSplit weight step as
// Flagger writes it (v1alpha1 and v1alpha3) to the mesh object and to
// Programmed; a grant revoked (TrafficTarget deleted, or a source removed)
// to the mesh's grant gone; a pod of another service account taking the
// destination's labels to the policy narrowed. Every end time is the
// arrival of the watch event (Kubernetes) or blocking-query answer (Consul)
// that shows it; the start is the moment the edit is sent.
func BenchmarkLatency(b *testing.B) {
	backends := []string{"istio", "linkerd", "consul"}
	if v := os.Getenv("SMI_LATENCY_BACKENDS"); v != "" {
		backends = strings.Split(v, ",")
	}
	for _, be := range backends {
		b.Run(be, func(b *testing.B) {
			for b.Loop() {
				latencyRows = append(latencyRows, measureLatency(b, be)...)
			}
		})
	}
	writeLatencyReport(b)
}

// world builds n SMI objects (per namespace: 1 HTTPRouteGroup, 50
// TrafficSplits, 49 TrafficTargets; names unique across namespaces, as
// Consul's free edition needs) with their Services and pods.
type world struct {
	namespaces, pre, smi []client.Object
	splits, targets      []client.Object
}

func newWorld(n int, prefix string) *world {
	w := &world{}
	for i := range max(1, n/perNS) {
		ns := fmt.Sprintf("%s-%d", prefix, i)
		w.namespaces = append(w.namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		w.smi = append(w.smi, &specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "routes"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "read", PathRegex: "/api", Methods: []string{"GET"}}}}})
		for j := range perNS / 2 {
			name := fmt.Sprintf("%s%d-%d", prefix, i, j)
			for _, s := range []string{name, name + "-v1", name + "-v2"} {
				w.pre = append(w.pre, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: s},
					Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": s}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
			}
			ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: splitv1alpha4.TrafficSplitSpec{Service: name, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: name + "-v1", Weight: 9}, {Service: name + "-v2", Weight: 1}}}}
			w.smi, w.splits = append(w.smi, ts), append(w.splits, ts)
			if j == perNS/2-1 {
				continue // 49 TrafficTargets per namespace
			}
			w.pre = append(w.pre, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{ServiceAccountName: name, Containers: []corev1.Container{{Name: "c", Image: "app", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}})
			tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: accessv1alpha3.TrafficTargetSpec{
					Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: name},
					Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}},
					Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: fmt.Sprintf("%s%d-%d", prefix, i, (j+1)%(perNS/2))}},
				}}
			w.smi, w.targets = append(w.smi, tt), append(w.targets, tt)
		}
	}
	return w
}

// meshSetup is a control plane with the mesh's CRDs (and a Consul agent),
// and the controller's arguments for the backend.
type meshSetup struct {
	env   *harness.Env
	agent *harness.Consul
	args  []string
}

func startMesh(b *testing.B, backend string) *meshSetup {
	var crds []string
	switch backend {
	case "istio":
		p, err := harness.IstioCRDs()
		if err != nil {
			b.Fatal(err)
		}
		crds = append(crds, p)
	case "linkerd":
		p, err := harness.LinkerdCRDs()
		if err != nil {
			b.Fatal(err)
		}
		crds = append(crds, p)
	}
	m := &meshSetup{}
	if backend == "consul" {
		agent, err := harness.StartConsul()
		if err != nil {
			b.Fatal(err)
		}
		m.agent = agent
		m.args = []string{"--backend-opt=address=" + agent.Addr, "--backend-opt=resync=10m"}
	}
	env, err := harness.Start(harness.Options{ExtraCRDPaths: crds})
	m.env = env
	if err != nil {
		m.stop()
		b.Fatal(err)
	}
	return m
}

func (m *meshSetup) stop() {
	if m.env != nil {
		_ = m.env.Stop()
	}
	if m.agent != nil {
		_ = m.agent.Stop()
	}
}

// latencyProbe measures one backend's latencies on the objects of latNS.
type latencyProbe struct {
	b       *testing.B
	backend string
	c       client.Client
	dyn     dynamic.Interface
	t       *tracker
	canary  int // the step split's current canary weight
	seq     int
	ctrl    *controllerProcess
}

func measureLatency(b *testing.B, backend string) []latencyRow {
	m := startMesh(b, backend)
	defer m.stop()
	c := m.env.Client
	worldSize := latencyWorld(backend)
	w := newWorld(worldSize, "lw")
	b.StopTimer()
	parallel(b, c, w.namespaces)
	parallel(b, c, w.pre)
	parallel(b, c, w.smi)
	ctrl := startController(b, buildController(b), m.env, backend, m.args, controllerEnv(worldSize))
	defer ctrl.stop()
	start := time.Now()
	if msg := waitProgrammedWithin(c, start, len(w.splits)+len(w.targets), convergeTimeout(worldSize)); msg != "" {
		ctrl.saveProfiles(b, "latency-"+backend)
		b.Fatalf("%s: the world did not converge: %s; the controller's last lines:\n%s", backend, msg, lastLines(ctrl.log.String(), 20))
	}
	b.Logf("%s: %d SMI objects Programmed in %s", backend, len(w.splits)+len(w.targets), time.Since(start).Round(time.Millisecond))

	p := &latencyProbe{b: b, backend: backend, c: c, ctrl: ctrl}
	var err error
	if p.dyn, err = dynamic.NewForConfig(m.env.Config); err != nil {
		b.Fatal(err)
	}
	p.fixtures()
	var ctx context.Context
	p.t, ctx = newTracker()
	defer p.t.stop()
	p.watch(ctx, m)
	p.waitReady()

	samples := envInt("SMI_LATENCY_SAMPLES", 200)
	var rows []latencyRow
	rows = append(rows, p.measureAll("idle", samples)...)
	churn := startChurn(c, w, 50)
	ctrl.profileCPU("latency-"+backend+"-churn", profileSeconds())
	profileAPIServer(m.env, "latency-"+backend+"-churn", profileSeconds())
	if m.agent != nil {
		profileURL("http://"+m.agent.Addr+"/debug/pprof", "latency-"+backend+"-churn.agent", profileSeconds())
	}
	rows = append(rows, p.measureAll("churn", samples)...)
	rate := churn.stop()
	for i := range rows {
		if rows[i].condition == "churn" {
			rows[i].condition = fmt.Sprintf("churn (%.0f edits/s)", rate)
		}
	}
	rows = append(rows, p.burst(w, envInt("SMI_LATENCY_BURST", 2000), envInt("SMI_LATENCY_BURST_SAMPLES", 30)))
	b.StartTimer()
	return rows
}

// latencyWorld is how many SMI objects are present while latencies are
// measured: 10,000 (SMI_LATENCY_WORLD); for Consul 2,000
// (SMI_LATENCY_WORLD_CONSUL): the agent's cost per routing write grows with
// the intentions it holds (it compiles the discovery chain of every
// intention's destination), so converging grows faster than linearly — 500
// objects in 7.4 s, 2,000 in 68 s, 10,000 not within 8 min 20 s on 2 cores.
func latencyWorld(backend string) int {
	if backend == "consul" {
		return envInt("SMI_LATENCY_WORLD_CONSUL", 2000)
	}
	return envInt("SMI_LATENCY_WORLD", 10000)
}

func convergeTimeout(n int) time.Duration {
	return 5*time.Minute + time.Duration(n)*20*time.Millisecond
}

// splitFixtures: a Flagger-shaped split in latNS (root, primary 100,
// canary 0; port 80), written at v1alpha1.
func (p *latencyProbe) splitFixtures() {
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: latNS}}}
	for _, s := range []string{"step", "step-primary", "step-canary"} {
		objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: latNS, Name: s},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": s}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	}
	objs = append(objs, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "split.smi-spec.io/v1alpha1", "kind": "TrafficSplit",
		"metadata": map[string]any{"namespace": latNS, "name": "step"},
		"spec":     map[string]any{"service": "step", "backends": backendsJSON("v1alpha1", 100, 0)}}})
	p.create(objs)
}

// fixtures: the split of splitFixtures, and a destination with two pods of
// its service account (labels app=server and version v1 / v2, so its
// policy selects app=server) with a base grant.
func (p *latencyProbe) fixtures() {
	p.splitFixtures()
	objs := []client.Object{&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: latNS, Name: "server"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "server"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}}
	for _, v := range []string{"v1", "v2"} {
		objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: latNS, Name: "server-" + v, Labels: map[string]string{"app": "server", "version": v}},
			Spec: corev1.PodSpec{ServiceAccountName: "server", Containers: []corev1.Container{{Name: "c", Image: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}}})
	}
	objs = append(objs, &specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: latNS, Name: "routes"},
		Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "read", PathRegex: "/api", Methods: []string{"GET"}}}}},
		p.target("base", "keeper"))
	p.create(objs)
}

func (p *latencyProbe) create(objs []client.Object) {
	for _, o := range objs {
		if err := p.c.Create(context.Background(), o); err != nil {
			p.b.Fatal(err)
		}
	}
}

// target is a TrafficTarget of latNS granting sources the routes on server.
func (p *latencyProbe) target(name string, sources ...string) *accessv1alpha3.TrafficTarget {
	tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: latNS, Name: name},
		Spec: accessv1alpha3.TrafficTargetSpec{
			Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "server"},
			Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}}}}
	for _, s := range sources {
		tt.Spec.Sources = append(tt.Spec.Sources, accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: s})
	}
	return tt
}

// backendsJSON: the step split's backends as the version writes them
// (v1alpha1: quantities, as Flagger's SMI router sets them).
func backendsJSON(version string, primary, canary int) []any {
	weight := func(w int) any {
		if version == "v1alpha1" {
			return strconv.Itoa(w)
		}
		return int64(w)
	}
	return []any{map[string]any{"service": "step-primary", "weight": weight(primary)}, map[string]any{"service": "step-canary", "weight": weight(canary)}}
}

func (p *latencyProbe) watch(ctx context.Context, m *meshSetup) {
	var kinds []schema.GroupVersionKind
	switch p.backend {
	case "istio":
		kinds = []schema.GroupVersionKind{istio.VirtualServiceGVK, istio.AuthorizationPolicyGVK}
	case "linkerd":
		kinds = []schema.GroupVersionKind{linkerd.ServiceProfileGVK, linkerd.MeshTLSAuthenticationGVK, linkerd.ServerGVK}
	case "consul":
		p.t.watchConsul(ctx, m.agent.Addr, "service-splitter", "step")
		p.t.watchConsul(ctx, m.agent.Addr, "service-intentions", "server")
	}
	for _, k := range append(kinds, trafficSplitV1alpha4) {
		if err := p.t.watchKube(ctx, p.dyn, k, latNS); err != nil {
			p.b.Fatal(err)
		}
	}
}

// waitReady: the fixtures are in the mesh (split at canary 0, the base
// grant, the destination's policy selecting app=server).
func (p *latencyProbe) waitReady() {
	if _, err := p.t.await("fixtures in the mesh", 2*time.Minute, func(t *tracker) bool {
		share, ok := p.canaryShare()
		return ok && share == 0 && p.granted("keeper") && (p.backend == "consul" || p.selects(intruderLabels))
	}); err != nil {
		p.b.Fatal(err)
	}
}

// waitSplitReady: the step split is in the mesh (canary 0) and Programmed.
func (p *latencyProbe) waitSplitReady() {
	if _, err := p.t.await("step split in the mesh", 2*time.Minute, func(t *tracker) bool {
		share, ok := p.canaryShare()
		return ok && share == 0 && p.programmed(1)
	}); err != nil {
		p.b.Fatal(err)
	}
}

// measureAll takes every latency sample under one condition.
func (p *latencyProbe) measureAll(condition string, n int) []latencyRow {
	var rows []latencyRow
	mesh := map[string]string{"istio": "VirtualService", "linkerd": "ServiceProfile", "consul": "service-splitter"}[p.backend]
	for _, version := range []string{"v1alpha1", "v1alpha3"} {
		native, programmed := p.steps(version, n)
		rows = append(rows, latencyRow{p.backend, condition, "weight step (" + version + ") → " + mesh + " updated", summarize(native), ""},
			latencyRow{p.backend, condition, "weight step (" + version + ") → Programmed for the generation", summarize(programmed), ""})
	}
	grant := map[string]string{"istio": "AuthorizationPolicy rule", "linkerd": "MeshTLSAuthentication identity", "consul": "intention source"}[p.backend]
	rows = append(rows, latencyRow{p.backend, condition, "TrafficTarget deleted → " + grant + " gone", summarize(p.revokeDeletes(n)), ""},
		latencyRow{p.backend, condition, "source removed → " + grant + " gone", summarize(p.revokeSources(n)), ""})
	if p.backend == "consul" {
		rows = append(rows, latencyRow{p.backend, condition, "pod of another service account with the destination's labels → policy narrowed", percentiles{},
			"not applicable: Consul identifies workloads by service name, not labels"})
	} else {
		policy := map[string]string{"istio": "AuthorizationPolicy selector", "linkerd": "Server podSelector"}[p.backend]
		rows = append(rows, latencyRow{p.backend, condition, "pod of another service account with the destination's labels → " + policy + " narrowed", summarize(p.narrowings(n)), ""})
	}
	return rows
}

// steps edits the step split's weights n times at version and returns
// the latencies to the mesh object and to Programmed.
func (p *latencyProbe) steps(version string, n int) (native, programmed []time.Duration) {
	gvr := schema.GroupVersionResource{Group: "split.smi-spec.io", Version: version, Resource: "trafficsplits"}
	for range n {
		p.canary = p.canary%99 + 1 // 1..99, never the weight it has
		canary := p.canary
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"backends": backendsJSON(version, 100-canary, canary)}})
		p.t.drain()
		t0 := time.Now()
		got, err := p.dyn.Resource(gvr).Namespace(latNS).Patch(context.Background(), "step", types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			p.b.Fatal(err)
		}
		gen := got.GetGeneration()
		at, err := p.awaitEach(fmt.Sprintf("step to %d%%", canary), []func() bool{
			func() bool { s, ok := p.canaryShare(); return ok && abs(s-float64(canary)/100) < 0.001 },
			func() bool { return p.programmed(gen) },
		})
		if err != nil {
			p.b.Fatal(err)
		}
		native, programmed = append(native, at[0].Sub(t0)), append(programmed, at[1].Sub(t0))
	}
	return native, programmed
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// awaitEach applies events until every condition holds and returns, for
// each, the arrival of the event that made it hold. None may hold before.
func (p *latencyProbe) awaitEach(what string, conds []func() bool) ([]time.Time, error) {
	at := make([]time.Time, len(conds))
	for i, c := range conds {
		if c() {
			return nil, fmt.Errorf("%s: condition %d held before the edit", what, i)
		}
	}
	left := len(conds)
	_, err := p.t.await(what, time.Minute, func(t *tracker) bool {
		for i, c := range conds {
			if at[i].IsZero() && c() {
				at[i] = t.current
				left--
			}
		}
		return left == 0
	})
	if err != nil {
		return nil, err
	}
	return at, nil
}

// canaryShare is the canary's share of the step split in the mesh object.
func (p *latencyProbe) canaryShare() (float64, bool) {
	var canary, total float64
	add := func(target string, w float64) {
		total += w
		if strings.HasPrefix(target, "step-canary") {
			canary += w
		}
	}
	switch p.backend {
	case "istio":
		for _, o := range p.t.objects("VirtualService") {
			routes, _, _ := unstructured.NestedSlice(o, "spec", "http")
			for _, r := range routes {
				dests, _ := r.(map[string]any)["route"].([]any)
				for _, d := range dests {
					dm := d.(map[string]any)
					host, _, _ := unstructured.NestedString(dm, "destination", "host")
					w, _, _ := unstructured.NestedInt64(dm, "weight")
					add(host, float64(w))
				}
			}
		}
	case "linkerd":
		for _, o := range p.t.objects("ServiceProfile") {
			profileWeights(o, add)
		}
	case "consul":
		for _, o := range p.t.objects("consul/service-splitter") {
			splits, _ := o["Splits"].([]any)
			for _, s := range splits {
				sm := s.(map[string]any)
				w, _ := sm["Weight"].(float64)
				add(fmt.Sprint(sm["Service"]), w)
			}
		}
	}
	if total == 0 {
		return 0, true // no split written: all traffic on the root (canary 0)
	}
	return canary / total, true
}

// programmed: the step split is Programmed for generation gen.
func (p *latencyProbe) programmed(gen int64) bool {
	o := p.t.objects("TrafficSplit")[latNS+"/step"]
	if o == nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(o, "status", "conditions")
	for _, c := range conds {
		cm := c.(map[string]any)
		if cm["type"] == "Programmed" && cm["status"] == "True" && fmt.Sprint(cm["observedGeneration"]) == strconv.FormatInt(gen, 10) {
			return true
		}
	}
	return false
}

// granted: the mesh grants the service account sa of latNS something on server.
func (p *latencyProbe) granted(sa string) bool {
	switch p.backend {
	case "istio":
		return p.t.anyJSONContains("AuthorizationPolicy", `"`+latNS+`/`+sa+`"`)
	case "linkerd":
		return p.t.anyJSONContains("MeshTLSAuthentication", `"name":"`+sa+`"`)
	default:
		return p.t.anyJSONContains("consul/service-intentions", `"Name":"`+sa+`"`)
	}
}

var intruderLabels = map[string]string{"app": "server", "version": "v3"}

// selects: some policy object of the destination selects pods with labels.
func (p *latencyProbe) selects(labels map[string]string) bool {
	kind, path := "AuthorizationPolicy", []string{"spec", "selector", "matchLabels"}
	if p.backend == "linkerd" {
		kind, path = "Server", []string{"spec", "podSelector", "matchLabels"}
	}
	for _, o := range p.t.objects(kind) {
		sel, found, _ := unstructured.NestedStringMap(o, path...)
		if !found {
			continue
		}
		all := true
		for k, v := range sel {
			if labels[k] != v {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (p *latencyProbe) name(prefix string) string {
	p.seq++
	return fmt.Sprintf("%s-%d", prefix, p.seq)
}

// untimed waits for a state between samples.
func (p *latencyProbe) untimed(what string, cond func() bool) {
	if cond() {
		return
	}
	if _, err := p.t.await(what, 5*time.Minute, func(*tracker) bool { return cond() }); err != nil {
		p.b.Fatal(err)
	}
}

// revokeDeletes: a TrafficTarget granting a fresh source is created (and
// in the mesh), then deleted: the time to the grant gone.
func (p *latencyProbe) revokeDeletes(n int) []time.Duration {
	var out []time.Duration
	ctx := context.Background()
	for range n {
		name := p.name("rev")
		sa := "client-" + name
		tt := p.target(name, sa)
		if err := p.c.Create(ctx, tt); err != nil {
			p.b.Fatal(err)
		}
		p.untimed("grant of "+sa, func() bool { return p.granted(sa) })
		p.t.drain()
		t0 := time.Now()
		if err := p.c.Delete(ctx, tt); err != nil {
			p.b.Fatal(err)
		}
		at, err := p.awaitEach("revocation of "+sa, []func() bool{func() bool { return !p.granted(sa) }})
		if err != nil {
			p.b.Fatal(err)
		}
		out = append(out, at[0].Sub(t0))
	}
	return out
}

// revokeSources: a TrafficTarget granting two fresh sources loses one.
func (p *latencyProbe) revokeSources(n int) []time.Duration {
	var out []time.Duration
	ctx := context.Background()
	for range n {
		name := p.name("revs")
		keep, drop := "client-"+name+"-a", "client-"+name+"-b"
		tt := p.target(name, keep, drop)
		if err := p.c.Create(ctx, tt); err != nil {
			p.b.Fatal(err)
		}
		p.untimed("grants of "+name, func() bool { return p.granted(keep) && p.granted(drop) })
		p.t.drain()
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"sources": []any{map[string]any{"kind": "ServiceAccount", "name": keep}}}})
		t0 := time.Now()
		if err := p.c.Patch(ctx, tt, client.RawPatch(types.MergePatchType, patch)); err != nil {
			p.b.Fatal(err)
		}
		at, err := p.awaitEach("revocation of "+drop, []func() bool{func() bool { return !p.granted(drop) }})
		if err != nil {
			p.b.Fatal(err)
		}
		out = append(out, at[0].Sub(t0))
		if !p.granted(keep) {
			p.b.Fatalf("removing %s also revoked %s", drop, keep)
		}
		if err := p.c.Delete(ctx, tt); err != nil {
			p.b.Fatal(err)
		}
		p.untimed("cleanup of "+name, func() bool { return !p.granted(keep) })
	}
	return out
}

// narrowings: a pod of another service account appears with labels the
// destination's policy selects (app=server); the time until no policy
// object selects it. It is deleted and the policy widens again (untimed).
func (p *latencyProbe) narrowings(n int) []time.Duration {
	var out []time.Duration
	ctx := context.Background()
	zero := int64(0)
	for range n {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: latNS, Name: p.name("intruder"), Labels: intruderLabels},
			Spec: corev1.PodSpec{ServiceAccountName: "other", Containers: []corev1.Container{{Name: "c", Image: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}}}
		p.t.drain()
		t0 := time.Now()
		if err := p.c.Create(ctx, pod); err != nil {
			p.b.Fatal(err)
		}
		at, err := p.awaitEach("narrowing for "+pod.Name, []func() bool{func() bool { return !p.selects(intruderLabels) }})
		if err != nil {
			p.b.Fatal(err)
		}
		out = append(out, at[0].Sub(t0))
		if !p.selects(map[string]string{"app": "server", "version": "v1"}) {
			p.b.Fatalf("narrowing for %s left the destination's own pods unselected", pod.Name)
		}
		if err := p.c.Delete(ctx, pod, &client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			p.b.Fatal(err)
		}
		p.untimed("policy widened after "+pod.Name, func() bool { return p.selects(intruderLabels) })
	}
	return out
}

// burst: n new grants (TrafficTargets created in the world's namespaces)
// arrive at once; revocations made while they are queued must not wait
// behind them (the controller hands out created TrafficTargets' keys after
// everything else).
func (p *latencyProbe) burst(w *world, n, samples int) latencyRow {
	ctx := context.Background()
	var tts []*accessv1alpha3.TrafficTarget
	for range samples {
		name := p.name("burst-rev")
		tt := p.target(name, "client-"+name)
		if err := p.c.Create(ctx, tt); err != nil {
			p.b.Fatal(err)
		}
		tts = append(tts, tt)
	}
	p.untimed("grants before the burst", func() bool {
		for _, tt := range tts {
			if !p.granted(tt.Spec.Sources[0].Name) {
				return false
			}
		}
		return true
	})
	s0, err := p.ctrl.counter("smi_adapter_status_writes_total")
	if err != nil {
		p.b.Fatal(err)
	}
	var grants []client.Object
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		dst := w.targets[r.IntN(len(w.targets))].(*accessv1alpha3.TrafficTarget)
		tt := dst.DeepCopy()
		tt.ObjectMeta = metav1.ObjectMeta{Namespace: dst.Namespace, Name: fmt.Sprintf("burst-%d", i)}
		tt.Spec.Sources = []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: fmt.Sprintf("burst-client-%d", i)}}
		grants = append(grants, tt)
	}
	burstStart := time.Now()
	done := make(chan struct{})
	go func() { parallel(p.b, p.c, grants); close(done) }()
	time.Sleep(time.Second) // the queue fills
	var lat []time.Duration
	for _, tt := range tts {
		sa := tt.Spec.Sources[0].Name
		p.t.drain()
		t0 := time.Now()
		if err := p.c.Delete(ctx, tt); err != nil {
			p.b.Fatal(err)
		}
		at, err := p.awaitEach("revocation during the burst", []func() bool{func() bool { return !p.granted(sa) }})
		if err != nil {
			p.b.Fatal(err)
		}
		lat = append(lat, at[0].Sub(t0))
	}
	revokedBy := time.Since(burstStart)
	<-done
	created := time.Since(burstStart)
	for {
		s, err := p.ctrl.counter("smi_adapter_status_writes_total")
		if err == nil && s-s0 >= float64(n) {
			break
		}
		if time.Since(burstStart) > 10*time.Minute {
			p.b.Fatalf("the burst of %d grants did not drain in 10 min", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Since(burstStart)
	return latencyRow{p.backend, fmt.Sprintf("burst of %d new grants", n), "TrafficTarget deleted → grant gone, while the burst is queued", summarize(lat),
		fmt.Sprintf("the %d revocations were done %s after the burst began; its creates took %s, its last status write came %s after it began",
			len(tts), revokedBy.Round(100*time.Millisecond), created.Round(100*time.Millisecond), drained.Round(100*time.Millisecond))}
}

// churn edits other objects at a steady rate: TrafficSplit weights,
// TrafficTarget sources (grants changed), TrafficTargets created (new
// grants) and deleted.
type churn struct {
	cancel  context.CancelFunc
	done    chan struct{}
	edits   atomic.Int64
	skipped atomic.Int64
	start   time.Time
}

func startChurn(c client.Client, w *world, perSecond int) *churn {
	ctx, cancel := context.WithCancel(context.Background())
	ch := &churn{cancel: cancel, done: make(chan struct{}), start: time.Now()}
	sem := make(chan struct{}, clientWorkers)
	go func() {
		defer close(ch.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		r := rand.New(rand.NewPCG(3, 4))
		var created []client.Object
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var op func() error
			switch i % 10 {
			case 0, 1, 2, 3:
				ts := w.splits[r.IntN(len(w.splits))]
				v := r.IntN(99) + 1
				patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"backends": []any{
					map[string]any{"service": ts.GetName() + "-v1", "weight": 100 - v}, map[string]any{"service": ts.GetName() + "-v2", "weight": v}}}})
				op = func() error { return c.Patch(ctx, ts, client.RawPatch(types.MergePatchType, patch)) }
			case 4, 5, 6, 7:
				tt := w.targets[r.IntN(len(w.targets))]
				src := fmt.Sprintf("%s-src-%d", tt.GetName(), r.IntN(5))
				patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"sources": []any{map[string]any{"kind": "ServiceAccount", "name": src}}}})
				op = func() error { return c.Patch(ctx, tt, client.RawPatch(types.MergePatchType, patch)) }
			case 8:
				dst := w.targets[r.IntN(len(w.targets))].(*accessv1alpha3.TrafficTarget)
				tt := dst.DeepCopy()
				tt.ObjectMeta = metav1.ObjectMeta{Namespace: dst.Namespace, Name: fmt.Sprintf("churn-%d", i)}
				created = append(created, tt)
				op = func() error { return c.Create(ctx, tt) }
			case 9:
				if len(created) < 20 {
					continue
				}
				tt := created[0]
				created = created[1:]
				op = func() error { return client.IgnoreNotFound(c.Delete(ctx, tt)) }
			}
			select {
			case sem <- struct{}{}:
			default:
				ch.skipped.Add(1) // the apiserver is behind: never pile up
				continue
			}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := op(); err == nil {
					ch.edits.Add(1)
				}
			})
		}
	}()
	return ch
}

// stop ends the churn and returns the rate it achieved (edits/s).
func (ch *churn) stop() float64 {
	ch.cancel()
	<-ch.done
	return float64(ch.edits.Load()) / time.Since(ch.start).Seconds()
}

func writeLatencyReport(b *testing.B) {
	if len(latencyRows) == 0 {
		return
	}
	var s strings.Builder
	fmt.Fprintf(&s, "## Latency\n\nWritten by `make bench` (integration/perf BenchmarkLatency) on %s, one table per backend, each from one run. Per backend, in a fresh control plane (and a fresh Consul agent) with the SMI objects shown present and Programmed (per namespace: 1 HTTPRouteGroup, 50 TrafficSplits, 49 TrafficTargets). "+
		"*Idle*: nothing else changes. *Churn*: a steady stream of edits of other objects (40%% TrafficSplit weights, 40%% TrafficTarget sources, 10%% new TrafficTargets, 10%% deletions) at 50 edits/s, with the rate the apiserver took shown (never more than 8 in flight: a tick whose edit cannot start is skipped). "+
		"Each sample starts when the edit is sent and ends when the watch event (Kubernetes) or blocking-query answer (Consul) that shows the result arrives at the benchmark — never by polling. "+
		"*Weight step*: the canary weight of a Flagger-shaped split (root, primary, canary; port 80) moves by one point, written at the version shown as Flagger writes it. "+
		"*Revocation*: a TrafficTarget granting a fresh source is deleted, or loses one of its two sources. *Narrowed*: a pod of another service account appears with labels the destination's policy selects (`app=server`; the destination's pods also carry `version=v1`/`v2`). "+
		"*Burst*: 2,000 TrafficTargets created at once (new grants, 8 workers) while 30 grants made before it are revoked one by one.\n", time.Now().UTC().Format("2006-01-02"))
	writeSection(b, "latency", s.String())
	backends := []string{}
	for _, r := range latencyRows {
		if !slices.Contains(backends, r.backend) {
			backends = append(backends, r.backend)
		}
	}
	for _, be := range backends {
		var t strings.Builder
		fmt.Fprintf(&t, "### %s, %d SMI objects present\n\n%s, %s.\n\n", be, latencyWorld(be)/perNS*(perNS-1), time.Now().UTC().Format("2006-01-02"), machine())
		t.WriteString("| condition | from → to | samples | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|\n")
		var notes []string
		for _, r := range latencyRows {
			if r.backend != be {
				continue
			}
			if r.p.n == 0 {
				fmt.Fprintf(&t, "| %s | %s | — | %s | | | |\n", r.condition, r.what, r.note)
				continue
			}
			fmt.Fprintf(&t, "| %s | %s | %d | %s | %s | %s | %s |\n", r.condition, r.what, r.p.n, ms(r.p.p50), ms(r.p.p90), ms(r.p.p99), ms(r.p.max))
			if r.note != "" {
				notes = append(notes, fmt.Sprintf("- %s: %s.", r.condition, r.note))
			}
		}
		if len(notes) > 0 {
			t.WriteString("\n" + strings.Join(notes, "\n") + "\n")
		}
		writeSection(b, "latency-"+be, t.String())
	}
}

func machine() string {
	return fmt.Sprintf("%d cores, %s/%s, real kube-apiserver %s + etcd %s and the Consul agent `make tools` builds", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, harness.KubeVersion, harness.EtcdVersion)
}

// lastLines is the end of a log, for a failure message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
