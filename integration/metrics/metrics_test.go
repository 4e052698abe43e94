package metrics_test

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	metricsv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/metrics/v1alpha1"
	"github.com/smi-adapter/smi-adapter/core/metrics"
)

// want are the metrics expected for a resource or edge, computed by hand
// from the flows (data_test.go). Latencies in ms; NaN: no value.
type want struct {
	ok, fail      float64
	p50, p90, p99 float64
}

var nan = math.NaN()

var (
	// frontend -> web-v1: 90 ok, 3 failed; buckets 31 ≤10ms, 31 ≤25ms, 31 ≤50ms (93).
	// p50: rank 46.5 in (10,25]: 10+15·(46.5−31)/31 = 17.5; p90: rank 83.7 in (25,50]:
	// 25+25·(83.7−62)/31 = 42.5; p99: rank 92.07: 25+25·(92.07−62)/31 = 49.25.
	f1 = want{90, 3, 17.5, 42.5, 49.25}
	// frontend -> web-v2: 9 ok, 1 failed; 10 in (50,100]: 50+50·q.
	f2 = want{9, 1, 75, 95, 99.5}
	// loadgen -> frontend: 60 ok; 30 ≤5ms, 30 ≤10ms. p50: rank 30 in (0,5]: 5;
	// p90: rank 54: 5+5·24/30 = 9; p99: rank 59.4: 5+5·29.4/30 = 9.9.
	f3 = want{60, 0, 5, 9, 9.9}
	// Everything served in shop (= node-a): f1+f2+f3, 163 requests; cumulative
	// buckets 5:30 10:91 25:122 50:153 100:163. p50: rank 81.5: 5+5·51.5/61;
	// p90: rank 146.7: 25+25·24.7/31; p99: rank 161.37: 50+50·8.37/10.
	shop = want{159, 4, 5 + 5*51.5/61, 25 + 25*24.7/31, 91.85}
	// All traffic to the split's backends: f1+f2, 103 requests; cumulative
	// 10:31 25:62 50:93 100:103. p50: rank 51.5: 10+15·20.5/31; p90: rank
	// 92.7: 25+25·30.7/31; p99: rank 101.97: 50+50·8.97/10.
	splitTotal = want{99, 4, 10 + 15*20.5/31, 25 + 25*30.7/31, 94.85}
	none       = want{0, 0, nan, nan, nan}
	// f1 over 1m: counts double, the distribution is the same.
	f1Minute = want{180, 6, 17.5, 42.5, 49.25}
)

func check(t *testing.T, what string, tm metricsv1alpha1.TrafficMetrics, w want) {
	t.Helper()
	got := map[string]*metricsv1alpha1.Metric{}
	for _, m := range tm.Metrics {
		got[m.Name] = m
	}
	expect := map[string]float64{metricsv1alpha1.SuccessCount: w.ok, metricsv1alpha1.FailureCount: w.fail,
		metricsv1alpha1.P50ResponseLatency: w.p50, metricsv1alpha1.P90ResponseLatency: w.p90, metricsv1alpha1.P99ResponseLatency: w.p99}
	for name, v := range expect {
		m, ok := got[name]
		if !ok {
			t.Errorf("%s: no %s", what, name)
			continue
		}
		if strings.HasSuffix(name, "latency") && m.Unit != "ms" {
			t.Errorf("%s: %s unit %q, want ms", what, name, m.Unit)
		}
		if math.IsNaN(v) {
			if m.Value != nil {
				t.Errorf("%s: %s = %s, want no value", what, name, m.Value)
			}
			continue
		}
		if m.Value == nil {
			t.Errorf("%s: %s has no value, want %g", what, name, v)
			continue
		}
		if d := m.Value.MilliValue() - int64(math.Round(v*1000)); d < -1 || d > 1 {
			t.Errorf("%s: %s = %s, want %g", what, name, m.Value, v)
		}
	}
}

// meshCase is what one mesh's telemetry can answer.
type meshCase struct {
	tel  metrics.Telemetry
	data func() []byte
	// sides the resource metrics of services and deployments are measured on.
	serviceSide, deploymentSide metricsv1alpha1.Side
	// edges of deployments (or, without, of services), with each edge's side.
	edgeKind  string
	edgeFrom  metricsv1alpha1.Side
	peerNS    map[string]string // peer -> namespace the mesh reports
	noEdgesOf string            // a kind whose edges the mesh cannot name
}

var meshes = map[string]meshCase{
	"istio": {tel: istio.Telemetry(), data: istioData, serviceSide: "server", deploymentSide: "server",
		edgeKind: "deployments", edgeFrom: "server", peerNS: map[string]string{"loadgen": "tools", "web-v1": "shop", "web-v2": "shop"},
		noEdgesOf: "services"},
	"linkerd": {tel: linkerd.Telemetry(), data: linkerdData, serviceSide: "client", deploymentSide: "server",
		edgeKind: "deployments", edgeFrom: "client", peerNS: map[string]string{"loadgen": "tools", "web-v1": "shop", "web-v2": "shop"},
		noEdgesOf: "replicasets"},
	"consul": {tel: consul.Telemetry(), data: consulData, serviceSide: "server", deploymentSide: "server",
		edgeKind: "services", edgeFrom: "client", peerNS: map[string]string{"loadgen": "tools", "web-v1": "", "web-v2": ""},
		noEdgesOf: "deployments"},
}

