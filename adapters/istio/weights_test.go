package istio_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// TestWeightsEnvoyAccepts: three backends with weights near 2^31 summed past
// 2^32-1, which Envoy refuses for the whole route configuration. The weights
// written now sum within int32, keep the ratio as closely as that allows, and
// the approximation is reported on the TrafficSplit.
func TestWeightsEnvoyAccepts(t *testing.T) {
	port := []model.ServicePort{{Port: 80, Protocol: "TCP", AppProtocol: "http"}}
	svc := func(n string) model.Service { return model.Service{Namespace: "ns", Name: n, Ports: port} }
	from := model.ObjectRef{Kind: "TrafficSplit", Namespace: "ns", Name: "s"}
	sp := &model.Split{Root: svc("root"), From: from, Backends: []model.Backend{
		{Service: svc("a"), Weight: math.MaxInt32}, {Service: svc("b"), Weight: math.MaxInt32 - 1}, {Service: svc("c"), Weight: 1 << 30},
	}}
	res := istio.Translate(&model.Slice{Key: model.Key{Kind: model.KeySplit, Namespace: "ns", Name: "root"}, Split: sp}, istio.Options{})
	var vs *networkingv1.VirtualService
	for _, o := range res.Objects {
		if v, ok := o.Obj.(*networkingv1.VirtualService); ok {
			vs = v
		}
	}
	if vs == nil || len(vs.Spec.Http) == 0 {
		t.Fatalf("no VirtualService: %+v", res)
	}
	var sum int64
	var ws []int64
	for _, d := range vs.Spec.Http[0].Route {
		sum += int64(d.Weight)
		ws = append(ws, int64(d.Weight))
	}
	if sum > math.MaxInt32 {
		t.Fatalf("weights %v sum to %d: past int32", ws, sum)
	}
	if ws[0] < ws[1] || ws[1] <= ws[2] || ws[2] == 0 {
		t.Fatalf("weights %v lost the order of 2^31-1, 2^31-2, 2^30", ws)
	}
	found := false
	for _, d := range res.Problems.Diagnostics(from) {
		found = found || (d.Reason == istio.ReasonWeightsApproximated && d.Severity == model.SeverityWarning)
	}
	if !found {
		t.Fatalf("approximation not reported: %+v", res.Problems)
	}
}

// TestMessagesBounded: an UnsupportedMatch quotes at most a bounded piece of
// a regex (a Unicode class written out made a ~6 KB condition message).
func TestMessagesBounded(t *testing.T) {
	from := model.ObjectRef{Kind: "TrafficTarget", Namespace: "ns", Name: "t"}
	var b strings.Builder
	for r := 0x100; r < 0x400; r += 2 {
		fmt.Fprintf(&b, `\x{%X}`, r)
	}
	class := "[" + b.String() + "]+$"
	pol := &model.AccessPolicy{
		Destination: model.Identity{Namespace: "ns", Name: "api"},
		From:        []model.ObjectRef{from},
		Workloads:   model.Workloads{Exact: true, Pods: 1, Selectors: []map[string]string{{"app": "api"}}},
		Grants: []model.Grant{{Source: model.Identity{Namespace: "ns", Name: "web"}, From: []model.ObjectRef{from},
			Rules: []model.Rule{{Protocol: model.ProtocolHTTP, Route: from, Match: "m", HTTP: &model.HTTPMatch{PathRegex: "^(?:/" + class + ").*$"}}}}},
	}
	res := istio.Translate(&model.Slice{Key: model.Key{Kind: model.KeyAccess, Namespace: "ns", Name: "api"}, Access: pol}, istio.Options{})
	ds := res.Problems.Diagnostics(from)
	if len(ds) == 0 {
		t.Fatal("no UnsupportedMatch")
	}
	for _, d := range ds {
		if len(d.Message) > 600 {
			t.Fatalf("message of %d bytes: %.200s", len(d.Message), d.Message)
		}
	}
}
