package linkerdjudge

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// goRegex stands in for Rust's regex crate on the plain regexes below.
type goRegex struct{}

func (goRegex) Match(pattern string, inputs ...string) (bool, string, []harness.RustMatch, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return false, err.Error(), nil, nil
	}
	out := make([]harness.RustMatch, len(inputs))
	for i, in := range inputs {
		loc := re.FindStringIndex(in)
		out[i] = harness.RustMatch{Found: loc != nil, Whole: loc != nil && loc[0] == 0 && loc[1] == len(in)}
	}
	return true, "", out, nil
}

func routeOf(t *testing.T, name, spec string) namedRoute {
	t.Helper()
	var rt route
	if err := json.Unmarshal([]byte(spec), &rt); err != nil {
		t.Fatal(err)
	}
	return namedRoute{name, rt}
}

// TestRankingAsTheProxy: the judge picks a request's route field by field
// as linkerd-http-route does: the path match length (a regex or an exact
// path counts the whole request path whatever its kind, a prefix its own
// length without a trailing /, a rule without matches 1), then a method
// match, then the number of header matches; among equals the first route
// by name, the others tied.
func TestRankingAsTheProxy(t *testing.T) {
	j := &Judge{Regex: goRegex{}}
	cases := []struct {
		name         string
		routes       []namedRoute
		method, path string
		headers      map[string]string
		best         string
		tied         []string
	}{{
		name: "a regex counts the whole path: nested regexes tie",
		routes: []namedRoute{
			routeOf(t, "r0", `{"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"^(?:/api/).*$"}}]}]}`),
			routeOf(t, "r1", `{"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"^(?:/api/v1/).*$"}}]}]}`),
		},
		method: "GET", path: "/api/v1/x", best: "r0", tied: []string{"r1"},
	}, {
		name: "exact and regex of the same path tie",
		routes: []namedRoute{
			routeOf(t, "b", `{"rules":[{"matches":[{"path":{"type":"Exact","value":"/api/v1"}}]}]}`),
			routeOf(t, "a", `{"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"/api/.*"}}]}]}`),
		},
		method: "GET", path: "/api/v1", best: "a", tied: []string{"b"},
	}, {
		name: "a regex outranks a shorter prefix, a prefix counts without its trailing /",
		routes: []namedRoute{
			routeOf(t, "a", `{"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/api/"}, "method":"GET", "headers":[{"name":"x","value":"1","type":"Exact"}]}]}]}`),
			routeOf(t, "b", `{"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"/api/v1"}}]}]}`),
		},
		method: "GET", path: "/api/v1", headers: map[string]string{"x": "1"}, best: "b",
	}, {
		name: "the method before the headers",
		routes: []namedRoute{
			routeOf(t, "a", `{"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/"},"headers":[{"name":"x","value":"1","type":"Exact"},{"name":"y","value":"2","type":"Exact"}]}]}]}`),
			routeOf(t, "b", `{"rules":[{"matches":[{"method":"GET"}]}]}`),
		},
		method: "GET", path: "/z", headers: map[string]string{"x": "1", "y": "2"}, best: "b",
	}, {
		name: "then the number of headers; a rule without matches is /",
		routes: []namedRoute{
			routeOf(t, "a", `{"rules":[{}]}`),
			routeOf(t, "b", `{"rules":[{"matches":[{"headers":[{"name":"x","value":"1","type":"Exact"}]}]}]}`),
		},
		method: "GET", path: "/", headers: map[string]string{"x": "1"}, best: "b",
	}, {
		name: "methods are compared as they are",
		routes: []namedRoute{
			routeOf(t, "a", `{"rules":[{}]}`),
			routeOf(t, "b", `{"rules":[{"matches":[{"method":"GET"}]}]}`),
		},
		method: "get", path: "/", best: "a",
	}}
	for _, c := range cases {
		best, tied := j.bestRoutes(c.routes, c.method, c.path, c.headers)
		var names []string
		for _, r := range tied {
			names = append(names, r.name)
		}
		if best == nil || best.name != c.best || strings.Join(names, ",") != strings.Join(c.tied, ",") {
			t.Errorf("%s: best %v tied %v, want %s tied %v", c.name, best, names, c.best, c.tied)
		}
	}
}

