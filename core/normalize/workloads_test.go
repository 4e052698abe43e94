package normalize

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/core/model"
)

// TestOnlyPodsSharingALabelChangeSelectors: the controller re-reconciles an
// identity when a pod of another identity that shares a selector label with
// one of its pods appears, changes or goes (SharesSelectorLabel). This checks
// on random namespaces that no other pod can change the identity's
// Workloads, so that filter never misses a selector that must narrow.
func TestOnlyPodsSharingALabelChangeSelectors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []string{"a", "b", "c"}
	keys := []string{"app", "tier", "pod-template-hash", "version"}
	accounts := []string{"api", "web", "db"}
	randomPod := func(i int) *corev1.Pod {
		l := map[string]string{}
		for _, k := range keys {
			if r.IntN(2) == 0 {
				l[k] = values[r.IntN(len(values))]
			}
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprint("p", i), Labels: l},
			Spec: corev1.PodSpec{ServiceAccountName: accounts[r.IntN(len(accounts))]}}
	}
	checked := 0
	for round := range 5000 {
		var pods []*corev1.Pod
		for i := range 1 + r.IntN(6) {
			pods = append(pods, randomPod(i))
		}
		q := randomPod(99)
		id := model.Identity{Namespace: "ns", Name: accounts[r.IntN(len(accounts))]}
		if ServiceAccountOf(q) == id.Name {
			continue // its own pods: the controller always reconciles the pod's own identity
		}
		before, after := Workloads(id, pods), Workloads(id, append(pods, q))
		if reflect.DeepEqual(before, after) {
			continue
		}
		checked++
		shares := false
		for _, p := range pods {
			if ServiceAccountOf(p) == id.Name && SharesSelectorLabel(p, q) {
				shares = true
			}
		}
		if !shares {
			t.Fatalf("round %d: pod %v (%s) changed the workloads of %s from %+v to %+v without sharing a selector label with its pods",
				round, q.Labels, ServiceAccountOf(q), id.Name, before, after)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d rounds where another account's pod changed the selectors: the generator is too weak", checked)
	}
}
