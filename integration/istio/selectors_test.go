package istio_test

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
)

// TestAnotherAccountsPodNarrowsSelectors: api's pods are selected by
// app=shop. A pod of another account (db) then starts with the label
// app=shop: api's policy must stop selecting by app=shop at once — else db's
// new pod would accept api's sources (web), which SMI never allowed. Both
// identities report SelectorNotExact; when the pod goes, api's policy is back.
func TestAnotherAccountsPodNarrowsSelectors(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	target := func(dest, src string) *accessv1alpha3.TrafficTarget {
		return &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dest},
			Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: dest},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: src}},
			}}
	}
	api, db := target("api", "web"), target("db", "api")
	create(t, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tcp"}},
		pod(ns, "api-0", "api", map[string]string{"app": "shop"}),
		pod(ns, "db-0", "db", map[string]string{"app": "db"}), api, db)
	// selecting returns the source accounts our policies let reach a pod with these labels.
	selecting := func(podLabels map[string]string) (map[string]bool, error) {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(istio.AuthorizationPolicyGVK.GroupVersion().WithKind("AuthorizationPolicyList"))
		if err := env.Client.List(ctx, l, client.InNamespace(ns), client.MatchingLabels{kubesink.LabelManagedBy: kubesink.ManagedBy}); err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for _, ap := range l.Items {
			sel, _, _ := unstructured.NestedStringMap(ap.Object, "spec", "selector", "matchLabels")
			if !labels.SelectorFromSet(sel).Matches(labels.Set(podLabels)) {
				continue
			}
			rules, _, _ := unstructured.NestedSlice(ap.Object, "spec", "rules")
			for _, r := range rules {
				from, _, _ := unstructured.NestedSlice(r.(map[string]any), "from")
				for _, f := range from {
					sas, _, _ := unstructured.NestedStringSlice(f.(map[string]any), "source", "serviceAccounts")
					for _, sa := range sas {
						out[sa] = true
					}
				}
			}
		}
		return out, nil
	}
	principal := func(sa string) string { return ns + "/" + sa }
	eventually(t, func() error {
		got, err := selecting(map[string]string{"app": "shop"})
		if err != nil || len(got) != 1 || !got[principal("web")] {
			return fmt.Errorf("api's pods accept %v (%v), want web only", got, err)
		}
		return nil
	})

	intruder := pod(ns, "db-1", "db", map[string]string{"app": "shop"})
	create(t, intruder)
	eventually(t, func() error {
		got, err := selecting(intruder.Labels)
		if err != nil || got[principal("web")] {
			return fmt.Errorf("db's new pod accepts %v (%v): api's grant to web reaches it", got, err)
		}
		for _, tt := range []*accessv1alpha3.TrafficTarget{api, db} {
			if c := condition(tt, common.ConditionProgrammed); c == nil || c.Reason != istio.ReasonSelectorNotExact {
				return fmt.Errorf("%s programmed %+v, want %s", tt.Name, c, istio.ReasonSelectorNotExact)
			}
		}
		return nil
	})

	if err := env.Client.Delete(ctx, intruder, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		got, err := selecting(map[string]string{"app": "shop"})
		if err != nil || len(got) != 1 || !got[principal("web")] {
			return fmt.Errorf("api's pods accept %v (%v), want web only again", got, err)
		}
		if c := condition(api, common.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("api programmed %+v", c)
		}
		return nil
	})
}
