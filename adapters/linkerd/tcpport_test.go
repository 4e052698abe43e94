package linkerd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd/api"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
)

// TestSplitTCPPortsGetNoHTTPRoutes: a split never writes an HTTPRoute for
// a root port Linkerd carries as TCP — a default opaque port, an
// appProtocol or a port name other than HTTP's — where it never applies
// and the split would be silently lost. What applies is written instead (a
// ServiceProfile, whose dstOverrides the proxy's TCP stack follows, when
// it splits every port alike), or the port is reported and left on the
// root; the HTTP ports are split as before.
func TestSplitTCPPortsGetNoHTTPRoutes(t *testing.T) {
	split := func(matches bool, backends string) string {
		m := ""
		if matches {
			m = "  matches: [{kind: HTTPRouteGroup, name: beta}]\n"
		}
		return "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: web}\nspec:\n  service: web\n" + m +
			"  backends: [" + backends + "]\n---\napiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: beta}\nspec:\n  matches: [{name: beta, pathRegex: /beta}]\n---\n"
	}
	svc := func(name, ports string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec: {ports: [%s]}\n---\n", name, ports)
	}
	const http = "{name: http, port: 8080}"
	cases := []struct {
		name    string
		opts    linkerd.Options
		objects string
		tcp     int32  // the TCP port
		reason  string // the diagnostic naming it ("" none)
		profile bool   // a ServiceProfile is written
		split   []conformance.SplitRequest
	}{{
		name: "default opaque port, splits=httproute: a ServiceProfile splits it", opts: linkerd.Options{Splits: linkerd.SplitsHTTPRoute},
		objects: split(false, "{service: v1, weight: 1}, {service: v2, weight: 1}") +
			svc("web", http+", {name: pg, port: 5432}") + svc("v1", http+", {name: pg, port: 5432}") + svc("v2", http+", {name: pg, port: 5432}"),
		tcp: 5432, reason: linkerd.ReasonOpaquePort, profile: true,
	}, {
		name:    "appProtocol tcp, a backend lacking a port: not split, reported",
		objects: split(false, "{service: v1, weight: 1}, {service: v2, weight: 1}") + svc("web", http+", {name: stream, port: 9000, appProtocol: tcp}") + svc("v1", http+", {name: stream, port: 9000}") + svc("v2", http),
		tcp:     9000, reason: linkerd.ReasonUnsupportedMatch,
		split: []conformance.SplitRequest{{Root: "default/web", Port: 8080, Method: "GET", Path: "/", Backends: map[string]int64{"v1": 1, "v2": 1}}},
	}, {
		name: "port named tcp-, splits=httproute, a backend lacking a port", opts: linkerd.Options{Splits: linkerd.SplitsHTTPRoute},
		objects: split(false, "{service: v1, weight: 1}, {service: v2, weight: 1}") + svc("web", http+", {name: tcp-x, port: 7000}") + svc("v1", http+", {name: tcp-x, port: 7000}") + svc("v2", http),
		tcp:     7000, reason: linkerd.ReasonUnsupportedMatch,
		split: []conformance.SplitRequest{{Root: "default/web", Port: 8080, Method: "GET", Path: "/", Backends: map[string]int64{"v1": 1, "v2": 1}}},
	}, {
		name:    "matches on a redis port: its connections stay on the root",
		objects: split(true, "{service: v1, weight: 1}, {service: v2, weight: 1}") + svc("web", http+", {name: cache, port: 6379}") + svc("v1", http+", {name: cache, port: 6379}") + svc("v2", http+", {name: cache, port: 6379}"),
		tcp:     6379, reason: linkerd.ReasonOpaquePort,
		split: []conformance.SplitRequest{
			{Root: "default/web", Port: 8080, Method: "GET", Path: "/beta", Backends: map[string]int64{"v1": 1, "v2": 1}},
			{Root: "default/web", Port: 6379, Method: "GET", Path: "/beta", Backends: map[string]int64{"web": 1}},
		},
	}, {
		name:    "https port with matches",
		objects: split(true, "{service: v1, weight: 1}") + svc("web", http+", {name: https, port: 8443}") + svc("v1", http+", {name: https, port: 8443}"),
		tcp:     8443, reason: linkerd.ReasonOpaquePort,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := load(t, c.objects, c.opts)
			for _, rt := range w.routes() {
				for _, p := range rt.Spec.ParentRefs {
					if p.Port != nil && *p.Port == c.tcp {
						t.Errorf("HTTPRoute %s on TCP port %d: it never applies there", rt.Name, c.tcp)
					}
				}
			}
			profiles := 0
			for _, o := range w.written {
				if _, ok := o.Obj.(*api.ServiceProfile); ok {
					profiles++
				}
			}
			if (profiles > 0) != c.profile {
				t.Errorf("%d ServiceProfiles written, want one: %v", profiles, c.profile)
			}
			if c.reason != "" && !w.hasDiagnostic(c.reason, fmt.Sprintf("port %d", c.tcp)) {
				t.Errorf("no %s diagnostic names port %d: %v", c.reason, c.tcp, w.problems)
			}
			for _, r := range c.split {
				got, err := w.linkerd.Split(r)
				if err != nil || !conformance.SameRatios(got, r.Backends) {
					t.Errorf("%s: Linkerd splits %v (%v), want %v", r, got, err, r.Backends)
				}
			}
		})
	}
}

