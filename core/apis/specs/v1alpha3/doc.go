// Package v1alpha3 holds the specs.smi-spec.io/v1alpha3 API: HTTPRouteGroup, TCPRoute.
// +kubebuilder:object:generate=true
// +groupName=specs.smi-spec.io
package v1alpha3
