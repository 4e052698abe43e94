package envoyjudge

import (
	"errors"
	"net/netip"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/encoding/protojson"

	// Typed configs referenced by the JSON listeners below.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/http_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
)

// The listeners below are written in Envoy's JSON form, shaped like what
// the Consul agent and istiod generate (names, nesting and matcher styles),
// to check the judge end to end on realistic configurations.

// consulPublicListener: L4 intentions on one service ("default deny", web
// allowed, a wildcard deny on another namespace), and an L7 chain.
const consulPublicListener = `{
  "name": "public_listener:10.0.1.7:21000",
  "address": {"socketAddress": {"address": "10.0.1.7", "portValue": 21000}},
  "filterChains": [{
    "filters": [
      {"name": "envoy.filters.network.rbac", "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC",
        "statPrefix": "connect_authz",
        "rules": {"action": "DENY", "policies": {"consul-intentions-layer4": {
          "permissions": [{"any": true}],
          "principals": [{"authenticated": {"principalName": {"safeRegex": {
            "regex": "^spiffe://[^/]+/ns/legacy/dc/[^/]+/svc/[^/]+$"}}}}]}}}}},
      {"name": "envoy.filters.network.rbac", "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC",
        "statPrefix": "connect_authz",
        "rules": {"policies": {"consul-intentions-layer4": {
          "permissions": [{"any": true}],
          "principals": [
            {"authenticated": {"principalName": {"safeRegex": {
              "regex": "^spiffe://[^/]+/ns/default/dc/[^/]+/svc/web$"}}}},
            {"andIds": {"ids": [
              {"authenticated": {"principalName": {"safeRegex": {
                "regex": "^spiffe://[^/]+/ns/ops/dc/[^/]+/svc/[^/]+$"}}}},
              {"notId": {"authenticated": {"principalName": {"safeRegex": {
                "regex": "^spiffe://[^/]+/ns/ops/dc/[^/]+/svc/intruder$"}}}}}]}}]}}}}},
      {"name": "envoy.filters.network.tcp_proxy", "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "statPrefix": "public_listener", "cluster": "local_app"}}
    ]
  }]
}`

const consulL7Listener = `{
  "name": "public_listener:10.0.1.7:21000",
  "address": {"socketAddress": {"address": "10.0.1.7", "portValue": 21000}},
  "filterChains": [{
    "filters": [
      {"name": "envoy.filters.network.http_connection_manager", "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "statPrefix": "public_listener",
        "routeConfig": {"name": "public_listener", "virtualHosts": [{
          "name": "public_listener", "domains": ["*"],
          "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "local_app"}}]}]},
        "httpFilters": [
          {"name": "envoy.filters.http.rbac", "typedConfig": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"policies": {"consul-intentions-layer7-0": {
              "permissions": [
                {"andRules": {"rules": [
                  {"urlPath": {"path": {"prefix": "/v1"}}},
                  {"notRule": {"urlPath": {"path": {"exact": "/v1/secret"}}}}]}},
                {"andRules": {"rules": [
                  {"urlPath": {"path": {"safeRegex": {"regex": "/v[23]"}}}},
                  {"header": {"name": ":method", "stringMatch": {"safeRegex": {"regex": "GET|HEAD|OPTIONS"}}}}]}},
                {"andRules": {"rules": [
                  {"urlPath": {"path": {"exact": "/debug"}}},
                  {"header": {"name": "x-debug", "presentMatch": true}},
                  {"header": {"name": "x-env", "stringMatch": {"exact": "dev"}, "invertMatch": true}}]}}],
              "principals": [{"authenticated": {"principalName": {"safeRegex": {
                "regex": "^spiffe://[^/]+/ns/default/dc/[^/]+/svc/web$"}}}}]}}}}},
          {"name": "envoy.filters.http.router", "typedConfig": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
        ]}}
    ]
  }]
}`

