package metrics_test

import (
	"fmt"
	"sort"
	"strings"
)

// The traffic of the test cluster, as three flows over one minute. Each mesh
// records them in its own series (below); every expected value in the tests
// is computed by hand from these numbers.
//
// Samples are written every 10s from T0 to T0+60s; counters grow linearly
// (fractional values where a count per 30s does not divide by three), so over
// the default 30s window ending at T0+60s a flow's increase is exactly
// ok/fail, and over 1m exactly twice that, whether the window's left edge
// holds a sample (Prometheus 2) or not (Prometheus 3's left-open ranges,
// which extrapolate from the samples at +40s..+60s). Latency histograms hold
// the per-30s bucket counts given (le in ms).
const t0 = 1767225600 // 2026-01-01T00:00:00Z

type endpoint struct {
	ns, deployment, pod, service string
}

type flow struct {
	src, dst endpoint
	ok, fail int             // requests per 30s
	buckets  map[float64]int // per 30s, by bucket upper bound (ms)
}

var (
	frontend = endpoint{"shop", "frontend", "frontend-6d4f8-abcde", "frontend"}
	webV1    = endpoint{"shop", "web-v1", "web-v1-7c9d5-xyz12", "web-v1"}
	webV2    = endpoint{"shop", "web-v2", "web-v2-5b8f6-pqr34", "web-v2"}
	loadgen  = endpoint{"tools", "loadgen", "loadgen-77c4b-lmn56", "loadgen"}
)

var flows = []flow{
	{src: frontend, dst: webV1, ok: 90, fail: 3, buckets: map[float64]int{10: 31, 25: 31, 50: 31}},
	{src: frontend, dst: webV2, ok: 9, fail: 1, buckets: map[float64]int{100: 10}},
	{src: loadgen, dst: frontend, ok: 60, fail: 0, buckets: map[float64]int{5: 30, 10: 30}},
}

var les = []float64{5, 10, 25, 50, 100, 250}

// om builds OpenMetrics text.
type om struct {
	families map[string]*family
	order    []string
}

type family struct {
	typ     string
	samples []string
}

func newOM() *om { return &om{families: map[string]*family{}} }

func (o *om) family(name, typ string) *family {
	f, ok := o.families[name]
	if !ok {
		f = &family{typ: typ}
		o.families[name] = f
		o.order = append(o.order, name)
	}
	return f
}

