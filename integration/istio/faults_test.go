package istio_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// TestControllerKilledMidApply: smi-adapter stops while 30 splits are being
// applied and starts again: it converges with exactly one VirtualService per
// split — no orphan, no duplicate.
func TestControllerKilledMidApply(t *testing.T) {
	ns := namespace(t)
	const n = 30
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		create(t, svc(ns, name), svc(ns, name+"-v1"))
	}
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		create(t, &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: splitv1alpha4.TrafficSplitSpec{Service: name, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: name + "-v1", Weight: 1}}}})
		if i == n/2 {
			if err := env.StopManager(); err != nil { // mid-apply
				t.Fatal(err)
			}
		}
	}
	if err := env.StartManager(); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(istio.VirtualServiceGVK.GroupVersion().WithKind("VirtualServiceList"))
		if err := env.Client.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{kubesink.LabelManagedBy: kubesink.ManagedBy}); err != nil {
			return err
		}
		if len(list.Items) != n {
			return fmt.Errorf("%d VirtualServices, want %d", len(list.Items), n)
		}
		seen := map[string]bool{}
		for _, vs := range list.Items {
			hosts, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "hosts")
			if seen[hosts[0]] {
				return fmt.Errorf("two VirtualServices for %s", hosts[0])
			}
			seen[hosts[0]] = true
		}
		for i := range n {
			ts := &splitv1alpha4.TrafficSplit{}
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("s%d", i)}, ts); err != nil {
				return err
			}
			if c := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s: programmed %+v", ts.Name, c)
			}
		}
		return nil
	})
}

// TestConversionWebhookUnavailable: with smi-adapter (and its webhook) down,
// reading an older version fails with a clear error, the stored version still
// reads, and nothing is lost: once it is back, every version reads again.
func TestConversionWebhookUnavailable(t *testing.T) {
	ns := namespace(t)
	create(t, &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v1", Weight: 3}, {Service: "web-v2", Weight: 1}}}})
	read := func(version string) (*unstructured.Unstructured, error) {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("split.smi-spec.io/" + version)
		u.SetKind("TrafficSplit")
		return u, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, u)
	}
	if err := env.StopManager(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = env.StartManager()
		}
	}()
	if _, err := read("v1alpha1"); err == nil || !strings.Contains(err.Error(), "conversion webhook") {
		t.Fatalf("reading v1alpha1 without the webhook: want a conversion webhook error, got %v", err)
	}
	u, err := read("v1alpha4")
	if err != nil {
		t.Fatalf("the stored version must stay readable: %v", err)
	}
	if b, _, _ := unstructured.NestedSlice(u.Object, "spec", "backends"); len(b) != 2 {
		t.Fatalf("stored object changed: %v", u.Object)
	}
	restarted = true
	if err := env.StartManager(); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		u, err := read("v1alpha1")
		if err != nil {
			return err
		}
		b, _, _ := unstructured.NestedSlice(u.Object, "spec", "backends")
		if len(b) != 2 || fmt.Sprint(b[0].(map[string]any)["weight"]) != "3" {
			return fmt.Errorf("v1alpha1 reads %v", b)
		}
		return nil
	})
}
