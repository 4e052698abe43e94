package v1alpha3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
)

// TrafficTarget grants the listed source identities access to a destination
// identity on the routes its rules name. Access is deny by default.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:categories=smi
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TrafficTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TrafficTargetSpec `json:"spec"`
	// +optional
	Status common.Status `json:"status,omitempty"`
}

// TrafficTargetSpec is the destination, its allowed sources and the rules they may use.
type TrafficTargetSpec struct {
	// Destination is the identity that receives the traffic.
	Destination IdentityBindingSubject `json:"destination"`
	// Sources are the identities allowed to call the destination.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Sources []IdentityBindingSubject `json:"sources,omitempty"`
	// Rules name the routes (HTTPRouteGroup, TCPRoute, UDPRoute) the sources may use.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Rules []TrafficTargetRule `json:"rules,omitempty"`
}

// TrafficTargetRule names a route object and optionally some of its matches.
type TrafficTargetRule struct {
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
}

// TrafficTargetList is a list of TrafficTargets.
// +kubebuilder:object:root=true
type TrafficTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TrafficTarget `json:"items"`
}

// Hub marks this version as the conversion hub.
func (*TrafficTarget) Hub() {}
