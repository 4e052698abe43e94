package testutil

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// BenchWorld is a realistic mix: per namespace, services with a canary
// split, a route group, and TrafficTargets for each service's identity, plus
// two pods per identity.
func BenchWorld(namespaces, perNS int) *normalize.Memory {
	m, err := normalize.NewMemory("default", BenchObjects(namespaces, perNS)...)
	if err != nil {
		panic(err)
	}
	return m
}

// BenchObjects are BenchWorld's objects (for benchmarks that decode them).
func BenchObjects(namespaces, perNS int) []runtime.Object {
	var objs []runtime.Object
	for n := range namespaces {
		ns := fmt.Sprintf("ns-%d", n)
		objs = append(objs, &specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "routes"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{
				{Name: "read", PathRegex: "/api/v[0-9]+/items", Methods: []string{"GET", "HEAD"}},
				{Name: "write", PathRegex: "/api/v[0-9]+/items", Methods: []string{"POST"}, Headers: map[string]string{"x-tenant": "[a-z]+"}},
				{Name: "metrics", PathRegex: "/metrics", Methods: []string{"GET"}},
			}}})
		for i := range perNS {
			name := fmt.Sprintf("svc-%d", i)
			for _, s := range []string{name, name + "-primary", name + "-canary"} {
				objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: s},
					Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
			}
			objs = append(objs, &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: splitv1alpha4.TrafficSplitSpec{Service: name, Backends: []splitv1alpha4.TrafficSplitBackend{
					{Service: name + "-primary", Weight: 90}, {Service: name + "-canary", Weight: 10}}}})
			objs = append(objs, &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: accessv1alpha3.TrafficTargetSpec{
					Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: name},
					Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}},
					Sources: []accessv1alpha3.IdentityBindingSubject{
						{Kind: "ServiceAccount", Name: fmt.Sprintf("svc-%d", (i+1)%perNS)},
						{Kind: "ServiceAccount", Name: "prometheus", Namespace: "monitoring"}},
				}})
			for p := range 2 {
				objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", name, p),
					Labels: map[string]string{"app": name, "pod-template-hash": fmt.Sprint(p)}},
					Spec: corev1.PodSpec{ServiceAccountName: name, Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}})
			}
		}
	}
	return objs
}
