package v1alpha4

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
)

// HTTPRouteGroup lists HTTP matches that TrafficTargets and TrafficSplits refer to by name.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=smi
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HTTPRouteGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec HTTPRouteGroupSpec `json:"spec,omitempty"`
	// +optional
	Status common.Status `json:"status,omitempty"`
}

// HTTPRouteGroupSpec holds the matches of a group.
type HTTPRouteGroupSpec struct {
	// Matches are OR-ed.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Matches []HTTPMatch `json:"matches,omitempty"`
}

// HTTPMatch is one named HTTP match.
type HTTPMatch struct {
	// Name identifies the match inside its group; TrafficTarget rules refer to it.
	// +optional
	Name string `json:"name,omitempty"`
	// Methods are the HTTP methods matched; "*" or none means every method.
	// +optional
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Enum="*";GET;HEAD;PUT;POST;DELETE;CONNECT;OPTIONS;TRACE;PATCH
	Methods []string `json:"methods,omitempty"`
	// PathRegex is an RE2 regular expression anchored at the start of the path only.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	PathRegex string `json:"pathRegex,omitempty"`
	// Headers maps header names to regexes their values must match (AND-ed).
	// The map form and the array-of-maps form are both accepted.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Headers common.HTTPHeaders `json:"headers,omitempty"`
}

// TCPRoute selects TCP traffic.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=smi
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TCPRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TCPRouteSpec `json:"spec,omitempty"`
	// +optional
	Status common.Status `json:"status,omitempty"`
}

// TCPRouteSpec selects TCP traffic by destination port.
type TCPRouteSpec struct {
	// Matches selects ports; none means all ports of the destination.
	// +optional
	Matches PortMatch `json:"matches,omitempty"`
}

// UDPRouteSpec selects UDP traffic by destination port.
type UDPRouteSpec struct {
	// Matches selects ports; none means all ports of the destination.
	// +optional
	Matches PortMatch `json:"matches,omitempty"`
}

// PortMatch is a named set of destination ports.
type PortMatch struct {
	// Name identifies the match; TrafficTarget rules refer to it.
	// +optional
	Name string `json:"name,omitempty"`
	// Ports of the destination; none means all of them.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	Ports []int32 `json:"ports,omitempty"`
}

// UDPRoute selects UDP traffic by destination port.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=smi
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type UDPRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec UDPRouteSpec `json:"spec,omitempty"`
	// +optional
	Status common.Status `json:"status,omitempty"`
}

// UDPRouteList is a list of UDPRoutes.
// +kubebuilder:object:root=true
type UDPRouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []UDPRoute `json:"items"`
}

// Hub marks this version as the conversion hub.
func (*HTTPRouteGroup) Hub() {}

// Hub marks this version as the conversion hub.
func (*TCPRoute) Hub() {}

// HTTPRouteGroupList is a list of HTTPRouteGroups.
// +kubebuilder:object:root=true
type HTTPRouteGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HTTPRouteGroup `json:"items"`
}

// TCPRouteList is a list of TCPRoutes.
// +kubebuilder:object:root=true
type TCPRouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TCPRoute `json:"items"`
}

// Hub marks this version as the conversion hub (UDPRoute has no other version).
func (*UDPRoute) Hub() {}
