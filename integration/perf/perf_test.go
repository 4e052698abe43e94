// Package perf measures convergence on the real apiserver: N SMI objects
// created, the time until the mesh's objects exist and every SMI object is
// Programmed, the writes and reconciles it took, and the process's peak RSS;
// in the same run, the floor: a plain client creating the same native
// objects directly. `make bench` runs it and it writes docs/performance.md.
package perf

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/controller"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

const perNS = 100 // per namespace: 1 HTTPRouteGroup, 50 TrafficSplits, 49 TrafficTargets

type result struct {
	mesh            string // "" = istio
	cold            bool   // the controller started after the SMI objects existed
	floorCPU, cpu   cpuUse // CPU seconds by process during the floor and the convergence
	meshConverged   time.Duration
	floorWrites     int // the floor's writes (0: as many as the mesh writes)
	n               int
	floor, converge time.Duration
	// sameWrites: a plain client making every API write the controller makes
	// (live: the SMI creates too), in the same control plane.
	sameWrites                        time.Duration
	firstWrite                        time.Duration // the controller's first mesh object written
	sameWritesCPU                     cpuUse
	nativeWrites, statusWrites, recon float64
	peakRSSMB, heapMB, syncErrors     float64
	notConverged                      string
}

var results []result

// clientWorkers is how many requests a benchmark client has in flight: the
// floors and the SMI creates alike.
const clientWorkers = 8

