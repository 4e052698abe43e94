// Package v1alpha1 holds the access.smi-spec.io/v1alpha1 API: TrafficTarget.
// +kubebuilder:object:generate=true
// +groupName=access.smi-spec.io
package v1alpha1
