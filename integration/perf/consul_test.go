package perf

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	capi "github.com/hashicorp/consul/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// BenchmarkConsulConvergence: 1,000 SMI objects (10 namespaces × 50
// TrafficSplits and 50 TrafficTargets; names unique across namespaces, as
// Consul's free edition needs) against a real agent. Floor: a plain Consul
// client writing the same config entries (translated offline) to a second,
// fresh agent with the same 8 workers.
func BenchmarkConsulConvergence(b *testing.B) {
	for b.Loop() {
		results = append(results, consulConverge(b, 10, 50))
	}
	writeReport(b)
}

func consulConverge(b *testing.B, namespaces, per int) result {
	var pre, smi []client.Object
	var objs []runtime.Object
	for i := range namespaces {
		ns := fmt.Sprintf("consul-perf-%d", i)
		pre = append(pre, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		hrg := &specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "routes"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "read", PathRegex: "/api", Methods: []string{"GET"}}}}}
		smi = append(smi, hrg)
		for j := range per {
			name := fmt.Sprintf("s%d-%d", i, j)
			for _, s := range []string{name, name + "-v1", name + "-v2"} {
				svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: s},
					Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
				pre, objs = append(pre, svc), append(objs, svc)
			}
			ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: splitv1alpha4.TrafficSplitSpec{Service: name, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: name + "-v1", Weight: 9}, {Service: name + "-v2", Weight: 1}}}}
			tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: accessv1alpha3.TrafficTargetSpec{
					Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: name},
					Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}},
					Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: fmt.Sprintf("s%d-%d", i, (j+1)%per)}},
				}}
			smi = append(smi, ts, tt)
		}
		objs = append(objs, hrg)
	}
	for _, o := range smi {
		objs = append(objs, o.(runtime.Object))
	}

	// The entries smi-adapter would write, for the floor.
	mem, err := normalize.NewMemory("default", objs...)
	if err != nil {
		b.Fatal(err)
	}
	seen := map[string]bool{}
	var entries []capi.ConfigEntry
	for _, k := range append(mem.Keys(), model.MeshKey) {
		if k.Kind == model.KeyRoute {
			continue
		}
		slice, _ := normalize.Build(k, mem)
		for _, d := range consul.Translate(slice, consul.Options{}).Entries {
			if id := consul.Order(d.Entry) + "/" + consul.EntryID(d.Entry); !seen[id] {
				seen[id] = true
				entries = append(entries, d.Entry)
			}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return consul.Order(entries[i]) < consul.Order(entries[j]) })

	floorAgent, err := harness.StartConsul()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = floorAgent.Stop() }()
	fm := cpuMeter{agent: floorAgent.Pid()}
	fcpu0 := fm.read()
	start := time.Now()
	// service-defaults first (the others need them), then the rest, 8 workers each.
	var defaults, rest []capi.ConfigEntry
	for _, e := range entries {
		if e.GetKind() == capi.ServiceDefaults {
			defaults = append(defaults, e)
		} else {
			rest = append(rest, e)
		}
	}
	for _, batch := range [][]capi.ConfigEntry{defaults, rest} {
		writeEntries(b, floorAgent.Client, batch)
	}
	floor := time.Since(start)
	floorCPU := fm.read().minus(fcpu0)

	agent, err := harness.StartConsul()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = agent.Stop() }()
	env, err := harness.Start(harness.Options{})
	defer func() { _ = env.Stop() }()
	if err != nil {
		b.Fatal(err)
	}
	c := env.Client
	b.StopTimer()
	for i := range namespaces {
		pre = append(pre, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sameWritesNS(fmt.Sprintf("consul-perf-%d", i))}})
	}
	parallel(b, c, pre)
	b.StartTimer()

	// The same-writes floor: the SMI creates and status patches on the
	// Kubernetes side, and every entry write the controller makes (shared
	// service-defaults written again by their second key) to a third fresh
	// agent, key by key in the controller's order (splits, then the new grants
	// that wait behind them).
	sameAgent, err := harness.StartConsul()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sameAgent.Stop() }()
	var splitKeys, accessKeys []model.Key
	for _, k := range mem.Keys() {
		switch k.Kind {
		case model.KeySplit:
			splitKeys = append(splitKeys, k)
		case model.KeyAccess:
			accessKeys = append(accessKeys, k)
		}
	}
	var consulJobs []func() error
	for _, k := range append(append(splitKeys, accessKeys...), model.MeshKey) {
		slice, _ := normalize.Build(k, mem)
		keyEntries := consul.Translate(slice, consul.Options{}).Entries
		sort.SliceStable(keyEntries, func(i, j int) bool { return consul.Order(keyEntries[i].Entry) < consul.Order(keyEntries[j].Entry) })
		consulJobs = append(consulJobs, func() error {
			for _, d := range keyEntries {
				if _, _, err := sameAgent.Client.ConfigEntries().Set(d.Entry, nil); err != nil {
					return err
				}
			}
			return nil
		})
	}
	sm := newCPUMeter(nil)
	sm.agent = sameAgent.Pid()
	sameWrites, sameWritesCPU := sameWritesFloor(b, c, sm, "consul", smi, consulJobs, false)

	args := []string{"--backend-opt=address=" + agent.Addr, "--backend-opt=resync=10m"}
	if w := os.Getenv("SMI_PERF_WORKERS"); w != "" {
		args = append(args, "--max-concurrent-reconciles="+w)
	}
	ctrl := startController(b, buildController(b), env, "consul", args, controllerEnv(namespaces*per))
	defer ctrl.stop()
	w0, s0, r0, e0 := ctrl.mustCounter(b, "smi_adapter_native_writes_total"), ctrl.mustCounter(b, "smi_adapter_status_writes_total"),
		ctrl.mustCounter(b, "smi_adapter_reconcile_total"), ctrl.mustCounter(b, "smi_adapter_backend_sync_errors_total")
	rs0, rc0 := ctrl.mustCounter(b, "controller_runtime_reconcile_time_seconds_sum"), ctrl.mustCounter(b, "controller_runtime_reconcile_time_seconds_count")
	cp := newCPUMeter(ctrl)
	cp.agent = agent.Pid()
	cpu0 := cp.read()
	ctrl.profileCPU("consul", profileSeconds())
	profileURL("http://"+agent.Addr+"/debug/pprof", "consul-agent", profileSeconds())
	start = time.Now()
	parallel(b, c, smi)
	want := namespaces * per * 2
	notConverged := waitProgrammed(c, start, want)
	conv := time.Since(start)
	used := cp.read().minus(cpu0)
	rs, rc := ctrl.mustCounter(b, "controller_runtime_reconcile_time_seconds_sum"), ctrl.mustCounter(b, "controller_runtime_reconcile_time_seconds_count")
	b.Logf("reconciles: %.0f, mean %.1f ms", rc-rc0, 1000*(rs-rs0)/(rc-rc0))
	return result{mesh: "consul", n: len(smi), floor: floor, floorWrites: len(entries), sameWrites: sameWrites, sameWritesCPU: sameWritesCPU, converge: conv, notConverged: notConverged,
		nativeWrites: ctrl.mustCounter(b, "smi_adapter_native_writes_total") - w0, statusWrites: ctrl.mustCounter(b, "smi_adapter_status_writes_total") - s0,
		recon: ctrl.mustCounter(b, "smi_adapter_reconcile_total") - r0, syncErrors: ctrl.mustCounter(b, "smi_adapter_backend_sync_errors_total") - e0,
		peakRSSMB: ctrl.peakRSS(), floorCPU: floorCPU, cpu: used}
}

func writeEntries(b *testing.B, c *capi.Client, entries []capi.ConfigEntry) {
	each(b, entries, func(e capi.ConfigEntry) error {
		_, _, err := c.ConfigEntries().Set(e, nil)
		return err
	})
}
