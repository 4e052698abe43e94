package perf

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	splitv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha1"
)

// peerRow is one run of BenchmarkLinkerdSMIShape.
type peerRow struct {
	n                          int
	cold                       bool
	profiles, programmed       time.Duration // every ServiceProfile written; every split Programmed
	sameWrites                 time.Duration
	edits                      time.Duration // 100 edits made at once, to every ServiceProfile updated
	stepNative, stepProgrammed percentiles
	nativeWrites, statusWrites float64
	cpu, peakRSS               float64
	anonMB, fileMB             float64 // resident at the end: heap and stacks / the binary's pages
	conversions                float64 // conversion webhook requests per split
	notConverged               string
}

var peerRows []peerRow

// BenchmarkLinkerdSMIShape runs linkerd-smi's own workload on
// `smi-adapter --backend linkerd`: N v1alpha1 TrafficSplits in Flagger's
// shape (canary 0, primary 100), each with a root and two backend Services
// with port 80, N = 1,000 and 5,000 (SMI_PEER_SIZES), each run in a fresh
// control plane: a cold start (then 100 edits at once and 200 single weight
// steps), and live creation. docs/performance.md puts it beside linkerd-smi's
// figures, measured on this machine when linkerd-smi could be fetched.
func BenchmarkLinkerdSMIShape(b *testing.B) {
	sizes := []int{1000, 5000}
	if v := envSizes("SMI_PEER_SIZES"); v != nil {
		sizes = v
	}
	eachSize(b, sizes, 1<<30, func(b *testing.B, n int, cold bool) { peerRows = append(peerRows, peerRun(b, n, cold)) })
	writePeerReport(b)
}

// flaggerSplits: n v1alpha1 splits of Flagger's shape in namespaces of 100,
// their Services, and the ServiceProfiles smi-adapter writes for them (for
// the same-writes floor).
func flaggerSplits(n int) (namespaces, services, splits []client.Object) {
	for i := range n {
		ns := fmt.Sprintf("peer-%d", i/100)
		if i%100 == 0 {
			namespaces = append(namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sameWritesNS(ns)}})
		}
		name := fmt.Sprintf("app-%d", i)
		for _, s := range []string{name, name + "-primary", name + "-canary"} {
			services = append(services, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: s},
				Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": s}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
		}
		splits = append(splits, &splitv1alpha1.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: splitv1alpha1.TrafficSplitSpec{Service: name, Backends: []splitv1alpha1.TrafficSplitBackend{
				{Service: name + "-primary", Weight: *resource.NewQuantity(100, resource.DecimalSI)},
				{Service: name + "-canary", Weight: *resource.NewQuantity(0, resource.DecimalSI)}}}})
	}
	return namespaces, services, splits
}

// serviceProfile is the ServiceProfile smi-adapter writes for a split of
// flaggerSplits at canary weight canary (of 100).
func serviceProfile(ns, name string, canary int) *unstructured.Unstructured {
	sp := &unstructured.Unstructured{}
	sp.SetGroupVersionKind(linkerd.ServiceProfileGVK)
	sp.SetNamespace(ns)
	sp.SetName(name + "." + ns + ".svc.cluster.local")
	_ = unstructured.SetNestedSlice(sp.Object, []any{
		map[string]any{"authority": name + "-primary." + ns + ".svc.cluster.local", "weight": fmt.Sprint(100 - canary)},
		map[string]any{"authority": name + "-canary." + ns + ".svc.cluster.local", "weight": fmt.Sprint(canary)}}, "spec", "dstOverrides")
	return sp
}

