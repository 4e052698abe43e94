// Package v1alpha4 holds the specs.smi-spec.io/v1alpha4 API: HTTPRouteGroup, TCPRoute, UDPRoute. It is the hub (storage) version.
// +kubebuilder:object:generate=true
// +groupName=specs.smi-spec.io
package v1alpha4