// istioInbound: the virtual inbound listener with a TLS/HTTP inspector, an
// mTLS HTTP chain for port 8080 with a DENY then an ALLOW RBAC filter, an
// mTLS TCP chain for port 9000 and a passthrough chain.
const istioInbound = `{
  "name": "virtualInbound",
  "address": {"socketAddress": {"address": "0.0.0.0", "portValue": 15006}},
  "listenerFilters": [
    {"name": "envoy.filters.listener.tls_inspector", "typedConfig": {
      "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"}},
    {"name": "envoy.filters.listener.http_inspector", "typedConfig": {
      "@type": "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"}}
  ],
  "filterChains": [
    {"name": "0.0.0.0_8080",
     "filterChainMatch": {"destinationPort": 8080, "transportProtocol": "tls",
       "applicationProtocols": ["istio-http/1.0", "istio-http/1.1", "istio-h2"]},
     "filters": [{"name": "envoy.filters.network.http_connection_manager", "typedConfig": {
       "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
       "statPrefix": "inbound_0.0.0.0_8080",
       "routeConfig": {"name": "inbound|8080||", "virtualHosts": [{
         "name": "inbound|http|8080", "domains": ["*"],
         "routes": [{"name": "default", "match": {"prefix": "/"}, "route": {"cluster": "inbound|8080||"}}]}]},
       "httpFilters": [
         {"name": "envoy.filters.http.rbac", "typedConfig": {
           "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
           "rules": {"action": "DENY", "policies": {"ns[default]-policy[deny-admin-path]-rule[0]": {
             "permissions": [{"andRules": {"rules": [{"orRules": {"rules": [
               {"urlPath": {"path": {"prefix": "/admin/"}}}]}}]}}],
             "principals": [{"andIds": {"ids": [{"any": true}]}}]}}},
           "shadowRulesStatPrefix": "istio_dry_run_allow_"}},
         {"name": "envoy.filters.http.rbac", "typedConfig": {
           "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
           "rules": {"policies": {"ns[default]-policy[allow-web]-rule[0]": {
             "permissions": [{"andRules": {"rules": [
               {"orRules": {"rules": [{"header": {"name": ":method", "stringMatch": {"exact": "GET"}}}]}},
               {"orRules": {"rules": [{"urlPath": {"path": {"prefix": "/api/"}}}, {"urlPath": {"path": {"exact": "/healthz"}}}]}}]}}],
             "principals": [{"andIds": {"ids": [{"orIds": {"ids": [
               {"authenticated": {"principalName": {"exact": "spiffe://cluster.local/ns/default/sa/web"}}},
               {"authenticated": {"principalName": {"safeRegex": {"regex": "spiffe://.*/ns/ops/.*"}}}}]}}]}}]}}}}},
         {"name": "envoy.filters.http.router", "typedConfig": {
           "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
       ]}}]},
    {"name": "0.0.0.0_9000",
     "filterChainMatch": {"destinationPort": 9000, "transportProtocol": "tls"},
     "filters": [
       {"name": "envoy.filters.network.rbac", "typedConfig": {
         "@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC",
         "statPrefix": "tcp.",
         "rules": {"policies": {"ns[default]-policy[allow-db]-rule[0]": {
           "permissions": [{"andRules": {"rules": [{"orRules": {"rules": [{"destinationPort": 9000}]}}]}}],
           "principals": [{"andIds": {"ids": [{"orIds": {"ids": [
             {"authenticated": {"principalName": {"exact": "spiffe://cluster.local/ns/default/sa/web"}}}]}}]}}]}}}}},
       {"name": "envoy.filters.network.tcp_proxy", "typedConfig": {
         "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
         "statPrefix": "inbound|9000||", "cluster": "inbound|9000||"}}]},
    {"name": "virtualInbound",
     "filterChainMatch": {"prefixRanges": [{"addressPrefix": "0.0.0.0", "prefixLen": 0}]},
     "filters": [{"name": "envoy.filters.network.tcp_proxy", "typedConfig": {
       "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
       "statPrefix": "InboundPassthroughCluster", "cluster": "InboundPassthroughCluster"}}]}
  ]
}`

func parseListener(t *testing.T, js string) *listenerv3.Listener {
	t.Helper()
	var l listenerv3.Listener
	if err := protojson.Unmarshal([]byte(js), &l); err != nil {
		t.Fatal(err)
	}
	if err := l.ValidateAll(); err != nil {
		t.Fatalf("listener fails Envoy's validation: %v", err)
	}
	return &l
}

