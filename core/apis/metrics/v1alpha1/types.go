package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Metric names.
const (
	P99ResponseLatency = "p99_response_latency"
	P90ResponseLatency = "p90_response_latency"
	P50ResponseLatency = "p50_response_latency"
	SuccessCount       = "success_count"
	FailureCount       = "failure_count"
)

// LatencyUnit is the unit of every latency metric. The SMI SDK (and the
// clients built on it) use milliseconds; the spec's prose example says
// seconds. smi-adapter serves milliseconds, always.
const LatencyUnit = "ms"

// Direction of an edge, seen from the resource.
type Direction string

// Side where an edge's traffic was measured.
type Side string

// Directions and sides.
const (
	To     Direction = "to"   // the resource sent the traffic
	From   Direction = "from" // the resource received the traffic
	Client Side      = "client"
	Server Side      = "server"
)

// +kubebuilder:object:root=true

// TrafficMetrics are the HTTP golden metrics of one resource, or of the
// traffic between a resource and one peer (an edge), over a window.
type TrafficMetrics struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Resource the metrics are associated with.
	Resource *ObjectReference `json:"resource"`
	// Edge restricts the metrics to the traffic between Resource and Edge.Resource.
	Edge *Edge `json:"edge"`
	// Backend is set on TrafficSplit metrics: the backend they are about.
	Backend *Backend `json:"backend,omitempty"`
	// Timestamp is the end of the window.
	Timestamp metav1.Time `json:"timestamp"`
	// Window the metrics cover, ending at Timestamp.
	Window metav1.Duration `json:"window"`
	// Metrics: latencies (ms) and counts.
	// +listType=atomic
	Metrics []*Metric `json:"metrics"`
}

// ObjectReference names a Kubernetes object; the JSON of core/v1's
// ObjectReference, which the SDK uses (declared here so that the API's
// OpenAPI models stay small).
type ObjectReference struct {
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// Edge is the other end of the measured traffic.
type Edge struct {
	Direction Direction `json:"direction"`
	Side      Side      `json:"side"`
	// Resource is the peer; empty means all peers.
	Resource *ObjectReference `json:"resource"`
}

// Backend is one backend of a TrafficSplit.
type Backend struct {
	Apex   string `json:"apex"`
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}

// Metric is one named value. A latency without traffic has no value.
type Metric struct {
	Name  string             `json:"name"`
	Unit  string             `json:"unit,omitempty"`
	Value *resource.Quantity `json:"value,omitempty"`
}

// +kubebuilder:object:root=true

// TrafficMetricsList is a list of TrafficMetrics: the resources of a kind, or
// the edges of one resource.
type TrafficMetricsList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Resource says what was listed: a kind (and namespace), or the resource
	// whose edges these are.
	Resource *ObjectReference `json:"resource"`
	Items    []TrafficMetrics `json:"items"`
}
