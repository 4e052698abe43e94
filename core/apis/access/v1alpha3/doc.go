// Package v1alpha3 holds the access.smi-spec.io/v1alpha3 API: TrafficTarget. It is the hub (storage) version.
// +kubebuilder:object:generate=true
// +groupName=access.smi-spec.io
package v1alpha3
