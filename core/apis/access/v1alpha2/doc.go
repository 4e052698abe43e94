// Package v1alpha2 holds the access.smi-spec.io/v1alpha2 API: TrafficTarget.
// +kubebuilder:object:generate=true
// +groupName=access.smi-spec.io
package v1alpha2
