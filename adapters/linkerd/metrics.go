package linkerd

import "github.com/smi-adapter/smi-adapter/core/metrics"

var _ metrics.Provider = (*Backend)(nil)

// Telemetry implements metrics.Provider.
func (b *Backend) Telemetry() metrics.Telemetry { return Telemetry() }

// Telemetry describes the Linkerd proxy's metrics as linkerd-viz's Prometheus
// scrapes them: response_total{classification, direction} and
// response_latency_ms_bucket. Every series carries the proxy's own resource
// labels (namespace, pod, and deployment, statefulset, … from the pod's
// linkerd.io/proxy-<kind> labels); outbound series add the destination's as
// dst_*. Inbound series do not name the client, so edges come from the
// clients' outbound series. A failure is what the proxy classifies as one
// (classification="failure": 5xx, or a gRPC error status).
func Telemetry() metrics.Telemetry {
	kinds := map[metrics.Kind]string{metrics.Deployments: "deployment", metrics.StatefulSets: "statefulset",
		metrics.DaemonSets: "daemonset", metrics.ReplicationControllers: "replicationcontroller", metrics.Jobs: "job", metrics.Pods: "pod"}
	labels := func(prefix string) map[metrics.Kind]metrics.Labels {
		m := map[metrics.Kind]metrics.Labels{metrics.Namespaces: {Name: prefix + "namespace"}}
		for k, l := range kinds {
			m[k] = metrics.Labels{Namespace: prefix + "namespace", Name: prefix + l}
		}
		return m
	}
	side := func(direction string) metrics.Side {
		return metrics.Side{
			Requests:    "response_total",
			Failures:    metrics.Series{Name: "response_total", Matchers: []metrics.Matcher{{Label: "classification", Op: "=", Value: "failure"}}},
			Latency:     "response_latency_ms_bucket",
			LatencyToMs: 1,
			Filter:      []metrics.Matcher{{Label: "direction", Op: "=", Value: direction}},
		}
	}
	server := side("inbound")
	server.Self = labels("")
	client := side("outbound")
	client.Self = labels("")
	client.Peer = labels("dst_")
	client.Peer[metrics.Services] = metrics.Labels{Namespace: "dst_namespace", Name: "dst_service"}
	return metrics.Telemetry{
		Mesh: "linkerd", Server: server, Client: client,
		Classification: `the proxy's response classification: classification="failure" (5xx, or a gRPC error status) is a failure`,
		Source:         "Linkerd proxy metrics (linkerd.io/2/reference/proxy-metrics); resource labels from linkerd-viz's Prometheus scrape configuration",
	}
}
