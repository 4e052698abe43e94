// Package api defines the few Linkerd resources smi-adapter writes. The Go
// module github.com/linkerd/linkerd2 cannot be fetched here, so these are our
// own types, checked against Linkerd's CRDs in the tests:
// linkerd.io/v1alpha2 ServiceProfile; policy.linkerd.io Server (v1beta3),
// AuthorizationPolicy (v1alpha1), MeshTLSAuthentication (v1alpha1),
// NetworkAuthentication (v1alpha1) and HTTPRoute (v1beta3).
// +kubebuilder:object:generate=true
package api
