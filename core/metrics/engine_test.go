package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	prommodel "github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	metricsv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/metrics/v1alpha1"
)

// queries answers each PromQL query from a table (a unit-test stand-in for
// Prometheus; the real server is in integration/metrics).
type queries struct {
	answers []answer // the first whose substring the query contains
	err     error
}

type answer struct {
	sub string
	v   float64
}

func (q queries) Query(_ context.Context, query string, _ time.Time) (prommodel.Vector, error) {
	if q.err != nil {
		return nil, q.err
	}
	for _, a := range q.answers {
		if strings.Contains(query, a.sub) {
			return prommodel.Vector{{Metric: prommodel.Metric{"ns": "a", "workload": "web"}, Value: prommodel.SampleValue(a.v)}}, nil
		}
	}
	return nil, nil
}

func testTelemetry() Telemetry {
	side := Side{Requests: "req_total", Failures: Series{Name: "req_total", Matchers: []Matcher{{"code", "=~", "5.."}}},
		Latency: "lat_seconds_bucket", LatencyToMs: 1000,
		Self: map[Kind]Labels{Deployments: {"ns", "workload"}}}
	return Telemetry{Mesh: "test", Server: side}
}

func engine(t *testing.T, q Querier) *Engine {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web"}}).Build()
	return &Engine{Telemetry: testTelemetry(), Prometheus: q, Pods: c, Objects: c, Now: func() time.Time { return time.Unix(100, 0) }}
}

func metricValues(tm *metricsv1alpha1.TrafficMetrics) map[string]string {
	out := map[string]string{}
	for _, m := range tm.Metrics {
		out[m.Name] = "-"
		if m.Value != nil {
			out[m.Name] = m.Value.String()
		}
	}
	return out
}

func TestAssembly(t *testing.T) {
	r := Request{Kind: Deployments, Namespace: "a", Name: "web"}
	cases := []struct {
		name    string
		answers []answer
		want    string
	}{
		// Counts are rounded (increase extrapolates); latency converted to ms with µs precision.
		{"traffic", []answer{{"code=~", 2.6}, {"req_total{", 10.4}, {"0.99,", 0.25}, {"0.9,", 0.1}, {"0.5,", 0.0123456}},
			"failure_count=3 p50_response_latency=12346m p90_response_latency=100 p99_response_latency=250 success_count=8"},
		// No traffic: zero counts, latencies without a value.
		{"none", nil, "failure_count=0 p50_response_latency=- p90_response_latency=- p99_response_latency=- success_count=0"},
		// NaN quantiles (no buckets) carry no value; failures above the total never make success negative.
		{"nan", []answer{{"code=~", 5}, {"req_total{", 4}, {"0.99,", math.NaN()}},
			"failure_count=5 p50_response_latency=- p90_response_latency=- p99_response_latency=- success_count=0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm, err := engine(t, queries{answers: c.answers}).Get(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			v := metricValues(tm)
			got := fmt.Sprintf("failure_count=%s p50_response_latency=%s p90_response_latency=%s p99_response_latency=%s success_count=%s",
				v["failure_count"], v["p50_response_latency"], v["p90_response_latency"], v["p99_response_latency"], v["success_count"])
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	e := engine(t, queries{err: fmt.Errorf("%w: dial tcp: connection refused", ErrUnavailable)})
	_, err := e.Get(ctx, Request{Kind: Deployments, Namespace: "a", Name: "web"})
	if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Prometheus down: %v, want 503 with the reason", err)
	}
	e = engine(t, queries{err: errors.New("bad_data: parse error")})
	if _, err := e.Get(ctx, Request{Kind: Deployments, Namespace: "a", Name: "web"}); !apierrors.IsInternalError(err) {
		t.Errorf("rejected query: %v, want 500", err)
	}
	e = engine(t, queries{})
	if _, err := e.Get(ctx, Request{Kind: Deployments, Namespace: "a", Name: "nope"}); !apierrors.IsNotFound(err) {
		t.Errorf("unknown deployment: %v, want 404", err)
	}
	if _, err := e.Edges(ctx, Request{Kind: Deployments, Namespace: "a", Name: "web"}); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "not available") {
		t.Errorf("edges the telemetry cannot name: %v, want 404 not available", err)
	}
	if _, err := e.Get(ctx, Request{Kind: Services, Namespace: "a", Name: "web"}); !apierrors.IsNotFound(err) {
		t.Errorf("a kind without labels or pods: %v, want 404", err)
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]string{"": "30s", "30s": "30s", "5m": "5m0s", "1h30m": "1h30m0s", "1d": "24h0m0s", "1.5m": "1m30s"} {
		d, err := ParseWindow(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseWindow(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"soon", "10ms", "-5m", "0s"} {
		if _, err := ParseWindow(in); err == nil {
			t.Errorf("ParseWindow(%q): no error", in)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := (Matcher{"a", "=", `x"y\z`}).String(); got != `a="x\"y\\z"` {
		t.Errorf("matcher: %s", got)
	}
	if got := regexAlternation([]string{"b.c", "a"}); got != `a|b\.c` {
		t.Errorf("alternation: %s", got)
	}
}