// TestOldNestedGrantsOutput: what the translation wrote before routes were
// planned together — a route per grant, /api/ for a, /api/v1/ for b —
// leaves b's requests to /api/v1/ to the routes' ages: an error of the
// judge, not a verdict. A request no route matches is refused even to a
// source the Server authorizes, and an opaque Server never reaches routes.
func TestOldNestedGrantsOutput(t *testing.T) {
	objs := []string{
		`{"kind":"Server","metadata":{"name":"api-8080","namespace":"default"},"spec":{"podSelector":{"matchLabels":{"app":"api"}},"port":8080,"accessPolicy":"deny","proxyProtocol":"unknown"}}`,
		`{"kind":"Server","metadata":{"name":"api-5432","namespace":"default"},"spec":{"podSelector":{"matchLabels":{"app":"api"}},"port":5432,"accessPolicy":"deny","proxyProtocol":"opaque"}}`,
		`{"kind":"MeshTLSAuthentication","metadata":{"name":"a","namespace":"default"},"spec":{"identityRefs":[{"kind":"ServiceAccount","name":"a"}]}}`,
		`{"kind":"MeshTLSAuthentication","metadata":{"name":"b","namespace":"default"},"spec":{"identityRefs":[{"kind":"ServiceAccount","name":"b"}]}}`,
		`{"kind":"MeshTLSAuthentication","metadata":{"name":"c","namespace":"default"},"spec":{"identityRefs":[{"kind":"ServiceAccount","name":"c"}]}}`,
		`{"kind":"HTTPRoute","metadata":{"name":"api-8080-r0","namespace":"default"},"spec":{"parentRefs":[{"group":"policy.linkerd.io","kind":"Server","name":"api-8080"}],"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"^(?:/api/).*$"}}]}]}}`,
		`{"kind":"HTTPRoute","metadata":{"name":"api-8080-r1","namespace":"default"},"spec":{"parentRefs":[{"group":"policy.linkerd.io","kind":"Server","name":"api-8080"}],"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"^(?:/api/v1/).*$"}}]}]}}`,
		`{"kind":"HTTPRoute","metadata":{"name":"api-5432-r0","namespace":"default"},"spec":{"parentRefs":[{"group":"policy.linkerd.io","kind":"Server","name":"api-5432"}],"rules":[{}]}}`,
		`{"kind":"AuthorizationPolicy","metadata":{"name":"r0","namespace":"default"},"spec":{"targetRef":{"kind":"HTTPRoute","name":"api-8080-r0"},"requiredAuthenticationRefs":[{"kind":"MeshTLSAuthentication","name":"a"}]}}`,
		`{"kind":"AuthorizationPolicy","metadata":{"name":"r1","namespace":"default"},"spec":{"targetRef":{"kind":"HTTPRoute","name":"api-8080-r1"},"requiredAuthenticationRefs":[{"kind":"MeshTLSAuthentication","name":"b"}]}}`,
		`{"kind":"AuthorizationPolicy","metadata":{"name":"l4","namespace":"default"},"spec":{"targetRef":{"kind":"Server","name":"api-8080"},"requiredAuthenticationRefs":[{"kind":"MeshTLSAuthentication","name":"c"}]}}`,
		`{"kind":"AuthorizationPolicy","metadata":{"name":"r5432","namespace":"default"},"spec":{"targetRef":{"kind":"HTTPRoute","name":"api-5432-r0"},"requiredAuthenticationRefs":[{"kind":"MeshTLSAuthentication","name":"b"}]}}`,
	}
	j := &Judge{Regex: goRegex{}, DefaultInbound: "deny"}
	for _, s := range objs {
		var o object
		if err := json.Unmarshal([]byte(s), &o); err != nil {
			t.Fatal(err)
		}
		j.objs = append(j.objs, o)
	}
	j.pods = []*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "api-0", Labels: map[string]string{"app": "api"}}, Spec: corev1.PodSpec{ServiceAccountName: "api"}}}
	req := func(from string, port int32, path string) conformance.AccessRequest {
		return conformance.AccessRequest{From: "default/" + from, To: "default/api", Port: port, Method: "GET", Path: path}
	}
	if _, err := j.Allowed(req("b", 8080, "/api/v1/x")); !errors.As(err, new(*AgeDependentError)) {
		t.Errorf("b GET /api/v1/x: %v, want an AgeDependentError (r0 denies, r1 allows, and they rank the same)", err)
	}
	for _, c := range []struct {
		r    conformance.AccessRequest
		want bool
	}{
		{req("a", 8080, "/api/x"), true},
		{req("b", 8080, "/api/x"), false},
		{req("c", 8080, "/api/x"), true},     // the Server's authorization covers every route
		{req("c", 8080, "/other"), false},    // no route matches: 404
		{req("b", 5432, "/anything"), false}, // opaque: the route never applies
	} {
		if got, err := j.Allowed(c.r); err != nil || got != c.want {
			t.Errorf("%s: %v (%v), want %v", c.r, got, err, c.want)
		}
	}
}

