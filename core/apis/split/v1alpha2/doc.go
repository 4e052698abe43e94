// Package v1alpha2 holds the split.smi-spec.io/v1alpha2 API: TrafficSplit.
// +kubebuilder:object:generate=true
// +groupName=split.smi-spec.io
package v1alpha2
