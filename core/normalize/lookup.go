package normalize

import (
	corev1 "k8s.io/api/core/v1"

	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
)

// Lookup resolves the objects SMI objects refer to. The controller answers it
// from its informer cache; translate and the tests from memory.
type Lookup interface {
	HTTPRouteGroup(namespace, name string) *specsv1alpha4.HTTPRouteGroup
	TCPRoute(namespace, name string) *specsv1alpha4.TCPRoute
	UDPRoute(namespace, name string) *specsv1alpha4.UDPRoute
	Service(namespace, name string) *corev1.Service
	// Services lists the Services of a namespace.
	Services(namespace string) []*corev1.Service
	// Pods lists the pods of a namespace (for exact workload selection).
	Pods(namespace string) []*corev1.Pod
	// IdentityNamespaces lists, sorted and once each, the namespaces in
	// which an identity named name exists now: a pod that has not
	// terminated running as service account name (ServiceAccountOf), or a
	// Service named name — both what consul-k8s registers as the Consul
	// service name. It looks at every namespace.
	IdentityNamespaces(name string) []string
}

// IdentityExists reports whether pod or svc (one of them nil) makes an
// identity of its name exist for IdentityNamespaces, and under which name.
func IdentityExists(pod *corev1.Pod, svc *corev1.Service) (name string, ok bool) {
	switch {
	case pod != nil:
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return "", false
		}
		return serviceAccountOf(pod), true
	case svc != nil:
		return svc.Name, true
	}
	return "", false
}
