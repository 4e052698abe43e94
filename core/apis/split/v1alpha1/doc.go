// Package v1alpha1 holds the split.smi-spec.io/v1alpha1 API: TrafficSplit.
// +kubebuilder:object:generate=true
// +groupName=split.smi-spec.io
package v1alpha1