const api = "/apis/metrics.smi-spec.io/v1alpha1"

// TestTrafficMetrics: for each mesh, every kind and edge through the real
// apiserver's aggregation layer, checked against the hand-computed values.
func TestTrafficMetrics(t *testing.T) {
	names := []string{"istio", "linkerd", "consul"}
	for _, name := range names {
		mc := meshes[name]
		t.Run(name, func(t *testing.T) {
			m := serveMesh(t, mc.tel, mc.data())
			_ = m
			get := func(path string, params map[string]string) metricsv1alpha1.TrafficMetrics {
				t.Helper()
				var tm metricsv1alpha1.TrafficMetrics
				if err := getJSON(env.Config, api+path, params, &tm); err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				if tm.Kind != "TrafficMetrics" || tm.Window.Duration == 0 || tm.Timestamp.Unix() != at.Unix() {
					t.Errorf("GET %s: kind %q window %s timestamp %s", path, tm.Kind, tm.Window.Duration, tm.Timestamp)
				}
				return tm
			}
			list := func(path string, params map[string]string) metricsv1alpha1.TrafficMetricsList {
				t.Helper()
				var l metricsv1alpha1.TrafficMetricsList
				if err := getJSON(env.Config, api+path, params, &l); err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				return l
			}

			t.Run("discovery", func(t *testing.T) {
				var rl metav1.APIResourceList
				if err := getJSON(env.Config, api, nil, &rl); err != nil {
					t.Fatal(err)
				}
				got := map[string]string{}
				for _, r := range rl.APIResources {
					got[r.Name] = fmt.Sprintf("%s namespaced=%v %v", r.Kind, r.Namespaced, r.Verbs)
				}
				for _, k := range metrics.AllKinds {
					if want := fmt.Sprintf("TrafficMetrics namespaced=%v [get list]", k.Namespaced()); got[string(k)] != want {
						t.Errorf("%s: %q, want %q", k, got[string(k)], want)
					}
					if _, ok := got[string(k)+"/edges"]; !ok {
						t.Errorf("%s/edges missing", k)
					}
				}
			})

			t.Run("resources", func(t *testing.T) {
				dep := get("/namespaces/shop/deployments/web-v1", nil)
				check(t, "deployment web-v1", dep, f1)
				if dep.Resource.Kind != "Deployment" || dep.Resource.Name != "web-v1" || dep.Edge.Direction != "from" || dep.Edge.Side != mc.deploymentSide {
					t.Errorf("deployment web-v1: resource %+v edge %+v", dep.Resource, dep.Edge)
				}
				check(t, "deployment web-v2", get("/namespaces/shop/deployments/web-v2", nil), f2)
				check(t, "deployment frontend", get("/namespaces/shop/deployments/frontend", nil), f3)
				check(t, "deployment loadgen (sends only)", get("/namespaces/tools/deployments/loadgen", nil), none)
				check(t, "pod of web-v1", get("/namespaces/shop/pods/"+webV1.pod, nil), f1)
				check(t, "replicaset web-v1-7c9d5 (its pod)", get("/namespaces/shop/replicasets/web-v1-7c9d5", nil), f1)
				check(t, "node-a (its pods)", get("/nodes/node-a", nil), shop)
				check(t, "node-b", get("/nodes/node-b", nil), none)
				check(t, "namespace shop", get("/namespaces/shop", nil), shop)
				check(t, "namespace tools", get("/namespaces/tools", nil), none)
				svc := get("/namespaces/shop/services/web-v1", nil)
				check(t, "service web-v1", svc, f1)
				if svc.Edge.Side != mc.serviceSide {
					t.Errorf("service web-v1 measured at %s, want %s", svc.Edge.Side, mc.serviceSide)
				}
				check(t, "service frontend", get("/namespaces/shop/services/frontend", nil), f3)
				check(t, "deployment web-v1 over 1m", get("/namespaces/shop/deployments/web-v1", map[string]string{"window": "1m"}), f1Minute)
			})

			t.Run("lists", func(t *testing.T) {
				byName := func(l metricsv1alpha1.TrafficMetricsList) map[string]metricsv1alpha1.TrafficMetrics {
					out := map[string]metricsv1alpha1.TrafficMetrics{}
					for _, it := range l.Items {
						out[it.Resource.Name] = it
					}
					return out
				}
				l := byName(list("/namespaces/shop/deployments", nil))
				if len(l) != 3 {
					t.Errorf("deployments in shop: %v, want frontend, web-v1, web-v2", keys(l))
				}
				check(t, "list: web-v1", l["web-v1"], f1)
				check(t, "list: web-v2", l["web-v2"], f2)
				check(t, "list: frontend", l["frontend"], f3)
				sel := byName(list("/namespaces/shop/deployments", map[string]string{"labelSelector": "app=web"}))
				if len(sel) != 2 || sel["web-v1"].Resource == nil || sel["web-v2"].Resource == nil {
					t.Errorf("deployments app=web: %v, want web-v1, web-v2", keys(sel))
				}
				if all := byName(list("/deployments", nil)); len(all) != 3 {
					t.Errorf("deployments in all namespaces: %v (loadgen served nothing)", keys(all))
				}
				pods := byName(list("/namespaces/shop/pods", nil))
				check(t, "list: pod of web-v2", pods[webV2.pod], f2)
				ns := byName(list("/namespaces", nil))
				check(t, "list: namespace shop", ns["shop"], shop)
				if _, ok := ns["tools"]; ok {
					t.Error("namespace tools served nothing: not listed")
				}
				if l := list("/namespaces/shop/jobs", nil); len(l.Items) != 0 {
					t.Errorf("jobs: %d items, want none", len(l.Items))
				}
				if l := list("/namespaces/tools/services", nil); len(l.Items) != 0 {
					t.Errorf("services in tools: %d items, want none (no traffic is an empty list)", len(l.Items))
				}
			})

			t.Run("trafficsplit", func(t *testing.T) {
				total := get("/namespaces/shop/trafficsplits/web", nil)
				check(t, "split web (all backends)", total, splitTotal)
				if total.Resource.Kind != "TrafficSplit" || total.Backend != nil {
					t.Errorf("split total: resource %+v backend %+v", total.Resource, total.Backend)
				}
				for _, path := range []string{"/namespaces/shop/trafficsplits/web/edges", "/namespaces/shop/trafficsplits"} {
					l := list(path, nil)
					got := map[string]metricsv1alpha1.TrafficMetrics{}
					for _, it := range l.Items {
						if it.Backend == nil {
							t.Fatalf("%s: item without backend", path)
						}
						got[fmt.Sprintf("%s/%s/%d", it.Backend.Apex, it.Backend.Name, it.Backend.Weight)] = it
						if it.Edge.Direction != "from" || it.Edge.Side != "client" {
							t.Errorf("%s: edge %+v, want from/client", path, it.Edge)
						}
					}
					check(t, path+" web-v1", got["web/web-v1/90"], f1)
					check(t, path+" web-v2", got["web/web-v2/10"], f2)
					if len(got) != 2 {
						t.Errorf("%s: %v", path, keys(got))
					}
				}
			})

			t.Run("edges", func(t *testing.T) {
				l := list("/namespaces/shop/"+mc.edgeKind+"/frontend/edges", nil)
				got := map[string]metricsv1alpha1.TrafficMetrics{}
				for _, it := range l.Items {
					got[string(it.Edge.Direction)+" "+it.Edge.Resource.Namespace+"/"+it.Edge.Resource.Name] = it
				}
				from := "from tools/loadgen"
				check(t, from, got[from], f3)
				if got[from].Edge != nil && got[from].Edge.Side != mc.edgeFrom {
					t.Errorf("%s measured at %s, want %s", from, got[from].Edge.Side, mc.edgeFrom)
				}
				to1 := "to " + mc.peerNS["web-v1"] + "/web-v1"
				to2 := "to " + mc.peerNS["web-v2"] + "/web-v2"
				check(t, to1, got[to1], f1)
				check(t, to2, got[to2], f2)
				if got[to1].Edge != nil && got[to1].Edge.Side != "client" {
					t.Errorf("%s measured at %s, want client", to1, got[to1].Edge.Side)
				}
				if len(got) != 3 {
					t.Errorf("edges of frontend: %v", keys(got))
				}
				// Edges exist only between resources that exchanged traffic.
				if l := list("/namespaces/shop/"+mc.edgeKind+"/web-v2/edges", nil); len(l.Items) != 1 {
					t.Errorf("edges of web-v2: %d, want 1 (from frontend)", len(l.Items))
				}
				body, err := raw(env.Config, api+"/namespaces/shop/"+mc.noEdgesOf+"/web-v1/edges", nil)
				if code := statusCode(err); code != 404 || !strings.Contains(string(body), "not available") {
					t.Errorf("edges of %s: %s (code %d), want 404 not available", mc.noEdgesOf, body, code)
				}
			})

			t.Run("errors", func(t *testing.T) {
				for _, c := range []struct {
					path   string
					params map[string]string
					code   int
				}{
					{"/namespaces/shop/deployments/nope", nil, 404},
					{"/namespaces/shop/trafficsplits/nope", nil, 404},
					{"/namespaces/shop/deployments/web-v1", map[string]string{"window": "soon"}, 400},
					{"/namespaces/shop/deployments/web-v1", map[string]string{"window": "10ms"}, 400},
				} {
					_, err := raw(env.Config, api+c.path, c.params)
					if got := statusCode(err); got != c.code {
						t.Errorf("GET %s %v: %v (code %d), want %d", c.path, c.params, err, got, c.code)
					}
				}
			})
		})
	}
}

// get reads one TrafficMetrics through the apiserver.
func get(t *testing.T, path string) metricsv1alpha1.TrafficMetrics {
	t.Helper()
	var tm metricsv1alpha1.TrafficMetrics
	if err := getJSON(env.Config, path, nil, &tm); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return tm
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
