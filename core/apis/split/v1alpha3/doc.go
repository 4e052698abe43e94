// Package v1alpha3 holds the split.smi-spec.io/v1alpha3 API: TrafficSplit.
// +kubebuilder:object:generate=true
// +groupName=split.smi-spec.io
package v1alpha3
