// Package v1alpha2 holds the specs.smi-spec.io/v1alpha2 API: HTTPRouteGroup, TCPRoute.
// +kubebuilder:object:generate=true
// +groupName=specs.smi-spec.io
package v1alpha2