func labelString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, l[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func with(l map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range l {
		out[a] = b
	}
	return out
}

// counter adds a series growing by per30 every 30s.
func (o *om) counter(fam, sample, typ string, labels map[string]string, per30 int) {
	f := o.family(fam, typ)
	for t := 0; t <= 60; t += 10 {
		f.samples = append(f.samples, fmt.Sprintf("%s%s %g %d", sample, labelString(labels), linear(per30, t), t0+t))
	}
}

// linear is a counter's value t seconds in, growing by per30 every 30s.
func linear(per30, t int) float64 { return float64(per30) * float64(t) / 30 }

// histogram adds a histogram whose buckets grow by the flow's counts every 30s.
func (o *om) histogram(fam string, labels map[string]string, buckets map[float64]int) {
	f := o.family(fam, "histogram")
	total, sum := 0, 0.0
	for le, n := range buckets {
		total += n
		sum += le * float64(n)
	}
	for t := 0; t <= 60; t += 10 {
		cum := 0
		for _, le := range les {
			cum += buckets[le]
			f.samples = append(f.samples, fmt.Sprintf("%s_bucket%s %g %d", fam, labelString(with(labels, "le", fmt.Sprint(le))), linear(cum, t), t0+t))
		}
		f.samples = append(f.samples, fmt.Sprintf("%s_bucket%s %g %d", fam, labelString(with(labels, "le", "+Inf")), linear(total, t), t0+t))
		f.samples = append(f.samples, fmt.Sprintf("%s_count%s %g %d", fam, labelString(labels), linear(total, t), t0+t))
		f.samples = append(f.samples, fmt.Sprintf("%s_sum%s %g %d", fam, labelString(labels), sum*float64(t)/30, t0+t))
	}
}

func (o *om) String() string {
	var b strings.Builder
	for _, name := range o.order {
		f := o.families[name]
		fmt.Fprintf(&b, "# TYPE %s %s\n", name, f.typ)
		// Samples of one series must be contiguous: group by series.
		sort.SliceStable(f.samples, func(i, j int) bool { return seriesOf(f.samples[i]) < seriesOf(f.samples[j]) })
		for _, s := range f.samples {
			b.WriteString(s + "\n")
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func seriesOf(sample string) string {
	return sample[:strings.LastIndex(sample[:strings.LastIndex(sample, " ")], " ")]
}

// istioData: every request reported twice, by the client's proxy
// (reporter="source") and by the server's (reporter="destination"); the
// scrape adds the reporting pod's namespace and pod.
func istioData() []byte {
	o := newOM()
	for _, f := range flows {
		for _, reporter := range []string{"source", "destination"} {
			at := f.dst
			if reporter == "source" {
				at = f.src
			}
			l := map[string]string{"reporter": reporter,
				"source_workload": f.src.deployment, "source_workload_namespace": f.src.ns, "source_app": f.src.deployment,
				"destination_workload": f.dst.deployment, "destination_workload_namespace": f.dst.ns,
				"destination_service":      f.dst.service + "." + f.dst.ns + ".svc.cluster.local",
				"destination_service_name": f.dst.service, "destination_service_namespace": f.dst.ns,
				"request_protocol": "http", "connection_security_policy": "mutual_tls",
				"namespace": at.ns, "pod": at.pod}
			o.counter("istio_requests", "istio_requests_total", "counter", with(l, "response_code", "200"), f.ok)
			o.counter("istio_requests", "istio_requests_total", "counter", with(l, "response_code", "503"), f.fail)
			o.histogram("istio_request_duration_milliseconds", with(l, "response_code", "200"), f.buckets)
		}
	}
	return []byte(o.String())
}

// linkerdData: inbound series at the server's proxy (its own resource
// labels), outbound at the client's (its own labels plus dst_*).
func linkerdData() []byte {
	o := newOM()
	own := func(e endpoint) map[string]string {
		return map[string]string{"namespace": e.ns, "pod": e.pod, "deployment": e.deployment, "pod_template_hash": strings.Split(e.pod, "-")[len(strings.Split(e.pod, "-"))-2]}
	}
	for _, f := range flows {
		in := own(f.dst)
		in["direction"], in["tls"], in["authority"] = "inbound", "true", f.dst.service+"."+f.dst.ns+".svc.cluster.local:8080"
		out := own(f.src)
		out["direction"], out["tls"], out["authority"] = "outbound", "true", f.dst.service+"."+f.dst.ns+".svc.cluster.local:8080"
		out["dst_namespace"], out["dst_deployment"], out["dst_pod"], out["dst_service"] = f.dst.ns, f.dst.deployment, f.dst.pod, f.dst.service
		for _, l := range []map[string]string{in, out} {
			o.counter("response", "response_total", "counter", with(with(l, "classification", "success"), "status_code", "200"), f.ok)
			o.counter("response", "response_total", "counter", with(with(l, "classification", "failure"), "status_code", "503"), f.fail)
			o.histogram("response_latency_ms", with(l, "status_code", "200"), f.buckets)
		}
	}
	return []byte(o.String())
}

// consulData: the client's Envoy counts upstream requests per destination
// cluster; the server's Envoy counts them on its public listener.
func consulData() []byte {
	o := newOM()
	proxy := func(e endpoint) map[string]string {
		return map[string]string{"local_cluster": e.service, "consul_source_service": e.service, "consul_source_namespace": "default",
			"consul_source_partition": "default", "consul_source_datacenter": "dc1", "namespace": e.ns, "pod": e.pod}
	}
	for _, f := range flows {
		up := proxy(f.src)
		up["envoy_cluster_name"] = f.dst.service
		up["consul_destination_service"], up["consul_destination_namespace"], up["consul_destination_datacenter"] = f.dst.service, "default", "dc1"
		o.counter("envoy_cluster_upstream_rq", "envoy_cluster_upstream_rq_total", "counter", up, f.ok+f.fail)
		o.counter("envoy_cluster_upstream_rq_xx", "envoy_cluster_upstream_rq_xx", "unknown", with(up, "envoy_response_code_class", "2"), f.ok)
		o.counter("envoy_cluster_upstream_rq_xx", "envoy_cluster_upstream_rq_xx", "unknown", with(up, "envoy_response_code_class", "5"), f.fail)
		o.histogram("envoy_cluster_upstream_rq_time", up, f.buckets)
		down := with(proxy(f.dst), "envoy_http_conn_manager_prefix", "public_listener")
		o.counter("envoy_http_downstream_rq", "envoy_http_downstream_rq_total", "counter", down, f.ok+f.fail)
		o.counter("envoy_http_downstream_rq_xx", "envoy_http_downstream_rq_xx", "unknown", with(down, "envoy_response_code_class", "2"), f.ok)
		o.counter("envoy_http_downstream_rq_xx", "envoy_http_downstream_rq_xx", "unknown", with(down, "envoy_response_code_class", "5"), f.fail)
		o.histogram("envoy_http_downstream_rq_time", down, f.buckets)
	}
	return []byte(o.String())
}