func peerRun(b *testing.B, n int, cold bool) peerRow {
	m := startMesh(b, "linkerd")
	defer m.stop()
	c := m.env.Client
	namespaces, services, splits := flaggerSplits(n)
	b.StopTimer()
	parallel(b, c, namespaces)
	parallel(b, c, services)
	warmUp(b, c, splits, namespaces[0].GetName())
	b.StartTimer()

	// The same-writes floor: a ServiceProfile and a status patch per split
	// (live: the split's create too), in namespaces of their own.
	var profiles []client.Object
	for _, s := range splits {
		profiles = append(profiles, serviceProfile(s.GetNamespace(), s.GetName(), 0))
	}
	jobs, removeProfiles := kubeCreates(b, c, profiles, sameWritesNS)
	sameWrites, _ := sameWritesFloor(b, c, newCPUMeter(nil), "linkerd", splits, jobs, cold)
	b.StopTimer()
	removeProfiles()
	b.StartTimer()

	conv0 := conversions(b)
	bin := buildController(b)
	var ctrl *controllerProcess
	var start time.Time
	if cold {
		b.StopTimer()
		parallel(b, c, splits)
		b.StartTimer()
		conv0 = conversions(b)
		start = time.Now()
		ctrl = startController(b, bin, m.env, "linkerd", nil, controllerEnv(n))
	} else {
		ctrl = startController(b, bin, m.env, "linkerd", nil, controllerEnv(n))
		start = time.Now()
		parallel(b, c, splits)
	}
	defer ctrl.stop()
	name := fmt.Sprintf("peer-%d", n)
	if cold {
		name += "-cold"
	}
	ctrl.profileCPU(name, profileSeconds())
	profileAPIServer(m.env, name, profileSeconds())
	mesh, notConverged := waitConverged(ctrl, c, start, n, n)
	r := peerRow{n: n, cold: cold, profiles: mesh, programmed: time.Since(start), sameWrites: sameWrites, notConverged: notConverged,
		conversions: (conversions(b) - conv0) / float64(n)}
	r.cpu = cpuSeconds(ctrl.cmd.Process.Pid)
	r.nativeWrites = ctrl.mustCounter(b, "smi_adapter_native_writes_total")
	r.statusWrites = ctrl.mustCounter(b, "smi_adapter_status_writes_total")
	if cold && notConverged == "" {
		dyn, err := dynamic.NewForConfig(m.env.Config)
		if err != nil {
			b.Fatal(err)
		}
		r.edits = hundredEdits(b, c, dyn, splits[:min(100, len(splits))])

		p := &latencyProbe{b: b, backend: "linkerd", c: c, dyn: dyn, ctrl: ctrl}
		p.splitFixtures()
		var ctx context.Context
		p.t, ctx = newTracker()
		defer p.t.stop()
		p.watch(ctx, m)
		p.waitSplitReady()
		native, programmed := p.steps("v1alpha1", envInt("SMI_LATENCY_SAMPLES", 200))
		r.stepNative, r.stepProgrammed = summarize(native), summarize(programmed)
		r.nativeWrites = ctrl.mustCounter(b, "smi_adapter_native_writes_total")
		r.statusWrites = ctrl.mustCounter(b, "smi_adapter_status_writes_total")
	}
	r.peakRSS = ctrl.peakRSS()
	r.anonMB, r.fileMB = ctrl.rssParts()
	ctrl.saveProfiles(b, name)
	return r
}

