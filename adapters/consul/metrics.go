package consul

import "github.com/smi-adapter/smi-adapter/core/metrics"

var _ metrics.Provider = (*Backend)(nil)

// Telemetry implements metrics.Provider.
func (b *Backend) Telemetry() metrics.Telemetry { return Telemetry() }

// Telemetry describes the Envoy statistics of Consul's service mesh, as
// Consul's Envoy bootstrap tags them (command/connect/envoy/
// bootstrap_config.go): every series of a proxy carries local_cluster and
// consul_source_service (the proxy's own service); upstream cluster series
// carry consul_destination_service, parsed from the cluster name. The serving
// side is the inbound HTTP connection manager, whose stat prefix Consul sets
// to public_listener (agent/xds/listeners.go). Pods and namespaces come from
// the scrape target's labels (namespace, pod). Envoy's histograms are in ms.
// A failure is a 5xx (envoy_response_code_class="5").
//
// In Consul's free edition every Kubernetes namespace shares one Consul
// namespace, so a destination service is named by its name only.
func Telemetry() metrics.Telemetry {
	failures := func(name string) metrics.Series {
		return metrics.Series{Name: name, Matchers: []metrics.Matcher{{Label: "envoy_response_code_class", Op: "=", Value: "5"}}}
	}
	server := metrics.Side{
		Requests: "envoy_http_downstream_rq_total", Failures: failures("envoy_http_downstream_rq_xx"),
		Latency: "envoy_http_downstream_rq_time_bucket", LatencyToMs: 1,
		Filter: []metrics.Matcher{{Label: "envoy_http_conn_manager_prefix", Op: "=", Value: "public_listener"}},
		Self: map[metrics.Kind]metrics.Labels{
			metrics.Namespaces: {Name: "namespace"},
			metrics.Pods:       {Namespace: "namespace", Name: "pod"},
			metrics.Services:   {Namespace: "namespace", Name: "consul_source_service"},
		},
	}
	client := metrics.Side{
		Requests: "envoy_cluster_upstream_rq_total", Failures: failures("envoy_cluster_upstream_rq_xx"),
		Latency: "envoy_cluster_upstream_rq_time_bucket", LatencyToMs: 1,
		Filter: []metrics.Matcher{{Label: "consul_destination_service", Op: "!=", Value: ""}},
		Self: map[metrics.Kind]metrics.Labels{
			metrics.Namespaces: {Name: "namespace"},
			metrics.Pods:       {Namespace: "namespace", Name: "pod"},
			metrics.Services:   {Namespace: "namespace", Name: "consul_source_service"},
		},
		Peer: map[metrics.Kind]metrics.Labels{metrics.Services: {Name: "consul_destination_service"}},
	}
	return metrics.Telemetry{
		Mesh: "consul", Server: server, Client: client,
		Classification: `a 5xx response (envoy_response_code_class="5") is a failure`,
		Source:         "Envoy statistics with the tags of Consul's Envoy bootstrap (local_cluster, consul_source_service, consul_destination_service); pod and namespace labels from the Prometheus scrape job",
	}
}
