// Package v1alpha4 holds the split.smi-spec.io/v1alpha4 API: TrafficSplit. It is the hub (storage) version.
// +kubebuilder:object:generate=true
// +groupName=split.smi-spec.io
package v1alpha4
