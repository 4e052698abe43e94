package istio

import "github.com/smi-adapter/smi-adapter/core/metrics"

var _ metrics.Provider = (*Backend)(nil)

// Telemetry implements metrics.Provider.
func (b *Backend) Telemetry() metrics.Telemetry { return Telemetry() }

// Telemetry describes Istio's standard metrics (telemetry v2, Istio ≥ 1.8):
// istio_requests_total and istio_request_duration_milliseconds, reported by
// both proxies of a request (reporter="destination" at the server,
// reporter="source" at the client). Istio names workloads (the Deployment,
// StatefulSet, … that owns a pod) and services, not their kind; pods come from
// the scrape target's labels (namespace, pod), as Istio's Prometheus
// configuration sets them. A failure is a 5xx response (Istio's and Kiali's
// error rate).
func Telemetry() metrics.Telemetry {
	workload := func(side string) metrics.Labels {
		return metrics.Labels{Namespace: side + "_workload_namespace", Name: side + "_workload"}
	}
	workloads := func(side string) map[metrics.Kind]metrics.Labels {
		m := map[metrics.Kind]metrics.Labels{metrics.Namespaces: {Name: side + "_workload_namespace"}}
		for _, k := range []metrics.Kind{metrics.Deployments, metrics.StatefulSets, metrics.DaemonSets, metrics.ReplicationControllers, metrics.Jobs} {
			m[k] = workload(side)
		}
		return m
	}
	side := func(reporter string) metrics.Side {
		return metrics.Side{
			Requests:    "istio_requests_total",
			Failures:    metrics.Series{Name: "istio_requests_total", Matchers: []metrics.Matcher{{Label: "response_code", Op: "=~", Value: "5.."}}},
			Latency:     "istio_request_duration_milliseconds_bucket",
			LatencyToMs: 1,
			Filter:      []metrics.Matcher{{Label: "reporter", Op: "=", Value: reporter}},
		}
	}
	server := side("destination")
	server.Self = workloads("destination")
	server.Self[metrics.Pods] = metrics.Labels{Namespace: "namespace", Name: "pod"}
	server.Self[metrics.Services] = metrics.Labels{Namespace: "destination_service_namespace", Name: "destination_service_name"}
	server.Peer = workloads("source")
	client := side("source")
	client.Self = workloads("source")
	client.Self[metrics.Pods] = metrics.Labels{Namespace: "namespace", Name: "pod"}
	client.Peer = workloads("destination")
	client.Peer[metrics.Services] = metrics.Labels{Namespace: "destination_service_namespace", Name: "destination_service_name"}
	return metrics.Telemetry{
		Mesh: "istio", Server: server, Client: client,
		Classification: `a response with a 5xx response_code is a failure; everything else succeeds`,
		Source:         "Istio standard metrics (istio.io/latest/docs/reference/config/metrics); pod and namespace labels from the kubernetes-pods scrape job of Istio's Prometheus configuration",
	}
}
