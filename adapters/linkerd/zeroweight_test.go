package linkerd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
)

// services writes a Service per "name:port,port" entry.
func services(specs ...string) string {
	var docs []string
	for _, s := range specs {
		name, ports, _ := strings.Cut(s, ":")
		var ps []string
		for _, p := range strings.Split(ports, ",") {
			ps = append(ps, fmt.Sprintf("{name: p%s, port: %s}", p, p))
		}
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec: {ports: [%s]}\n", name, strings.Join(ps, ", ")))
	}
	return strings.Join(docs, "---\n")
}

// TestZeroWeightPortStaysOnRoot: a port of the root whose serving backends
// all weigh 0 (Argo Rollouts at 100% on a canary without the admin port)
// gets no HTTPRoute — Linkerd's proxy drops weight-0 backends and a
// distribution with none never becomes ready, so each request would hang —
// and stays on the root, with or without matches, in either split mode;
// the other ports are split. Linkerd's judge errs on a rule without a
// backend of weight above 0 (as the old translation wrote), and no rule
// written has one.
func TestZeroWeightPortStaysOnRoot(t *testing.T) {
	beta := "apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: beta}\nspec:\n  matches: [{name: beta, pathRegex: /beta, methods: [GET]}]\n---\n"
	cases := []struct {
		name    string
		opts    linkerd.Options
		objects string
		split   []conformance.SplitRequest
	}{{
		name: "argo canary without the admin port",
		objects: "apiVersion: split.smi-spec.io/v1alpha2\nkind: TrafficSplit\nmetadata: {name: web}\nspec:\n  service: web\n  backends: [{service: web-stable, weight: 0}, {service: web-canary, weight: 100}]\n---\n" +
			services("web:8080,9990", "web-stable:8080,9990", "web-canary:8080"),
		split: []conformance.SplitRequest{
			{Root: "default/web", Port: 9990, Method: "GET", Path: "/admin", Backends: map[string]int64{"web": 1}},
			{Root: "default/web", Port: 8080, Method: "GET", Path: "/", Backends: map[string]int64{"web-canary": 1}},
		},
	}, {
		name: "with matches",
		objects: "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: web}\nspec:\n  service: web\n  matches: [{kind: HTTPRouteGroup, name: beta}]\n  backends: [{service: web-stable, weight: 0}, {service: web-canary, weight: 3}]\n---\n" +
			beta + services("web:8080,9990", "web-stable:8080,9990", "web-canary:8080"),
		split: []conformance.SplitRequest{
			{Root: "default/web", Port: 9990, Method: "GET", Path: "/beta", Backends: map[string]int64{"web": 1}},
			{Root: "default/web", Port: 8080, Method: "GET", Path: "/beta", Backends: map[string]int64{"web-canary": 1}},
			{Root: "default/web", Port: 8080, Method: "GET", Path: "/", Backends: map[string]int64{"web": 1}},
		},
	}, {
		name: "splits=httproute, two zero-weight backends on a port",
		opts: linkerd.Options{Splits: linkerd.SplitsHTTPRoute},
		objects: "apiVersion: split.smi-spec.io/v1alpha2\nkind: TrafficSplit\nmetadata: {name: web}\nspec:\n  service: web\n  backends: [{service: a, weight: 0}, {service: b, weight: 0}, {service: c, weight: 2}]\n---\n" +
			services("web:80,81", "a:80,81", "b:81", "c:80"),
		split: []conformance.SplitRequest{
			{Root: "default/web", Port: 81, Method: "GET", Path: "/", Backends: map[string]int64{"web": 1}},
			{Root: "default/web", Port: 80, Method: "GET", Path: "/", Backends: map[string]int64{"c": 1}},
		},
	}, {
		name: "splits=httproute with matches, zero and positive weights on one port",
		opts: linkerd.Options{Splits: linkerd.SplitsHTTPRoute},
		objects: "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: web}\nspec:\n  service: web\n  matches: [{kind: HTTPRouteGroup, name: beta}]\n  backends: [{service: a, weight: 0}, {service: c, weight: 2}]\n---\n" +
			beta + services("web:80,81", "a:80,81", "c:80"),
		split: []conformance.SplitRequest{
			{Root: "default/web", Port: 81, Method: "GET", Path: "/beta", Backends: map[string]int64{"web": 1}},
			{Root: "default/web", Port: 80, Method: "GET", Path: "/beta", Backends: map[string]int64{"c": 1}},
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := load(t, c.objects, c.opts)
			for _, rt := range w.routes() {
				for i, rule := range rt.Spec.Rules {
					var total int32
					for _, b := range rule.BackendRefs {
						total += *b.Weight
					}
					if total == 0 {
						t.Errorf("HTTPRoute %s rule %d: no backend of weight above 0 (%d backendRefs): its requests would hang", rt.Name, i, len(rule.BackendRefs))
					}
				}
			}
			for _, r := range c.split {
				got, err := w.linkerd.Split(r)
				if err != nil {
					t.Errorf("%s: %v", r, err)
					continue
				}
				if !conformance.SameRatios(got, r.Backends) {
					t.Errorf("%s: Linkerd splits %v, want %v", r, got, r.Backends)
				}
			}
			if port := c.split[0].Port; !w.hasDiagnostic("NoTraffic", fmt.Sprintf("port %d", port)) {
				t.Errorf("no NoTraffic diagnostic names port %d, left on the root", port)
			}
		})
	}
}