// each runs fn on every item with clientWorkers workers; errors fail b.
func each[T any](b *testing.B, items []T, fn func(T) error) {
	ch := make(chan T)
	var wg sync.WaitGroup
	for range clientWorkers {
		wg.Go(func() {
			for it := range ch {
				if err := fn(it); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
}

// parallel creates objects with clientWorkers workers.
func parallel(b *testing.B, c client.Client, objs []client.Object) {
	each(b, objs, func(o client.Object) error { return c.Create(context.Background(), o) })
}

func BenchmarkConvergence(b *testing.B) {
	// 50,000 (500 namespaces) is measured at a cold start only.
	sizes := []int{1000, 10000, 50000}
	if v := envSizes("SMI_PERF_SIZES"); v != nil {
		sizes = v
	}
	eachSize(b, sizes, 10000, func(b *testing.B, n int, cold bool) { results = append(results, converge(b, n, cold)) })
	writeReport(b)
}

// eachSize runs fn for each size as sub-benchmarks: live (named N; up to
// liveUpTo objects) and at a cold start (N/cold-start).
func eachSize(b *testing.B, sizes []int, liveUpTo int, fn func(b *testing.B, n int, cold bool)) {
	for _, n := range sizes {
		for _, cold := range []bool{false, true} {
			if !cold && n > liveUpTo {
				continue
			}
			name := strconv.Itoa(n)
			if cold {
				name += "/cold-start"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					fn(b, n, cold)
				}
			})
		}
	}
}

// converge measures the floor and then smi-adapter on n SMI objects: live
// (the controller running while they are created; timed from the first
// create) or cold (created first; timed from the controller's start).
func converge(b *testing.B, n int, cold bool) result {
	crds, err := harness.IstioCRDs()
	if err != nil {
		b.Fatal(err)
	}
	// The control plane with the conversion webhook; the controller runs as
	// its own process (smi-adapter run), as in a cluster.
	env, err := harness.Start(harness.Options{ExtraCRDPaths: []string{crds}})
	defer func() { _ = env.Stop() }()
	if err != nil {
		b.Fatal(err)
	}
	c := env.Client
	namespaces := n / perNS
	// Prerequisites (not timed): namespaces, Services, pods.
	var nss, pre, smi, native []client.Object
	var splits, targets []client.Object
	for i := range namespaces {
		ns, floorNS := fmt.Sprintf("perf-%d", i), fmt.Sprintf("floor-%d", i)
		nss = append(nss, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: floorNS}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sameWritesNS(ns)}})
		smi = append(smi, &specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "routes"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "read", PathRegex: "/api", Methods: []string{"GET"}}}}})
		for j := range perNS/2 - 1 + 1 {
			name := fmt.Sprintf("svc-%d", j)
			for _, s := range []string{name, name + "-v1", name + "-v2"} {
				// Headless: the test apiserver's service range could not hold thousands of cluster IPs.
				pre = append(pre, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: s}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
			}
			ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: splitv1alpha4.TrafficSplitSpec{Service: name, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: name + "-v1", Weight: 9}, {Service: name + "-v2", Weight: 1}}}}
			smi, splits = append(smi, ts), append(splits, ts)
			vs := &unstructured.Unstructured{}
			vs.SetGroupVersionKind(istio.VirtualServiceGVK)
			vs.SetNamespace(floorNS)
			vs.SetName(name)
			_ = unstructured.SetNestedField(vs.Object, map[string]any{"hosts": []any{name + "." + floorNS + ".svc.cluster.local"},
				"http": []any{map[string]any{"route": []any{
					map[string]any{"destination": map[string]any{"host": name + "-v1"}, "weight": int64(9)},
					map[string]any{"destination": map[string]any{"host": name + "-v2"}, "weight": int64(1)}}}}}, "spec")
			native = append(native, vs)
			if j == perNS/2-1 {
				continue // 49 TrafficTargets per namespace
			}
			pre = append(pre, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{ServiceAccountName: name, Containers: []corev1.Container{{Name: "c", Image: "app", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}})
			tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: accessv1alpha3.TrafficTargetSpec{
					Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: name},
					Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}},
					Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: fmt.Sprintf("svc-%d", (j+1)%(perNS/2))}},
				}}
			smi, targets = append(smi, tt), append(targets, tt)
			ap := &unstructured.Unstructured{}
			ap.SetGroupVersionKind(istio.AuthorizationPolicyGVK)
			ap.SetNamespace(floorNS)
			ap.SetName(name)
			_ = unstructured.SetNestedField(ap.Object, map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
				"rules": []any{map[string]any{"from": []any{map[string]any{"source": map[string]any{"serviceAccounts": []any{ns + "/x"}}}},
					"to": []any{map[string]any{"operation": map[string]any{"methods": []any{"GET"}, "paths": []any{"/api*"}}}}}}}, "spec")
			native = append(native, ap)
		}
	}
	b.StopTimer()
	parallel(b, c, nss)
	parallel(b, c, pre)
	b.StartTimer()

	// Warm-up: the apiserver's first writes of a kind cost more (its
	// storage and watch cache start); not timed.
	var warm []client.Object
	for i, o := range native[:min(len(native), 100)] {
		w := o.(*unstructured.Unstructured).DeepCopy()
		w.SetNamespace(nss[1].GetName()) // a floor namespace
		w.SetName(fmt.Sprintf("warm-up-%d", i))
		warm = append(warm, w)
	}
	b.StopTimer()
	parallel(b, c, warm)
	for _, w := range warm {
		_ = c.Delete(context.Background(), w)
	}
	b.StartTimer()
	// The floor, with nothing else running.
	cp := newCPUMeter(nil)
	cpu0 := cp.read()
	start := time.Now()
	parallel(b, c, native)
	floor := time.Since(start)
	floorCPU := cp.read().minus(cpu0)

	nativeJobs, removeNative := kubeCreates(b, c, native, func(ns string) string { return sameWritesNS(strings.Replace(ns, "floor-", "perf-", 1)) })
	sameWrites, sameWritesCPU := sameWritesFloor(b, c, cp, "istio", smi, nativeJobs, cold)
	b.StopTimer()
	removeNative()
	b.StartTimer()

	bin := buildController(b)
	var ctrl *controllerProcess
	if cold {
		b.StopTimer()
		parallel(b, c, smi)
		b.StartTimer()
		cpu0 = cp.read()
		start = time.Now()
		ctrl = startController(b, bin, env, "istio", nil, controllerEnv(n))
	}
	var r0 float64 // live: the reconciles before the first SMI create (of keys the floor's objects name)
	if !cold {
		ctrl = startController(b, bin, env, "istio", nil, controllerEnv(n))
		r0 = ctrl.mustCounter(b, "smi_adapter_reconcile_total")
		cpu0 = cp.read()
		start = time.Now()
		parallel(b, c, smi)
	}
	defer ctrl.stop()
	cp.controller = ctrl.cmd.Process.Pid
	name := fmt.Sprintf("istio-%d", n)
	if cold {
		name += "-cold"
	}
	ctrl.profileCPU(name, profileSeconds())
	profileAPIServer(env, name, profileSeconds())
	if os.Getenv("SMI_PERF_PROFILES") != "" {
		b.Logf("%s: timed from %s", name, start.UTC().Format(time.RFC3339Nano))
	}
	mesh, notConverged := waitConverged(ctrl, c, start, len(native), len(splits)+len(targets))
	var first time.Duration
	if t, ok := ctrl.firstLog("created"); ok {
		first = t.Sub(start)
	}
	conv := time.Since(start)
	used := cp.read().minus(cpu0)
	used.controller = cpuSeconds(cp.controller) // it started in the window or just before it
	r := result{n: n, cold: cold, floor: floor, sameWrites: sameWrites, sameWritesCPU: sameWritesCPU, firstWrite: first, meshConverged: mesh, converge: conv, notConverged: notConverged, floorCPU: floorCPU, cpu: used,
		nativeWrites: ctrl.mustCounter(b, "smi_adapter_native_writes_total"),
		statusWrites: ctrl.mustCounter(b, "smi_adapter_status_writes_total"),
		recon:        ctrl.mustCounter(b, "smi_adapter_reconcile_total") - r0,
		heapMB:       ctrl.mustCounter(b, "go_memstats_heap_inuse_bytes") / (1 << 20),
		peakRSSMB:    ctrl.peakRSS()}
	ctrl.saveProfiles(b, name)
	return r
}

