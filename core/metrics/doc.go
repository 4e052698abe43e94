// Package metrics serves the SMI Traffic Metrics API (metrics.smi-spec.io/
// v1alpha1) as a Kubernetes aggregated API built on k8s.io/apiserver:
// delegated authentication and authorization, discovery, TLS.
//
// The core knows the API; each adapter knows its mesh's telemetry. An adapter
// describes its Prometheus series as data (Telemetry: metric names, the labels
// that name a resource on the serving and the sending side); the core turns a
// request into PromQL (query.go), resolves Kubernetes objects (resolve.go),
// and assembles TrafficMetrics (compute.go).
package metrics
