package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
)

// HTTPRouteGroup (v1alpha1, no spec wrapper) lists HTTP matches that TrafficTargets
// and TrafficSplits refer to by name.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=smi
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HTTPRouteGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Matches are OR-ed.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Matches []HTTPMatch `json:"matches,omitempty"`
	// +optional
	Status common.Status `json:"status,omitempty"`
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
}

// TCPRoute (v1alpha1) has no fields: it stands for all TCP traffic.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=smi
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TCPRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +optional
	Status common.Status `json:"status,omitempty"`
}

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
