package api

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ServiceProfile (linkerd.io/v1alpha2) named <svc>.<ns>.svc.<cluster-domain>.
// +kubebuilder:object:root=true
type ServiceProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ServiceProfileSpec `json:"spec"`
}

// ServiceProfileSpec holds routes and destination overrides.
type ServiceProfileSpec struct {
	Routes       []RouteSpec    `json:"routes,omitempty"`
	DstOverrides []*WeightedDst `json:"dstOverrides,omitempty"`
}

// RouteSpec is a named route with a request condition.
type RouteSpec struct {
	Name      string        `json:"name"`
	Condition *RequestMatch `json:"condition"`
}

// RequestMatch is a ServiceProfile request condition (pathRegex is anchored ^…$ by the proxy).
type RequestMatch struct {
	All       []*RequestMatch `json:"all,omitempty"`
	Any       []*RequestMatch `json:"any,omitempty"`
	PathRegex string          `json:"pathRegex,omitempty"`
	Method    string          `json:"method,omitempty"`
}

// WeightedDst is a destination override: authority and relative weight.
type WeightedDst struct {
	Authority string            `json:"authority"`
	Weight    resource.Quantity `json:"weight"`
}

// Server (policy.linkerd.io/v1beta3) selects a port of some pods.
// +kubebuilder:object:root=true
type Server struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ServerSpec `json:"spec"`
}

// ServerSpec of a Server.
type ServerSpec struct {
	PodSelector   *metav1.LabelSelector `json:"podSelector"`
	Port          intstr.IntOrString    `json:"port"`
	ProxyProtocol string                `json:"proxyProtocol,omitempty"`
	AccessPolicy  string                `json:"accessPolicy,omitempty"`
}

// AuthorizationPolicy (policy.linkerd.io/v1alpha1) authorizes clients on a target.
// +kubebuilder:object:root=true
type AuthorizationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AuthorizationPolicySpec `json:"spec"`
}

// AuthorizationPolicySpec of an AuthorizationPolicy.
type AuthorizationPolicySpec struct {
	TargetRef                  TargetRef   `json:"targetRef"`
	RequiredAuthenticationRefs []TargetRef `json:"requiredAuthenticationRefs"`
}

// TargetRef refers to a policy object.
type TargetRef struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// MeshTLSAuthentication (policy.linkerd.io/v1alpha1) names mTLS identities.
// +kubebuilder:object:root=true
type MeshTLSAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MeshTLSAuthenticationSpec `json:"spec"`
}

// MeshTLSAuthenticationSpec of a MeshTLSAuthentication.
type MeshTLSAuthenticationSpec struct {
	IdentityRefs []TargetRef `json:"identityRefs,omitempty"`
}

// NetworkAuthentication (policy.linkerd.io/v1alpha1) names client networks.
// +kubebuilder:object:root=true
type NetworkAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              NetworkAuthenticationSpec `json:"spec"`
}

// NetworkAuthenticationSpec of a NetworkAuthentication.
type NetworkAuthenticationSpec struct {
	Networks []Network `json:"networks"`
}

// Network is a CIDR.
type Network struct {
	CIDR string `json:"cidr"`
}

// HTTPRoute (policy.linkerd.io/v1beta3), Gateway API shaped.
// +kubebuilder:object:root=true
type HTTPRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              HTTPRouteSpec `json:"spec"`
}

// HTTPRouteSpec of an HTTPRoute.
type HTTPRouteSpec struct {
	ParentRefs []ParentRef     `json:"parentRefs"`
	Rules      []HTTPRouteRule `json:"rules,omitempty"`
}

// ParentRef attaches a route; Group and Kind are always set (the default kind is Gateway).
type ParentRef struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Port      *int32 `json:"port,omitempty"`
}

// HTTPRouteRule is matches (OR-ed) and weighted backends.
type HTTPRouteRule struct {
	Matches     []HTTPRouteMatch `json:"matches,omitempty"`
	BackendRefs []BackendRef     `json:"backendRefs,omitempty"`
}

// HTTPRouteMatch ANDs its fields.
type HTTPRouteMatch struct {
	Path    *PathMatch    `json:"path,omitempty"`
	Headers []HeaderMatch `json:"headers,omitempty"`
	Method  string        `json:"method,omitempty"`
}

// PathMatch: Exact, PathPrefix or RegularExpression (full match).
type PathMatch struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// HeaderMatch: Exact or RegularExpression.
type HeaderMatch struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// BackendRef is a weighted Service.
type BackendRef struct {
	Group  *string `json:"group,omitempty"` // "" (core) is written out: the schema defaults it
	Kind   string  `json:"kind,omitempty"`
	Name   string  `json:"name"`
	Port   *int32  `json:"port,omitempty"`
	Weight *int32  `json:"weight,omitempty"`
}
