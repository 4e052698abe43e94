// Package v1alpha1 holds the specs.smi-spec.io/v1alpha1 API: HTTPRouteGroup, TCPRoute.
// +kubebuilder:object:generate=true
// +groupName=specs.smi-spec.io
package v1alpha1