func sameWritesNS(ns string) string { return "same-" + ns }

// sameWritesFloor times a plain client making the API writes the controller
// makes to converge: one status patch (Accepted and Programmed, as the
// controller writes them) per SMI object, plus, live, the SMI creates — on
// copies in namespaces of their own (sameWritesNS, which must exist) — and
// the mesh writes (mesh: run interleaved with them). The copies are removed
// (not timed) before it returns. What is left between this floor and the
// controller's convergence is the controller's own cost: watching, deciding,
// waiting.
func sameWritesFloor(b *testing.B, c client.Client, cp cpuMeter, backend string, smi []client.Object, mesh []func() error, cold bool) (time.Duration, cpuUse) {
	ctx := context.Background()
	var copies []client.Object
	for _, o := range smi {
		o = o.DeepCopyObject().(client.Object)
		o.SetNamespace(sameWritesNS(o.GetNamespace()))
		copies = append(copies, o)
	}
	if cold {
		b.StopTimer()
		parallel(b, c, copies)
		b.StartTimer()
	}
	now := metav1.Now()
	var jobs []func() error
	for i, o := range copies {
		jobs = append(jobs, func() error {
			if !cold {
				if err := c.Create(ctx, o); err != nil {
					return err
				}
			}
			conds := []metav1.Condition{
				{Type: common.ConditionAccepted, Status: metav1.ConditionTrue, Reason: "Accepted", Message: "Valid and all references resolved", ObservedGeneration: o.GetGeneration(), LastTransitionTime: now},
				{Type: common.ConditionProgrammed, Status: metav1.ConditionTrue, Reason: "Programmed", Message: "backend " + backend + " is in sync", ObservedGeneration: o.GetGeneration(), LastTransitionTime: now},
			}
			patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": conds}})
			if err != nil {
				return err
			}
			return c.Status().Patch(ctx, o, client.RawPatch(types.MergePatchType, patch))
		})
		if i < len(mesh) {
			jobs = append(jobs, mesh[i])
		}
	}
	jobs = append(jobs, mesh[min(len(copies), len(mesh)):]...)
	cpu0 := cp.read()
	start := time.Now()
	each(b, jobs, func(job func() error) error { return job() })
	d, used := time.Since(start), cp.read().minus(cpu0)

	b.StopTimer()
	defer b.StartTimer()
	seen := map[string]bool{}
	for _, o := range copies {
		if seen[o.GetNamespace()] {
			continue
		}
		seen[o.GetNamespace()] = true
		for _, kind := range []client.Object{&splitv1alpha4.TrafficSplit{}, &accessv1alpha3.TrafficTarget{}, &specsv1alpha4.HTTPRouteGroup{}} {
			if err := c.DeleteAllOf(ctx, kind, client.InNamespace(o.GetNamespace())); err != nil {
				b.Fatalf("remove the same-writes floor's SMI objects: %v", err)
			}
		}
	}
	return d, used
}

