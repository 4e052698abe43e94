package consul_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	capi "github.com/hashicorp/consul/api"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
)

// TestNamespaceCollapseFollowsPods: in the free edition a source ns-a/web is
// the Consul source "web", which every namespace's web is too. The grant is
// written while no other web exists; a pod running as web in another
// namespace closes it (the intention for web goes, the TrafficTarget says
// NamespaceCollapse in Programmed and an Event); the pod's deletion brings
// the grant back. Granting the other namespace's web too reopens it with a
// warning (Programmed True with the warning, and a Warning Event).
func TestNamespaceCollapseFollowsPods(t *testing.T) {
	a, b := namespace(t), namespace(t)
	web, dest := "web-"+a, "api-"+a // unique Consul names on the shared agent
	target := func(name, srcNS string) *accessv1alpha3.TrafficTarget {
		return &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: a, Name: name},
			Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: dest},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: web, Namespace: srcNS}},
			}}
	}
	tt := target("api", "")
	create(t, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: a, Name: "tcp"}}, tt)
	allowed := func(want bool) func() error {
		return func() error {
			ok, _, err := agent.Client.Connect().IntentionCheck(&capi.IntentionCheck{Source: web, Destination: dest}, nil)
			if err != nil || ok != want {
				return fmt.Errorf("%s -> %s allowed %v (%v), want %v", web, dest, ok, err, want)
			}
			return nil
		}
	}
	eventually(t, allowed(true))

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: b, Name: "web-0"},
		Spec: corev1.PodSpec{ServiceAccountName: web, AutomountServiceAccountToken: new(false),
			Containers: []corev1.Container{{Name: "c", Image: "web"}}}}
	create(t, pod.DeepCopy())
	eventually(t, allowed(false))
	programmed(t, tt, metav1.ConditionFalse, consul.ReasonNamespaceCollapse, b+"/"+web+" exists now")
	wantEvent(t, tt, "with no grant to")

	if err := env.Client.Delete(context.Background(), pod, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, allowed(true))
	programmed(t, tt, metav1.ConditionTrue, "Programmed", "in sync")

	// Both namespaces' web granted, both existing: the grant stands, warned.
	create(t, pod.DeepCopy(), target("api-b", b))
	programmed(t, tt, metav1.ConditionTrue, "Programmed", "with warnings: Consul names source "+a+"/"+web)
	programmed(t, tt, metav1.ConditionTrue, "Programmed", b+"/"+web+", which exists now and is granted too")
	wantEvent(t, tt, "is granted too")
	eventually(t, allowed(true))
}

// programmed waits for obj's Programmed condition to have status and
// reason, and a message containing text.
func programmed(t *testing.T, obj *accessv1alpha3.TrafficTarget, status metav1.ConditionStatus, reason, text string) {
	t.Helper()
	eventually(t, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		c := meta.FindStatusCondition(obj.Status.Conditions, common.ConditionProgrammed)
		if c == nil || c.Status != status || c.Reason != reason || !strings.Contains(c.Message, text) {
			return fmt.Errorf("programmed %+v, want %s/%s saying %q", c, status, reason, text)
		}
		return nil
	})
}

// wantEvent waits for a Warning Event NamespaceCollapse on obj whose note
// contains text.
func wantEvent(t *testing.T, obj client.Object, text string) {
	t.Helper()
	eventually(t, func() error {
		var evs eventsv1.EventList
		if err := env.Client.List(context.Background(), &evs, client.InNamespace(obj.GetNamespace())); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == obj.GetName() && e.Reason == consul.ReasonNamespaceCollapse && e.Type == corev1.EventTypeWarning && strings.Contains(e.Note, text) {
				return nil
			}
		}
		return fmt.Errorf("no %s event saying %q among %d", consul.ReasonNamespaceCollapse, text, len(evs.Items))
	})
}
