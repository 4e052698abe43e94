package v1alpha4

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
)

// TrafficSplit shifts the traffic that clients send to a root Service across
// weighted backend Services.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=smi
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.service`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TrafficSplit struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TrafficSplitSpec `json:"spec"`
	// +optional
	Status common.Status `json:"status,omitempty"`
}

// TrafficSplitSpec is the root Service and its weighted backends.
type TrafficSplitSpec struct {
	// Service is the root Service that clients address, in the split's namespace.
	// +kubebuilder:validation:MinLength=1
	Service string `json:"service"`
	// Backends share the root's traffic by relative weight.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Backends []TrafficSplitBackend `json:"backends"`
	// Matches restricts the split to requests matching these HTTPRouteGroups;
	// other requests go to the root Service. None means all requests.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Matches []TrafficSplitMatch `json:"matches,omitempty"`
}

// TrafficSplitBackend is one weighted backend Service.
type TrafficSplitBackend struct {
	// Service is the backend Service, in the split's namespace.
	// +kubebuilder:validation:MinLength=1
	Service string `json:"service"`
	// Weight is relative to the other backends' weights (not a percentage).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	Weight int `json:"weight"`
}

// TrafficSplitList is a list of TrafficSplits.
// +kubebuilder:object:root=true
type TrafficSplitList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TrafficSplit `json:"items"`
}

// TrafficSplitMatch refers to an HTTPRouteGroup in the split's namespace.
type TrafficSplitMatch struct {
	// APIGroup of the referent; specs.smi-spec.io when empty.
	// +optional
	APIGroup *string `json:"apiGroup,omitempty"`
	// Kind of the referent.
	// +kubebuilder:validation:Enum=HTTPRouteGroup
	Kind string `json:"kind"`
	// Name of the referent.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// Hub marks this version as the conversion hub.
func (*TrafficSplit) Hub() {}
