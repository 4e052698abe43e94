package normalize

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
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
	// terminated running as service account name (ServiceAccountOf) or
	// naming name in consul-k8s's connect-service annotation
	// (ConnectServiceNames), or a Service named name — what consul-k8s
	// registers as the Consul service name. It looks at every namespace.
	IdentityNamespaces(name string) []string
}

// AnnotationConnectService is consul-k8s's pod annotation naming the Consul
// service a pod registers as instead of its Kubernetes Service's name; for
// a multi-port pod, a comma-separated list of names, one per port.
const AnnotationConnectService = "consul.hashicorp.com/connect-service"

// ConnectServiceNames are the Consul service names a pod's connect-service
// annotation gives, sorted and once each: consul-k8s registers a pod under
// a single name it holds, and a multi-port pod (a list: "web,web-admin")
// under each name of the list, those of the Kubernetes Services that select
// it. Each name of a list counts, blanks around it trimmed: naming more
// identities than register can only make a mesh that collapses names fail
// closed, never grant more.
func ConnectServiceNames(pod *corev1.Pod) []string {
	var out []string
	for _, n := range strings.Split(pod.Annotations[AnnotationConnectService], ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// RegisteredNames are the names consul-k8s registers the pods running as
// id under (model.Workloads.ServiceNames): each pod's connect-service
// names, or the identity's own name for a pod without them; nil when that
// is the identity's name alone (or no pod runs as id).
func RegisteredNames(id model.Identity, pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if p.Namespace != id.Namespace || serviceAccountOf(p) != id.Name || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if names := ConnectServiceNames(p); len(names) > 0 {
			out = append(out, names...)
		} else {
			out = append(out, id.Name)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 || (len(out) == 1 && out[0] == id.Name) {
		return nil
	}
	return out
}

// ServiceRegisteredNames are the names consul-k8s registers the pods svc
// selects under (model.Service.RegisteredNames): a pod's single
// connect-service name; for a multi-port pod (a list), svc's name if the
// list holds it, else every name of the list; svc's own name for a pod
// without the annotation. nil when that is svc's name alone (or svc selects
// no pod).
func ServiceRegisteredNames(svc *corev1.Service, pods []*corev1.Pod) []string {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	var out []string
	for _, p := range pods {
		if p.Namespace != svc.Namespace || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		selected := true
		for k, v := range svc.Spec.Selector {
			selected = selected && p.Labels[k] == v
		}
		if !selected {
			continue
		}
		switch names := ConnectServiceNames(p); {
		case len(names) == 0, len(names) > 1 && slices.Contains(names, svc.Name):
			out = append(out, svc.Name)
		default:
			out = append(out, names...)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 || (len(out) == 1 && out[0] == svc.Name) {
		return nil
	}
	return out
}

// IdentityNames lists, sorted and once each, the names of the identities
// pod or svc (one of them nil) makes exist for IdentityNamespaces: a pod
// that has not terminated, its service account and its connect-service
// names; a Service, its name.
func IdentityNames(pod *corev1.Pod, svc *corev1.Service) []string {
	switch {
	case pod != nil:
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return nil
		}
		out := append(ConnectServiceNames(pod), serviceAccountOf(pod))
		slices.Sort(out)
		return slices.Compact(out)
	case svc != nil:
		return []string{svc.Name}
	}
	return nil
}