// kubeCreates returns jobs creating copies of objs in the same-writes
// namespaces, and a function that removes them.
func kubeCreates(b *testing.B, c client.Client, objs []client.Object, namespaceOf func(string) string) (jobs []func() error, remove func()) {
	ctx := context.Background()
	var copies []client.Object
	for _, o := range objs {
		o = o.DeepCopyObject().(client.Object)
		o.SetNamespace(namespaceOf(o.GetNamespace()))
		o.SetResourceVersion("") // the floor created the original
		o.SetUID("")
		o.SetCreationTimestamp(metav1.Time{})
		o.SetGeneration(0)
		o.SetManagedFields(nil)
		copies = append(copies, o)
		jobs = append(jobs, func() error { return c.Create(ctx, o) })
	}
	return jobs, func() {
		each(b, copies, func(o client.Object) error { return client.IgnoreNotFound(c.Delete(ctx, o)) })
	}
}

// waitConverged waits until the controller has created every mesh object
// (wantNative creates: the mesh is programmed) and then until every one of
// wantProgrammed SMI objects is Programmed. It watches the controller's own
// counters (no load on the apiserver) and lists the SMI objects only once
// their status writes could all be done.
func waitConverged(ctrl *controllerProcess, c client.Client, start time.Time, wantNative, wantProgrammed int) (mesh time.Duration, notConverged string) {
	for {
		creates, err := ctrl.counterWhere("smi_adapter_native_writes_total", `op="create"`)
		if err == nil && mesh == 0 && int(creates) >= wantNative {
			mesh = time.Since(start)
		}
		statuses, err := ctrl.counter("smi_adapter_status_writes_total")
		if err == nil && mesh > 0 && int(statuses) >= wantProgrammed {
			break
		}
		if limit := convergeTimeout(wantProgrammed); time.Since(start) > limit {
			return mesh, fmt.Sprintf("%.0f of %d mesh objects created, %.0f status writes after %s", creates, wantNative, statuses, limit)
		}
		time.Sleep(200 * time.Millisecond) // a scrape costs the controller a few ms
	}
	return mesh, waitProgrammedWithin(c, start, wantProgrammed, convergeTimeout(wantProgrammed))
}

// waitProgrammed polls until want TrafficSplits and TrafficTargets are
// Programmed, gently (every 0.5s early, then a tenth of the time spent:
// listing every SMI object competes with the controller for the apiserver).
// It gives up after 5 minutes and says how far it got.
func waitProgrammed(c client.Client, start time.Time, want int) string {
	return waitProgrammedWithin(c, start, want, 5*time.Minute)
}

// waitProgrammedWithin is waitProgrammed giving up after limit.
func waitProgrammedWithin(c client.Client, start time.Time, want int, limit time.Duration) string {
	for {
		var tsl splitv1alpha4.TrafficSplitList
		var ttl accessv1alpha3.TrafficTargetList
		_ = c.List(context.Background(), &tsl)
		_ = c.List(context.Background(), &ttl)
		count := 0
		for _, ts := range tsl.Items {
			if c := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed); c != nil && c.Status == metav1.ConditionTrue {
				count++
			}
		}
		for _, tt := range ttl.Items {
			if c := meta.FindStatusCondition(tt.Status.Conditions, common.ConditionProgrammed); c != nil && c.Status == metav1.ConditionTrue {
				count++
			}
		}
		if count == want {
			return ""
		}
		if time.Since(start) > limit {
			return fmt.Sprintf("%d of %d Programmed after %s", count, want, limit)
		}
		time.Sleep(max(500*time.Millisecond, time.Since(start)/10))
	}
}

// controllerEnv is the environment of the controller process for a world
// of n SMI objects: what it gets in the Deployment (deploy/base/deployment.yaml)
// — its GOGC, and the GOMEMLIMIT it sets itself in a container,
// MemoryLimitRatio of the container's memory limit (the benchmark's process
// has no such cgroup) — with the limit docs/install.md advises for n
// (memoryLimit). SMI_PERF_GOGC and SMI_PERF_GOMEMLIMIT override them.
func controllerEnv(n int) []string {
	root, _ := harness.RepoRoot()
	raw, _ := os.ReadFile(filepath.Join(root, "deploy", "base", "deployment.yaml"))
	var extra []string
	if v := os.Getenv("SMI_PERF_GOGC"); v != "" {
		extra = append(extra, "GOGC="+v)
	} else if m := regexp.MustCompile(`name: GOGC, value: "?([^"}]+)"?}`).FindSubmatch(raw); m != nil {
		extra = append(extra, "GOGC="+strings.TrimSpace(string(m[1])))
	}
	if v := os.Getenv("SMI_PERF_GOMEMLIMIT"); v != "" {
		return append(extra, "GOMEMLIMIT="+v)
	}
	if q, err := resource.ParseQuantity(memoryLimit(n)); err == nil {
		extra = append(extra, fmt.Sprintf("GOMEMLIMIT=%d", int64(float64(q.Value())*controller.MemoryLimitRatio)))
	}
	return extra
}

