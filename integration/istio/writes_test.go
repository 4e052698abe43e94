package istio_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

func total(t *testing.T, name string) float64 {
	return counter(t, name, "Split") + counter(t, name, "Access") + counter(t, name, "VirtualService") + counter(t, name, "AuthorizationPolicy") +
		counter(t, name, "TrafficSplit") + counter(t, name, "TrafficTarget")
}

// TestResyncWritesNothing: with 40 splits and 40 targets converged, touching
// every SMI object (each key reconciled again, nothing changed) makes no
// write to Istio objects and no status write; then one weight change writes
// exactly one VirtualService and one status.
func TestResyncWritesNothing(t *testing.T) {
	ns := namespace(t)
	const n = 40
	var splits []*splitv1alpha4.TrafficSplit
	var targets []*accessv1alpha3.TrafficTarget
	create(t, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tcp"}})
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		create(t, svc(ns, name), svc(ns, name+"-a"), svc(ns, name+"-b"),
			pod(ns, name+"-0", name, map[string]string{"app": name}))
		ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: splitv1alpha4.TrafficSplitSpec{Service: name, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: name + "-a", Weight: 9}, {Service: name + "-b", Weight: 1}}}}
		tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: name},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: fmt.Sprintf("svc-%d", (i+1)%n)}},
			}}
		create(t, ts, tt)
		splits, targets = append(splits, ts), append(targets, tt)
	}
	// Converged: Accepted (every reference resolved: a reference the cache
	// has not seen yet fails closed and is still Programmed) and Programmed,
	// both for the current generation.
	programmed := func(o client.Object, conds func() []metav1.Condition) error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(o), o); err != nil {
			return err
		}
		for _, typ := range []string{common.ConditionAccepted, common.ConditionProgrammed} {
			c := meta.FindStatusCondition(conds(), typ)
			if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != o.GetGeneration() {
				return fmt.Errorf("%s not %s: %+v", o.GetName(), typ, c)
			}
		}
		return nil
	}
	eventually(t, func() error {
		for i := range n {
			if err := programmed(splits[i], func() []metav1.Condition { return splits[i].Status.Conditions }); err != nil {
				return err
			}
			if err := programmed(targets[i], func() []metav1.Condition { return targets[i].Status.Conditions }); err != nil {
				return err
			}
		}
		return nil
	})
	// Let the last reconciles (pods, routes) settle.
	settled := func() float64 {
		return counter(t, "smi_adapter_reconcile_total", "Split") + counter(t, "smi_adapter_reconcile_total", "Access")
	}
	eventually(t, func() error {
		before := settled()
		time.Sleep(500 * time.Millisecond)
		if settled() != before {
			return fmt.Errorf("still reconciling")
		}
		return nil
	})
	writes0, status0, rec0 := nativeWrites(t), total(t, "smi_adapter_status_writes_total"), settled()
	series0 := series(t)
	for i := range n {
		touch := map[string]string{"example.com/touched": "yes"}
		if err := env.Update(context.Background(), splits[i], func() { splits[i].Annotations = touch }); err != nil {
			t.Fatal(err)
		}
		if err := env.Update(context.Background(), targets[i], func() { targets[i].Annotations = touch }); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() error {
		if got := settled() - rec0; got < 2*n {
			return fmt.Errorf("%v of %d keys reconciled again", got, 2*n)
		}
		return nil
	})
	w, s := nativeWrites(t)-writes0, total(t, "smi_adapter_status_writes_total")-status0
	if w != 0 {
		t.Errorf("re-reconciling %d unchanged keys wrote %v Istio objects, want 0", 2*n, w)
	}
	if s != 0 {
		t.Errorf("re-reconciling %d unchanged keys wrote %v statuses, want 0", 2*n, s)
	}
	if w != 0 || s != 0 {
		t.Logf("counters that moved: %v", moved(series0, series(t)))
		for _, l := range env.Logs(ns) {
			if !strings.Contains(l, `"reconciled"`) {
				t.Log(l)
			}
		}
	}

	// One edit: one VirtualService update and one status write (the new generation).
	writes1, status1 := nativeWrites(t), total(t, "smi_adapter_status_writes_total")
	if err := env.Update(context.Background(), splits[0], func() { splits[0].Spec.Backends[1].Weight = 9 }); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		return programmed(splits[0], func() []metav1.Condition { return splits[0].Status.Conditions })
	})
	eventually(t, func() error {
		if w := nativeWrites(t) - writes1; w != 1 {
			return fmt.Errorf("%v Istio writes for one weight change, want 1", w)
		}
		return nil
	})
	if s := total(t, "smi_adapter_status_writes_total") - status1; s != 1 {
		t.Errorf("%v status writes for one edit, want 1", s)
	}
}

// series reads every smi_adapter_ counter, by name and labels.
func series(t *testing.T) map[string]float64 {
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "smi_adapter_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				out[mf.GetName()+fmt.Sprint(m.GetLabel())] = c.GetValue()
			}
		}
	}
	return out
}

// moved lists the counters that differ between two readings.
func moved(before, after map[string]float64) []string {
	var out []string
	for k, v := range after {
		if v != before[k] {
			out = append(out, fmt.Sprintf("%s +%v", k, v-before[k]))
		}
	}
	sort.Strings(out)
	return out
}

// nativeWrites sums smi_adapter_native_writes_total over kinds and operations.
func nativeWrites(t *testing.T) float64 {
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "smi_adapter_native_writes_total" {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