// TestOpaqueServerPort: the one rule decides the inbound side too: a
// container port Linkerd carries as TCP gets a Server with proxyProtocol
// opaque (no protocol detection, which a server-first protocol would wait
// on) and no HTTPRoutes; its TCP grants hold, its HTTP grants are
// reported (fail closed). A port the kubelet probes over HTTP speaks HTTP.
func TestOpaqueServerPort(t *testing.T) {
	objects := `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: tcp}
spec:
  destination: {kind: ServiceAccount, name: db}
  rules: [{kind: TCPRoute, name: pg}]
  sources: [{kind: ServiceAccount, name: app}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: http}
spec:
  destination: {kind: ServiceAccount, name: db}
  rules: [{kind: HTTPRouteGroup, name: routes}]
  sources: [{kind: ServiceAccount, name: web}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: pg}
spec: {matches: {ports: [5432, 3306]}}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes}
spec:
  matches: [{name: status, pathRegex: /status, methods: [GET]}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: default, labels: {app: db}}
spec:
  serviceAccountName: db
  containers:
  - name: c
    image: x
    ports: [{containerPort: 5432}, {containerPort: 3306}, {name: http, containerPort: 8080}, {containerPort: 4444}, {containerPort: 9000}]
    readinessProbe: {httpGet: {path: /ready, port: 4444}}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {selector: {app: db}, ports: [{name: mysql, port: 3306}, {name: stream, port: 9000, appProtocol: kubernetes.io/wss}]}
---
apiVersion: v1
kind: Pod
metadata: {name: app-0, namespace: default, labels: {app: app}}
spec: {serviceAccountName: app, containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: default, labels: {app: web}}
spec: {serviceAccountName: web, containers: [{name: c, image: x}]}
`
	w := load(t, objects, linkerd.Options{})
	want := map[int32]string{5432: "opaque", 3306: "opaque", 9000: "opaque", 8080: "unknown", 4444: "unknown"}
	servers := map[string]int32{}
	for _, o := range w.written {
		if s, ok := o.Obj.(*api.Server); ok {
			port := s.Spec.Port.IntVal
			servers[s.Name] = port
			if s.Spec.ProxyProtocol != want[port] {
				t.Errorf("Server %s (port %d): proxyProtocol %q, want %q", s.Name, port, s.Spec.ProxyProtocol, want[port])
			}
		}
	}
	for _, rt := range w.routes() {
		for _, p := range rt.Spec.ParentRefs {
			if want[servers[p.Name]] == "opaque" {
				t.Errorf("HTTPRoute %s on opaque Server %s: it never applies there", rt.Name, p.Name)
			}
		}
	}
	for _, port := range []int32{5432, 3306, 9000} {
		if !w.hasDiagnostic(linkerd.ReasonOpaquePort, fmt.Sprintf("port %d", port)) {
			t.Errorf("no OpaquePort diagnostic names port %d", port)
		}
	}
	for _, r := range []conformance.AccessRequest{
		{From: "default/app", To: "default/db", Port: 5432, Protocol: "TCP", Allow: true},
		{From: "default/app", To: "default/db", Port: 3306, Protocol: "TCP", Allow: true},
		{From: "default/web", To: "default/db", Port: 5432, Protocol: "TCP", Allow: false},
		{From: "default/web", To: "default/db", Port: 8080, Method: "GET", Path: "/status", Allow: true},
		{From: "default/web", To: "default/db", Port: 4444, Method: "GET", Path: "/status", Allow: true},
		{From: "default/web", To: "default/db", Port: 8080, Method: "GET", Path: "/other", Allow: false},
	} {
		got, err := w.linkerd.Allowed(r)
		if err != nil || got != r.Allow {
			t.Errorf("%s: Linkerd allows %v (%v), want %v", r, got, err, r.Allow)
		}
	}
	if got, _ := w.linkerd.Allowed(conformance.AccessRequest{From: "default/web", To: "default/db", Port: 5432, Method: "GET", Path: "/status"}); got {
		t.Error("an HTTP request to an opaque port is judged by HTTP routes")
	}
	if !strings.Contains(fmt.Sprint(w.linkerd.FailedClosed()), "proxyProtocol opaque") {
		t.Error("the HTTP grant on the opaque ports is not reported as failing closed")
	}
}