// memoryLimit is the container memory limit docs/install.md advises for n
// SMI objects (with their Services and pods): the Deployment's own (512Mi)
// up to 10,000, 1Gi up to 50,000.
func memoryLimit(n int) string {
	if n > 10000 {
		return "1Gi"
	}
	root, _ := harness.RepoRoot()
	raw, _ := os.ReadFile(filepath.Join(root, "deploy", "base", "deployment.yaml"))
	if m := regexp.MustCompile(`limits: \{memory: ([0-9A-Za-z]+)\}`).FindSubmatch(raw); m != nil {
		return string(m[1])
	}
	return "512Mi"
}

// analysisMarker starts the hand-written part of docs/performance.md, which
// the benchmark keeps when it rewrites the tables above it.
const analysisMarker = "<!-- analysis: kept by make bench -->"

func writeReport(b *testing.B) {
	if len(results) == 0 {
		return
	}
	writeScaling(b)
	small := false
	for _, r := range results {
		small = small || r.mesh == "consul" || r.n <= 10000
	}
	if !small {
		return // a run of larger sizes only writes the scaling table
	}
	var s strings.Builder
	s.WriteString("## Convergence\n\nWritten by `make bench` (integration/perf BenchmarkConvergence, BenchmarkConsulConvergence) on the machine it ran on: ")
	fmt.Fprintf(&s, "%d cores, %s/%s, %s. Istio backend, real kube-apiserver %s + etcd %s.\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02"), harness.KubeVersion, harness.EtcdVersion)
	s.WriteString("N SMI objects (per namespace: 1 HTTPRouteGroup, 50 TrafficSplits, 49 TrafficTargets), each size in a fresh control plane. *Floor*: a plain client (8 workers) creating the same native objects (one VirtualService per split, one AuthorizationPolicy per target) directly, with nothing else running. *Live*: the controller runs while the SMI objects are created (same 8 workers); timed from the first create. *Cold start*: the SMI objects exist, then the controller starts; timed from its start (informers listing everything included). *Mesh programmed*: every mesh object created (the controller's create counter); *all Programmed*: every TrafficSplit and TrafficTarget has `Programmed=True`. The controller runs as its own process (`smi-adapter run`, with GOMEMLIMIT at 80% of the container memory limit docs/install.md advises for N: 512Mi up to 10,000, 1Gi above, as the controller sets it from its cgroup); heap and peak RSS are that process's.\n\n")
	s.WriteString("| N | run | floor | mesh programmed | ratio | all Programmed | ratio | native writes | status writes | reconciles | controller heap in use at convergence | controller peak RSS |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var consulRows []result
	for _, r := range results {
		if r.mesh == "consul" {
			consulRows = append(consulRows, r)
			continue
		}
		run := "live"
		if r.cold {
			run = "cold start"
		}
		if r.notConverged != "" {
			fmt.Fprintf(&s, "| %d | %s | %s | not converged: %s | — | — | — | %.0f | %.0f | %.0f | %.0f MB | %.0f MB |\n", r.n, run, r.floor.Round(time.Millisecond), r.notConverged,
				r.nativeWrites, r.statusWrites, r.recon, r.heapMB, r.peakRSSMB)
			continue
		}
		fmt.Fprintf(&s, "| %d | %s | %s | %s | %.2f× | %s | %.2f× | %.0f | %.0f | %.0f | %.0f MB | %.0f MB |\n", r.n, run, r.floor.Round(time.Millisecond),
			r.meshConverged.Round(time.Millisecond), float64(r.meshConverged)/float64(r.floor), r.converge.Round(time.Millisecond),
			float64(r.converge)/float64(r.floor), r.nativeWrites, r.statusWrites, r.recon, r.heapMB, r.peakRSSMB)
	}
	s.WriteString("\n*Same-writes floor*: a plain client (8 workers) making every API write the controller makes to converge — one mesh object per TrafficSplit and TrafficTarget and one status patch (`Accepted` and `Programmed`) per SMI object, and in the live run the SMI creates too — on copies in namespaces of their own, in the same control plane (removed before the controller starts). The gap to it is what the controller itself costs: watching, deciding, waiting.\n\n")
	s.WriteString("| N | run | floor | same-writes floor | first mesh object written | all Programmed | ratio to the same-writes floor | kube-apiserver CPU-s: same writes / smi-adapter |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		if r.mesh == "consul" || r.notConverged != "" || r.sameWrites == 0 {
			continue
		}
		run := "live"
		if r.cold {
			run = "cold start"
		}
		fmt.Fprintf(&s, "| %d | %s | %s | %s | %s | %s | %.2f× | %.1f / %.1f |\n", r.n, run, r.floor.Round(time.Millisecond), r.sameWrites.Round(time.Millisecond),
			r.firstWrite.Round(10*time.Millisecond), r.converge.Round(time.Millisecond), float64(r.converge)/float64(r.sameWrites), r.sameWritesCPU.apiserver, r.cpu.apiserver)
	}
	s.WriteString("\nCPU seconds used during each window, by process (2 cores: the window's length × 2 is all there is). The conversion webhook runs in the benchmark's process, with the client creating the objects.\n\n")
	s.WriteString("| N | window | length | kube-apiserver | etcd | smi-adapter | webhook + client | total |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		if r.mesh == "consul" {
			continue
		}
		run := "live"
		if r.cold {
			run = "cold start"
		}
		row := func(window string, d time.Duration, u cpuUse) {
			fmt.Fprintf(&s, "| %d | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", r.n, window, d.Round(100*time.Millisecond), u.apiserver, u.etcd, u.controller, u.bench,
				u.apiserver+u.etcd+u.controller+u.bench)
		}
		row("floor (before "+run+")", r.floor, r.floorCPU)
		if r.sameWrites > 0 {
			row("same-writes floor (before "+run+")", r.sameWrites, r.sameWritesCPU)
		}
		row(run, r.converge, r.cpu)
	}
	if len(consulRows) > 0 {
		s.WriteString("\n## Consul\n\nBenchmarkConsulConvergence: N SMI objects (10 namespaces × 50 TrafficSplits and 50 TrafficTargets, one HTTPRouteGroup each) against a real Consul agent. *Floor*: a plain Consul client (8 workers) writing the same config entries, translated offline, to a fresh agent (service-defaults first). *Same-writes floor*: the SMI creates and a status patch per SMI object on the Kubernetes side, with every entry write the controller makes (shared service-defaults written again by their second key) to another fresh agent, key by key in the controller's order (splits first), all with the same 8 workers.\n\n")
		s.WriteString("| N | floor (entries) | convergence | ratio | same-writes floor | ratio to it | entry writes | status writes | reconciles | retried sync errors |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range consulRows {
			conv, ratio := r.converge.Round(time.Millisecond).String(), fmt.Sprintf("%.2f×", float64(r.converge)/float64(r.floor))
			same, sameRatio := r.sameWrites.Round(time.Millisecond).String(), fmt.Sprintf("%.2f×", float64(r.converge)/float64(r.sameWrites))
			if r.notConverged != "" {
				conv, ratio, sameRatio = "not converged: "+r.notConverged, "—", "—"
			}
			fmt.Fprintf(&s, "| %d | %s (%d) | %s | %s | %s | %s | %.0f | %.0f | %.0f | %.0f |\n", r.n, r.floor.Round(time.Millisecond), r.floorWrites, conv, ratio,
				same, sameRatio, r.nativeWrites, r.statusWrites, r.recon, r.syncErrors)
		}
		s.WriteString("\nCPU seconds used during each window, by process (the floor ran with only its agent).\n\n")
		s.WriteString("| N | window | length | Consul agent | kube-apiserver | etcd | smi-adapter | webhook + client | total |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range consulRows {
			for _, w := range []struct {
				name string
				d    time.Duration
				u    cpuUse
			}{{"floor", r.floor, r.floorCPU}, {"same-writes floor", r.sameWrites, r.sameWritesCPU}, {"convergence", r.converge, r.cpu}} {
				fmt.Fprintf(&s, "| %d | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", r.n, w.name, w.d.Round(100*time.Millisecond), w.u.agent, w.u.apiserver, w.u.etcd,
					w.u.controller, w.u.bench, w.u.agent+w.u.apiserver+w.u.etcd+w.u.controller+w.u.bench)
			}
		}
	}
	writeSection(b, "convergence", s.String())
}