// TestZeroWeightRule: a rule whose backends all weigh 0 is an error, never
// a split to nowhere.
func TestZeroWeightRule(t *testing.T) {
	j := &Judge{Regex: goRegex{}}
	nr := routeOf(t, "web-split", `{"rules":[{"backendRefs":[{"name":"v1","port":80,"weight":0},{"name":"v2","port":80,"weight":0}]}]}`)
	if _, err := j.ruleBackends(nr, conformance.SplitRequest{Root: "default/web", Port: 80, Method: "GET", Path: "/"}); err == nil || !strings.Contains(err.Error(), "never becomes ready") {
		t.Errorf("all backends weigh 0: %v", err)
	}
	nr = routeOf(t, "web-split", `{"rules":[{"backendRefs":[{"name":"v1","port":80,"weight":0},{"name":"v2","port":80}]}]}`)
	if got, err := j.ruleBackends(nr, conformance.SplitRequest{Root: "default/web", Port: 80, Method: "GET", Path: "/"}); err != nil || len(got) != 1 || got["v2"] != 1 {
		t.Errorf("v2 of default weight: %v, %v", got, err)
	}
}

// TestBackendOnAnotherPort: a backendRef whose port is not the request's
// sends the request elsewhere than SMI: an error, never a split.
func TestBackendOnAnotherPort(t *testing.T) {
	j := &Judge{Regex: goRegex{}}
	nr := routeOf(t, "web-split", `{"rules":[{"backendRefs":[{"name":"v1","port":81}]}]}`)
	if _, err := j.ruleBackends(nr, conformance.SplitRequest{Root: "default/web", Port: 80, Method: "GET", Path: "/"}); err == nil || !strings.Contains(err.Error(), "on port 81") {
		t.Errorf("port 81 for port 80: %v", err)
	}
}

