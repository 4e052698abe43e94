package linkerd_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
)

// grantSpec is one HTTP match granted to one source on api:8080.
type grantSpec struct {
	source, path, methods, header string // header "name: regex" or ""
}

// overlapPool: matches that nest in, overlap and avoid each other.
var overlapPool = []grantSpec{
	{path: "/api/", methods: "*"},
	{path: "/api/v1/", methods: "GET"},
	{path: "/api/v1/", methods: "*"},
	{path: "/api/v[0-9]+/", methods: "*"},
	{path: "/api/v1/items", methods: "GET, POST"},
	{path: "/api/.*", methods: "GET"},
	{methods: "GET"},
	{methods: "*", header: "x-env: prod.*"},
	{path: "/api/", methods: "*", header: "x-env: prod"},
	{path: ".*", methods: "*"},
	{path: "/", methods: "POST"},
	{path: "/a", methods: "*"},
	{path: "/admin", methods: "DELETE"},
}

// overlapScenario: a TrafficTarget per grant (its own route group), an
// optional TCPRoute (all traffic on 8080) for l4, and the pods.
func overlapScenario(grants []grantSpec, l4 string) string {
	var docs []string
	for i, g := range grants {
		m := fmt.Sprintf("{name: m, methods: [%s]", quoteMethods(g.methods))
		if g.path != "" {
			m += fmt.Sprintf(", pathRegex: %q", g.path)
		}
		if g.header != "" {
			name, re, _ := strings.Cut(g.header, ": ")
			m += fmt.Sprintf(", headers: {%s: %q}", name, re)
		}
		m += "}"
		docs = append(docs, fmt.Sprintf(`apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: g%d, namespace: default}
spec: {matches: [%s]}
`, i, m), fmt.Sprintf(`apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t%d, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules: [{kind: HTTPRouteGroup, name: g%d, matches: [m]}]
  sources: [{kind: ServiceAccount, name: %s}]
`, i, i, g.source))
	}
	if l4 != "" {
		docs = append(docs, `apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp, namespace: default}
spec: {matches: {ports: [8080]}}
`, fmt.Sprintf(`apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: tl4, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules: [{kind: TCPRoute, name: tcp}]
  sources: [{kind: ServiceAccount, name: %s}]
`, l4))
	}
	docs = append(docs, `apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: default, labels: {app: api}}
spec: {serviceAccountName: api, containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
`)
	return strings.Join(docs, "---\n")
}

func quoteMethods(m string) string {
	var out []string
	for _, x := range strings.Split(m, ", ") {
		out = append(out, fmt.Sprintf("%q", x))
	}
	return strings.Join(out, ", ")
}