// writeSection replaces one benchmark's section of docs/performance.md
// (between its begin and end markers), keeping the others and the
// hand-written analysis: each table is written by one run of its benchmark.
func writeSection(b *testing.B, name, content string) {
	root, err := harness.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(root, "docs", "performance.md")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	doc := string(old)
	if doc == "" {
		doc = "# Performance\n\n" + analysisMarker + "\n"
	}
	begin, end := "<!-- begin "+name+": written by make bench -->\n", "<!-- end "+name+" -->\n"
	block := begin + strings.TrimRight(content, "\n") + "\n" + end
	switch i, k := strings.Index(doc, begin), strings.Index(doc, analysisMarker); {
	case i >= 0:
		j := strings.Index(doc[i:], end)
		if j < 0 {
			b.Fatalf("%s: section %s has no end marker", path, name)
		}
		doc = doc[:i] + block + doc[i+j+len(end):]
	case k >= 0:
		doc = doc[:k] + block + "\n" + doc[k:]
	default:
		doc += "\n" + block
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		b.Fatal(err)
	}
}

// writeScaling writes the cold-start rows of this run into the scaling
// table, keeping the rows of other sizes (each row says when it was
// measured): how time to all Programmed, its ratio to the same-writes floor
// and the controller's memory grow from 1,000 to 50,000 SMI objects.
func writeScaling(b *testing.B) {
	rows := map[int]string{}
	root, err := harness.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	if old, err := os.ReadFile(filepath.Join(root, "docs", "performance.md")); err == nil {
		if i := strings.Index(string(old), "<!-- begin scaling"); i >= 0 {
			for _, line := range strings.Split(string(old[i:]), "\n") {
				if strings.HasPrefix(line, "<!-- end scaling") {
					break
				}
				f := strings.Split(line, "|")
				if n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(f[min(1, len(f)-1)], ",", ""))); err == nil && len(f) > 2 {
					rows[n] = line
				}
			}
		}
	}
	for _, r := range results {
		if r.mesh == "consul" || !r.cold {
			continue
		}
		if r.notConverged != "" {
			rows[r.n] = fmt.Sprintf("| %d | not converged: %s | | | | | %.0f MB | %s | %s |", r.n, r.notConverged, r.peakRSSMB, memoryLimit(r.n), time.Now().UTC().Format("2006-01-02 15:04"))
			continue
		}
		rows[r.n] = fmt.Sprintf("| %d | %s | %s | %.2f× | %s | %.1f | %.0f MB | %.0f MB | %s | %s |", r.n, r.converge.Round(time.Second/10), r.sameWrites.Round(time.Second/10),
			float64(r.converge)/float64(r.sameWrites), r.firstWrite.Round(time.Second/10), r.cpu.controller, r.heapMB, r.peakRSSMB, memoryLimit(r.n), time.Now().UTC().Format("2006-01-02 15:04"))
	}
	sizes := make([]int, 0, len(rows))
	for n := range rows {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	var s strings.Builder
	s.WriteString("## Scaling\n\nBenchmarkConvergence's cold starts (Istio backend; the SMI objects and their Services and pods exist, then the controller starts; per namespace 1 HTTPRouteGroup, 50 TrafficSplits, 49 TrafficTargets, so 50,000 is 500 namespaces), each size in a fresh control plane. Sizes are run by `make bench` (`SMI_PERF_SIZES` picks some); each row says when it was measured. Targets at 50,000: all Programmed within 1.25× the same-writes floor, peak RSS ≤ 800 MB.\n\n")
	s.WriteString("| N | all Programmed | same-writes floor | ratio | first mesh object written | controller CPU-s | heap in use at convergence | controller peak RSS | container memory limit (GOMEMLIMIT 80%) | measured (UTC) |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range sizes {
		s.WriteString(rows[n] + "\n")
	}
	writeSection(b, "scaling", s.String())
}
