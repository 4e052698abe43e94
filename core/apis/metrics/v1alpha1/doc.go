// Package v1alpha1 holds the metrics.smi-spec.io/v1alpha1 API: TrafficMetrics,
// read-only objects served by smi-adapter's aggregated API server (no CRD).
// Field names and JSON follow the SMI spec and the SMI SDK, so existing
// clients decode them; Backend is the spec's TrafficSplit field.
// +kubebuilder:object:generate=true
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.smi-spec.metrics.v1alpha1
// +kubebuilder:skip
// +groupName=metrics.smi-spec.io
package v1alpha1