// TestRefusesWhatItDoesNotRead: each field or value the judge does not
// evaluate (issue 24's mutants among them) is refused, and what the
// Linkerd backend writes is read.
func TestRefusesWhatItDoesNotRead(t *testing.T) {
	good := map[string]string{
		"Server":                `{"podSelector":{"matchLabels":{"app":"api"}},"port":8080,"accessPolicy":"deny","proxyProtocol":"unknown"}`,
		"AuthorizationPolicy":   `{"targetRef":{"group":"policy.linkerd.io","kind":"HTTPRoute","name":"r"},"requiredAuthenticationRefs":[{"group":"policy.linkerd.io","kind":"MeshTLSAuthentication","name":"m"}]}`,
		"MeshTLSAuthentication": `{"identityRefs":[{"kind":"ServiceAccount","name":"web","namespace":"default"}]}`,
		"NetworkAuthentication": `{"networks":[{"cidr":"0.0.0.0/0"},{"cidr":"::/0"}]}`,
		"HTTPRoute":             `{"parentRefs":[{"group":"policy.linkerd.io","kind":"Server","name":"s"}],"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/"},"method":"GET","headers":[{"type":"Exact","name":"x","value":"1"}]}]}]}`,
	}
	for kind, spec := range good {
		if err := readable(object{Kind: kind, Spec: json.RawMessage(spec)}); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	if err := readable(object{Kind: "HTTPRoute", Spec: json.RawMessage(`{"parentRefs":[{"group":"core","kind":"Service","name":"web","port":80}],"rules":[{"backendRefs":[{"name":"v1","port":80,"weight":1}]}]}`)}); err != nil {
		t.Errorf("split HTTPRoute: %v", err)
	}
	for _, c := range []struct{ kind, spec string }{
		{"MeshTLSAuthentication", `{"identityRefs":[{"kind":"Namespace","name":"default"}]}`},
		{"MeshTLSAuthentication", `{"identities":["*"]}`},
		{"MeshTLSAuthentication", `{"identityRefs":[{"kind":"ServiceAccount","name":"*"}]}`},
		{"HTTPRoute", `{"parentRefs":[{"group":"core","kind":"Server","name":"s"}]}`},
		{"HTTPRoute", `{"parentRefs":[{"group":"policy.linkerd.io","kind":"Server","name":"s","namespace":"other"}]}`},
		{"HTTPRoute", `{"parentRefs":[{"group":"policy.linkerd.io","kind":"Server","name":"s"}],"hostnames":["a"]}`},
		{"HTTPRoute", `{"parentRefs":[{"group":"policy.linkerd.io","kind":"Server","name":"s"}],"rules":[{"filters":[{"type":"RequestHeaderModifier"}]}]}`},
		{"HTTPRoute", `{"parentRefs":[{"group":"policy.linkerd.io","kind":"Server","name":"s"}],"rules":[{"matches":[{"queryParams":[{"name":"a","value":"b"}]}]}]}`},
		{"HTTPRoute", `{"parentRefs":[{"group":"policy.linkerd.io","kind":"Server","name":"s"}],"rules":[{"matches":[{"path":{"type":"Glob","value":"/"}}]}]}`},
		{"HTTPRoute", `{"parentRefs":[{"group":"core","kind":"Service","name":"web","port":80}],"rules":[{"backendRefs":[{"name":"v1","port":80,"namespace":"other"}]}]}`},
		{"HTTPRoute", `{"parentRefs":[{"group":"core","kind":"Service","name":"web","port":80}],"rules":[{"backendRefs":[{"name":"v1"}]}]}`},
		{"HTTPRoute", `{"parentRefs":[{"group":"core","kind":"Service","name":"web"}]}`},
		{"Server", `{"podSelector":{"matchExpressions":[{"key":"app","operator":"Exists"}]},"port":8080,"accessPolicy":"deny"}`},
		{"Server", `{"podSelector":{"matchLabels":{"app":"api"}},"port":8080,"accessPolicy":"deny","proxyProtocol":"HTTP/1"}`},
		{"Server", `{"podSelector":{"matchLabels":{"app":"api"}},"port":8080,"accessPolicy":"all-authenticated"}`},
		{"AuthorizationPolicy", `{"targetRef":{"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"r"},"requiredAuthenticationRefs":[{"group":"policy.linkerd.io","kind":"MeshTLSAuthentication","name":"m"}]}`},
		{"AuthorizationPolicy", `{"targetRef":{"group":"policy.linkerd.io","kind":"Server","name":"s"},"requiredAuthenticationRefs":[{"group":"policy.linkerd.io","kind":"MeshTLSAuthentication","name":"m","namespace":"other"}]}`},
		{"NetworkAuthentication", `{"networks":[{"cidr":"10.0.0.0/8"}]}`},
		{"NetworkAuthentication", `{"networks":[{"cidr":"0.0.0.0/0","except":["10.0.0.0/8"]},{"cidr":"::/0"}]}`},
		{"Service", `{}`},
	} {
		if err := readable(object{Kind: c.kind, Spec: json.RawMessage(c.spec)}); err == nil {
			t.Errorf("%s %s: read as if it were not there", c.kind, c.spec)
		}
	}
}