// overlapRequests: requests on every side of the pool's matches.
func overlapRequests(sources []string) []conformance.AccessRequest {
	var out []conformance.AccessRequest
	for _, from := range sources {
		for _, path := range []string{"/", "/a", "/ab", "/admin", "/api", "/api/", "/api/x", "/api/v1/", "/api/v1/items", "/api/v2/x", "/apix"} {
			for _, method := range []string{"GET", "POST", "DELETE"} {
				for _, env := range []string{"", "prod", "prod-eu", "dev"} {
					r := conformance.AccessRequest{From: "default/" + from, To: "default/api", Port: 8080, Method: method, Path: path}
					if env != "" {
						r.Headers = map[string]string{"x-env": env}
					}
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// judgeOverlap judges every request by Linkerd's semantics against SMI's:
// a request Linkerd allows must be one SMI allows; one SMI allows that
// Linkerd refuses (or leaves to the routes' ages) must be reported as a
// RouteOverlap. It returns the refusals, and fails t on what breaks that.
func judgeOverlap(t *testing.T, grants []grantSpec, l4 string) (refused []string) {
	t.Helper()
	w := load(t, overlapScenario(grants, l4), linkerd.Options{})
	reported := len(w.diagnostics(linkerd.ReasonRouteOverlap)) > 0
	for _, r := range overlapRequests([]string{"s0", "s1", "s2", "other"}) {
		want, err := w.model.Allowed(r)
		if err != nil {
			t.Fatalf("model: %s: %v", r, err)
		}
		got, err := w.linkerd.Allowed(r)
		if ad, ok := isAgeDependent(err); ok {
			for route, allows := range ad.Allowed {
				if allows && !want {
					t.Errorf("%v: %s: route %s allows what SMI denies", grants, r, route)
				}
			}
			got, err = false, nil // the worse of the two for a request SMI allows
		}
		switch {
		case err != nil:
			t.Fatalf("%v: %s: %v", grants, r, err)
		case got && !want:
			t.Errorf("%v (l4 %q): Linkerd allows %s, which SMI denies", grants, l4, r)
		case want && !got:
			refused = append(refused, r.String())
			if !reported {
				t.Errorf("%v (l4 %q): Linkerd refuses %s, which SMI allows, and nothing is reported", grants, l4, r)
			}
		}
	}
	return refused
}

// TestOverlappingGrantsOneRoutePerRequest: Linkerd authorizes a request on
// its one best-matching HTTPRoute (as linkerd2-proxy ranks them, judged by
// linkerdjudge), SMI on the union of every grant it matches. For every set
// of overlapping grants of different sources drawn from the pool, no
// request is allowed that SMI denies, and every one SMI allows is allowed
// unless the translation reported the overlap it could not carry; the
// grants of the first table (a route covered by another grant's match, or
// overlapping one where a route can match what both do) are carried
// exactly.
func TestOverlappingGrantsOneRoutePerRequest(t *testing.T) {
	exact := []struct {
		grants []grantSpec
		l4     string
	}{
		{grants: []grantSpec{{"s0", "/api/", "*", ""}, {"s1", "/api/v1/", "GET", ""}}},
		{grants: []grantSpec{{"s0", "/api/", "*", ""}, {"s1", "/api/v1/", "*", ""}}},
		{grants: []grantSpec{{"s0", "/api/", "*", ""}, {"s1", "/api/v1/", "*", ""}, {"s2", "/api/v1/items", "GET, POST", ""}}},
		{grants: []grantSpec{{"s0", ".*", "*", ""}, {"s1", "/api/", "*", ""}}},
		{grants: []grantSpec{{"s0", "/api/.*", "*", ""}, {"s1", "/api/v1/items", "GET, POST", ""}}},
		{grants: []grantSpec{{"s0", "/api/.*", "*", ""}, {"s1", "/api/v[0-9]+/", "*", ""}}},
		{grants: []grantSpec{{"s0", "/", "*", ""}, {"s1", "/api/", "*", ""}}, l4: "s2"},
		// partial overlaps whose intersection a route can match
		{grants: []grantSpec{{"s0", "", "GET", ""}, {"s1", "/api/", "*", ""}}},
		{grants: []grantSpec{{"s0", "", "*", "x-env: prod.*"}, {"s1", "/api/v1/", "GET", ""}}},
		{grants: []grantSpec{{"s0", "", "*", "x-env: prod.*"}, {"s1", "/api/", "*", "x-env: prod"}}},
		{grants: []grantSpec{{"s0", "/api/", "*", ""}, {"s1", "/api/v1/", "GET", ""}}, l4: "s2"},
		{grants: []grantSpec{{"s0", "/a", "*", ""}, {"s1", "/admin", "DELETE", ""}}, l4: "s1"},
	}
	for _, c := range exact {
		if refused := judgeOverlap(t, c.grants, c.l4); len(refused) > 0 {
			t.Errorf("%v (l4 %q): nested grants not carried exactly: refused %s", c.grants, c.l4, strings.Join(refused, "; "))
		}
	}
	r := rand.New(rand.NewPCG(6, 6))
	for range 150 {
		n := 2 + r.IntN(3)
		var grants []grantSpec
		for i := range n {
			g := overlapPool[r.IntN(len(overlapPool))]
			g.source = fmt.Sprintf("s%d", min(i, r.IntN(3)))
			grants = append(grants, g)
		}
		l4 := ""
		if r.IntN(3) == 0 {
			l4 = fmt.Sprintf("s%d", r.IntN(3))
		}
		judgeOverlap(t, grants, l4)
	}
}
