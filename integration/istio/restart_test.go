package istio_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestAPIServerRestartedMidConvergence: kube-apiserver is killed (SIGKILL)
// and started again while 40 splits are being created and converged, and
// while a TrafficTarget that was just deleted still has its policy. The
// controller reconnects by itself and converges: every split Programmed,
// exactly one VirtualService each (no orphan, no duplicate), and the deleted
// TrafficTarget's AuthorizationPolicy gone — access never stays wider.
func TestAPIServerRestartedMidConvergence(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	const n = 40
	for i := range n {
		name := fmt.Sprintf("r%d", i)
		create(t, headless(ns, name), headless(ns, name+"-v1"))
	}
	tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
		Spec: accessv1alpha3.TrafficTargetSpec{
			Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
			Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
			Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "web"}}}}
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"}},
		pod(ns, "api-0", "api", map[string]string{"app": "api"}),
		&specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tcp"}}, tt)
	policies := func() (int, error) {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(istio.AuthorizationPolicyGVK.GroupVersion().WithKind("AuthorizationPolicyList"))
		if err := env.Client.List(ctx, l, client.InNamespace(ns), client.MatchingLabels{kubesink.LabelManagedBy: kubesink.ManagedBy}); err != nil {
			return 0, err
		}
		return len(l.Items), nil
	}
	eventually(t, func() error {
		if c, err := policies(); err != nil || c != 1 {
			return fmt.Errorf("policies %d, %v", c, err)
		}
		return nil
	})

	var splits []*splitv1alpha4.TrafficSplit
	for i := range n {
		name := fmt.Sprintf("r%d", i)
		ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: splitv1alpha4.TrafficSplitSpec{Service: name, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: name + "-v1", Weight: 1}}}}
		create(t, ts)
		splits = append(splits, ts)
		if i == n/2 {
			if err := env.Client.Delete(ctx, tt); err != nil {
				t.Fatal(err)
			}
			if err := env.RestartAPIServer(ctx, 2*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	harness.Eventually(t, 90*time.Second, func() error {
		for _, ts := range splits {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ts), ts); err != nil {
				return err
			}
			if c := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s: %+v", ts.Name, c)
			}
		}
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(istio.VirtualServiceGVK.GroupVersion().WithKind("VirtualServiceList"))
		if err := env.Client.List(ctx, l, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(l.Items) != n {
			return fmt.Errorf("%d VirtualServices, want %d", len(l.Items), n)
		}
		if c, err := policies(); err != nil || c != 0 {
			return fmt.Errorf("the deleted TrafficTarget still has %d policies (%v)", c, err)
		}
		return nil
	})
}

// headless Services: the test apiserver's Service IP range is small.
func headless(ns, name string) *corev1.Service {
	s := svc(ns, name)
	s.Spec.ClusterIP = corev1.ClusterIPNone
	return s
}