// conversions counts the conversion webhook's requests so far (it runs in
// this process).
func conversions(b *testing.B) float64 {
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_webhook_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabel(m, "webhook", "/convert") {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// hundredEdits moves the canary of each split to 10% at once (8 workers,
// v1alpha1, as Flagger writes) and returns the time from the first edit to
// the last ServiceProfile updated, seen by a watch.
func hundredEdits(b *testing.B, c client.Client, dyn dynamic.Interface, splits []client.Object) time.Duration {
	t, ctx := newTracker()
	defer t.stop()
	namespaces := map[string]bool{}
	for _, s := range splits {
		namespaces[s.GetNamespace()] = true
	}
	for ns := range namespaces {
		if err := t.watchKube(ctx, dyn, linkerd.ServiceProfileGVK, ns); err != nil {
			b.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, s := range splits {
		want[s.GetNamespace()+"/"+s.GetName()+"."+s.GetNamespace()+".svc.cluster.local"] = true
	}
	updated := func(*tracker) bool {
		for key := range want {
			o := t.objects("ServiceProfile")[key]
			if o == nil || profileCanaryShare(o) != 0.1 {
				return false
			}
		}
		return true
	}
	// The profiles as they are, then the edits.
	if _, err := t.await("ServiceProfiles listed", time.Minute, func(t *tracker) bool { return len(t.objects("ServiceProfile")) >= len(want) }); err != nil {
		b.Fatal(err)
	}
	t.drain()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"backends": []any{
		map[string]any{"service": "PRIMARY", "weight": "90"}, map[string]any{"service": "CANARY", "weight": "10"}}}})
	start := time.Now()
	var wg sync.WaitGroup
	var sent time.Duration
	wg.Go(func() {
		defer func() { sent = time.Since(start) }()
		each(b, splits, func(s client.Object) error {
			p := strings.NewReplacer("PRIMARY", s.GetName()+"-primary", "CANARY", s.GetName()+"-canary").Replace(string(patch))
			_, err := dyn.Resource(splitv1alpha1.GroupVersion.WithResource("trafficsplits")).Namespace(s.GetNamespace()).Patch(context.Background(), s.GetName(), types.MergePatchType, []byte(p), metav1.PatchOptions{})
			return err
		})
	})
	at, err := t.await("100 ServiceProfiles updated", 5*time.Minute, updated)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d edits: all sent in %s, every ServiceProfile updated after %s", len(splits), sent.Round(time.Millisecond), at.Sub(start).Round(time.Millisecond))
	return at.Sub(start)
}

// profileCanaryShare is the share of a ServiceProfile's dstOverrides weight
// that goes to a "-canary" authority, rounded to 0.001.
func profileCanaryShare(o map[string]any) float64 {
	var canary, total float64
	profileWeights(o, func(authority string, w float64) {
		total += w
		if strings.Contains(authority, "-canary.") {
			canary += w
		}
	})
	if total == 0 {
		return 0
	}
	return float64(int(canary/total*1000+0.5)) / 1000
}

// profileWeights calls each with every dstOverride of a ServiceProfile:
// its authority and its weight (a Kubernetes quantity, e.g. "900m").
func profileWeights(o map[string]any, each func(authority string, w float64)) {
	dsts, _, _ := unstructured.NestedSlice(o, "spec", "dstOverrides")
	for _, d := range dsts {
		dm, _ := d.(map[string]any)
		q, err := resource.ParseQuantity(fmt.Sprint(dm["weight"]))
		if err != nil {
			continue
		}
		each(fmt.Sprint(dm["authority"]), q.AsApproximateFloat64())
	}
}

// linkerd-smi's figures, measured on this machine side by side with
// smi-adapter when it could be fetched (issue 17): unthrottled (client-go's
// 5 QPS lifted), two runs each.
var peerFigures = map[int]struct{ cold, live, edits, rss, cpu string }{
	1000: {"10–12 s", "—", "1.1–1.3 s", "47 MB", "2.8–3.2"},
	5000: {"47 s", "62–65 s", "—", "69 MB", "11.5–14.5"},
}

func writePeerReport(b *testing.B) {
	if len(peerRows) == 0 {
		return
	}
	var s strings.Builder
	fmt.Fprintf(&s, "## Beside linkerd-smi\n\nWritten by `make bench` (integration/perf BenchmarkLinkerdSMIShape) on %s, %s. linkerd-smi's own workload on `smi-adapter run --backend linkerd`: N v1alpha1 TrafficSplits in Flagger's shape (canary 0, primary 100), each with a root and two backend Services with port 80 (100 per namespace), each run in a fresh control plane. "+
		"*Cold start*: the splits exist, then the controller starts (timed from its start). *Live*: the controller runs while the splits are created (8 workers; timed from the first create). *100 edits*: 100 splits' weights moved at once (8 workers, v1alpha1) to the last ServiceProfile updated, seen by a watch. *Step*: 200 single weight edits of one split (v1alpha1), to the ServiceProfile updated and to Programmed. "+
		"*Same-writes floor*: a plain client making the writes smi-adapter makes (a ServiceProfile and a status patch per split; live, the split's create too) with 8 workers in the same control plane. linkerd-smi writes no status: its floor is the ServiceProfiles alone. "+
		"CPU seconds and peak RSS are the controller process's over the whole run. Conversion webhook requests per split are counted in the webhook (it serves every v1alpha1 write and read and the watch caches of every served version).\n\n",
		time.Now().UTC().Format("2006-01-02"), machine())
	s.WriteString("| N | run | ServiceProfiles written | all Programmed | same-writes floor | ratio | 100 edits | step → ServiceProfile p50 / p99 | step → Programmed p50 / p99 | native / status writes | controller CPU-s | peak RSS | RSS at the end: anon / file | conversions per split |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range peerRows {
		run := "live"
		if r.cold {
			run = "cold start"
		}
		if r.notConverged != "" {
			fmt.Fprintf(&s, "| %d | %s | not converged: %s | | | | | | | %.0f / %.0f | %.1f | %.0f MB | %.0f / %.0f MB | %.1f |\n", r.n, run, r.notConverged, r.nativeWrites, r.statusWrites, r.cpu, r.peakRSS, r.anonMB, r.fileMB, r.conversions)
			continue
		}
		edits, sn, sp := "—", "—", "—"
		if r.edits > 0 {
			edits = r.edits.Round(10 * time.Millisecond).String()
			sn = ms(r.stepNative.p50) + " / " + ms(r.stepNative.p99)
			sp = ms(r.stepProgrammed.p50) + " / " + ms(r.stepProgrammed.p99)
		}
		fmt.Fprintf(&s, "| %d | %s | %s | %s | %s | %.2f× | %s | %s | %s | %.0f / %.0f | %.1f | %.0f MB | %.0f / %.0f MB | %.1f |\n", r.n, run, r.profiles.Round(10*time.Millisecond), r.programmed.Round(10*time.Millisecond),
			r.sameWrites.Round(10*time.Millisecond), float64(r.programmed)/float64(r.sameWrites), edits, sn, sp, r.nativeWrites, r.statusWrites, r.cpu, r.peakRSS, r.anonMB, r.fileMB, r.conversions)
	}
	s.WriteString("\nlinkerd-smi (the maintained peer; it cannot be fetched here), measured on this machine side by side with smi-adapter when it could be, two runs each, interleaved — as shipped it is held to client-go's default 5 QPS (398 s cold and 40 s for 100 edits at 1,000 splits); these are its figures with that limit lifted:\n\n")
	s.WriteString("| N | cold start | live | 100 edits | peak RSS | CPU-s |\n|---|---|---|---|---|---|\n")
	for _, n := range []int{1000, 5000} {
		f := peerFigures[n]
		fmt.Fprintf(&s, "| %d | %s | %s | %s | %s | %s |\n", n, f.cold, f.live, f.edits, f.rss, f.cpu)
	}
	writeSection(b, "linkerd-smi", s.String())
}

// warmUp creates and deletes 100 splits (at v1alpha1, through the
// conversion webhook) and their ServiceProfiles in namespace ns: the
// apiserver's first writes of a kind cost more (its storage, watch caches
// and webhook client start). Not timed.
func warmUp(b *testing.B, c client.Client, splits []client.Object, ns string) {
	var objs []client.Object
	for i, s := range splits[:min(100, len(splits))] {
		w := s.DeepCopyObject().(client.Object)
		w.SetNamespace(ns)
		w.SetName(fmt.Sprintf("warm-up-%d", i))
		objs = append(objs, w, serviceProfile(ns, w.GetName(), 0))
	}
	parallel(b, c, objs)
	each(b, objs, func(o client.Object) error { return c.Delete(context.Background(), o) })
}
