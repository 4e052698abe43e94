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
}
