package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
)

// TrafficTarget (v1alpha1) has no spec wrapper: destination, specs and sources
// sit at the top level of the object.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=smi
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TrafficTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Destination is the identity that receives the traffic.
	Destination IdentityBindingSubject `json:"destination"`
	// Specs name the routes the sources may use.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Specs []TrafficTargetSpec `json:"specs,omitempty"`
	// Sources are the identities allowed to call the destination.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Sources []IdentityBindingSubject `json:"sources,omitempty"`
	// +optional
	Status common.Status `json:"status,omitempty"`
}

// TrafficTargetSpec names a route object and optionally some of its matches.
type TrafficTargetSpec struct {
	// Kind of the route object.
	// +kubebuilder:validation:Enum=HTTPRouteGroup;TCPRoute;UDPRoute
	Kind string `json:"kind"`
	// Name of the route object, in the TrafficTarget's namespace.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Matches names matches of the route object; none means all of them.
	// +optional
	Matches []string `json:"matches,omitempty"`
}

// IdentityBindingSubject is a service identity: a Kubernetes ServiceAccount.
type IdentityBindingSubject struct {
	// Kind of the identity.
	// +kubebuilder:validation:Enum=ServiceAccount
	Kind string `json:"kind"`
	// Name of the ServiceAccount.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Namespace of the ServiceAccount; empty means the TrafficTarget's namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Port restricts the specs to one port of the destination. A number, or
	// the same number as a string: smi-sdk-go's first v1alpha1 type had
	// `Port string`, and objects written with it are read, not refused. A
	// string that is not a port number 1-65535 makes the TrafficTarget grant
	// nothing (Accepted=False, Invalid).
	// +optional
	Port *intstr.IntOrString `json:"port,omitempty"`
}

// TrafficTargetList is a list of TrafficTargets.
// +kubebuilder:object:root=true
type TrafficTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TrafficTarget `json:"items"`
}