func TestConsulShapedListeners(t *testing.T) {
	const td = "spiffe://11111111-2222-3333-4444-555555555555.consul"
	svc := func(ns, name string) string { return td + "/ns/" + ns + "/dc/dc1/svc/" + name }
	at := func(r Request) Request {
		r.DestinationIP, r.DestinationPort = netip.MustParseAddr("10.0.1.7"), 21000
		return r
	}
	l4 := parseListener(t, consulPublicListener)
	l4cases := []struct {
		name string
		req  Request
		want want
	}{
		{"web allowed", at(tcpReq(svc("default", "web"))), wantTrue},
		{"web in another dc", at(tcpReq(td + "/ns/default/dc/dc2/svc/web")), wantTrue},
		{"other service denied (default deny)", at(tcpReq(svc("default", "api"))), wantFalse},
		{"legacy namespace denied by the DENY filter", at(tcpReq(svc("legacy", "web"))), wantFalse},
		{"ops namespace wildcard allowed", at(tcpReq(svc("ops", "monitor"))), wantTrue},
		{"ops intruder excluded", at(tcpReq(svc("ops", "intruder"))), wantFalse},
		{"suffix after the service is not the service", at(tcpReq(svc("default", "web/x"))), wantFalse},
		{"plaintext denied", func() Request { r := at(tcpReq(svc("default", "web"))); r.Plaintext = true; return r }(), wantFalse},
	}
	for _, tc := range l4cases {
		chain, err := FilterChain(l4, tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ok, err := Authorize(chain, nil, tc.req)
		check(t, "L4: "+tc.name, ok, err, tc.want)
	}

	l7 := parseListener(t, consulL7Listener)
	web := svc("default", "web")
	l7cases := []struct {
		name string
		req  Request
		want want
	}{
		{"prefix /v1", httpReq(web, "POST", "/v1/items"), wantTrue},
		{"prefix /v1 but the secret", httpReq(web, "GET", "/v1/secret"), wantFalse},
		{"secret with a query string is still the secret", httpReq(web, "GET", "/v1/secret?x=1"), wantFalse},
		{"regex /v[23] with GET", httpReq(web, "GET", "/v2"), wantTrue},
		{"regex /v[23] with HEAD", httpReq(web, "HEAD", "/v3"), wantTrue},
		{"regex /v[23] with POST", httpReq(web, "POST", "/v2"), wantFalse},
		{"regex /v[23] is a full match", httpReq(web, "GET", "/v2/x"), wantFalse},
		{"method regex is a full match", httpReq(web, "GETX", "/v2"), wantFalse},
		{"debug with header, not dev", httpReq(web, "GET", "/debug", "x-debug", "1", "x-env", "prod"), wantTrue},
		{"debug with header, dev", httpReq(web, "GET", "/debug", "x-debug", "1", "x-env", "dev"), wantFalse},
		{"debug, x-env missing: inverted matcher does not match", httpReq(web, "GET", "/debug", "x-debug", "1"), wantFalse},
		{"debug without header", httpReq(web, "GET", "/debug"), wantFalse},
		{"other service", httpReq(svc("default", "api"), "GET", "/v1"), wantFalse},
	}
	for _, tc := range l7cases {
		r := at(tc.req)
		chain, err := FilterChain(l7, r)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ok, err := Authorize(chain, nil, r)
		check(t, "L7: "+tc.name, ok, err, tc.want)
		d, err := HTTPRoute(chain, nil, r)
		if err != nil || d.Clusters["local_app"] != 1 {
			t.Errorf("L7 route %s: %+v %v", tc.name, d, err)
		}
	}
}

func TestIstioShapedListener(t *testing.T) {
	l := parseListener(t, istioInbound)
	mtls := func(r Request, alpn ...string) Request {
		r.ALPN = alpn
		return r
	}
	ops := "spiffe://cluster.local/ns/ops/sa/prometheus"
	cases := []struct {
		name  string
		req   Request
		chain string
		want  want
	}{
		{"web GET /api/", mtls(httpReq(webSA, "GET", "/api/items"), "istio-http/1.1"), "0.0.0.0_8080", wantTrue},
		{"web GET /healthz", mtls(httpReq(webSA, "GET", "/healthz"), "istio-http/1.1"), "0.0.0.0_8080", wantTrue},
		{"web GET /healthz/x", mtls(httpReq(webSA, "GET", "/healthz/x"), "istio-http/1.1"), "0.0.0.0_8080", wantFalse},
		{"web POST /api/", mtls(httpReq(webSA, "POST", "/api/items"), "istio-h2"), "0.0.0.0_8080", wantFalse},
		{"ops namespace", mtls(httpReq(ops, "GET", "/api/x"), "istio-http/1.1"), "0.0.0.0_8080", wantTrue},
		{"admin path denied before allow", mtls(httpReq(webSA, "GET", "/admin/x"), "istio-http/1.1"), "0.0.0.0_8080", wantFalse},
		{"other service account", mtls(httpReq(adminSA, "GET", "/api/x"), "istio-http/1.1"), "0.0.0.0_8080", wantFalse},
		{"TCP web on 9000", func() Request {
			r := mtls(tcpReq(webSA), "istio-peer-exchange", "istio")
			r.DestinationPort = 9000
			return r
		}(), "0.0.0.0_9000", wantTrue},
		{"TCP admin on 9000", func() Request { r := mtls(tcpReq(adminSA), "istio"); r.DestinationPort = 9000; return r }(), "0.0.0.0_9000", wantFalse},
		{"plaintext on 8080: the port chain wins, then fails: closed", func() Request { r := tcpReq(""); r.Plaintext = true; return r }(), "", wantFalse},
		{"unknown port passes through", func() Request { r := tcpReq(""); r.DestinationPort = 7; return r }(), "virtualInbound", wantTrue},
	}
	for _, tc := range cases {
		chain, err := FilterChain(l, tc.req)
		if tc.chain == "" {
			if !errors.Is(err, ErrNoFilterChain) {
				t.Errorf("%s: %q, %v; want ErrNoFilterChain", tc.name, chain.GetName(), err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if chain.GetName() != tc.chain {
			t.Errorf("%s: chain %q, want %q", tc.name, chain.GetName(), tc.chain)
			continue
		}
		ok, err := Authorize(chain, nil, tc.req)
		check(t, tc.name, ok, err, tc.want)
	}
}
