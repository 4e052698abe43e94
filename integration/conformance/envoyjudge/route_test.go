package envoyjudge

import (
	"maps"
	"testing"

	xdsmatcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func vhost(name string, domains []string, routes ...*routev3.Route) *routev3.VirtualHost {
	if len(routes) == 0 {
		routes = []*routev3.Route{routeTo(name, prefixMatch("/"), name)}
	}
	return &routev3.VirtualHost{Name: name, Domains: domains, Routes: routes}
}

func TestVirtualHostSelection(t *testing.T) {
	rc := &routev3.RouteConfiguration{Name: "outbound", VirtualHosts: []*routev3.VirtualHost{
		vhost("exact", []string{"www.foo.com", "api.default.svc.cluster.local:8080"}),
		vhost("suffix", []string{"*.foo.com"}),
		vhost("longer-suffix", []string{"*.bar.foo.com"}),
		vhost("dash-suffix", []string{"*-bar.foo.com"}),
		vhost("prefix", []string{"foo.*"}),
		vhost("longer-prefix", []string{"foo.bar.*"}),
		vhost("upper", []string{"UPPER.example.com"}),
		vhost("default", []string{"*"}),
	}}
	noDefault := &routev3.RouteConfiguration{Name: "nd", VirtualHosts: []*routev3.VirtualHost{
		vhost("a", []string{"a.com"}),
	}}
	onlyDefault := &routev3.RouteConfiguration{Name: "od", VirtualHosts: []*routev3.VirtualHost{
		vhost("default", []string{"*"}),
	}}
	ignorePort := &routev3.RouteConfiguration{Name: "ip", IgnorePortInHostMatching: true, VirtualHosts: []*routev3.VirtualHost{
		vhost("plain", []string{"api"}),
		vhost("with-port", []string{"other:80"}),
		vhost("v6", []string{"[::1]"}),
	}}
	withPortDomains := &routev3.RouteConfiguration{Name: "wp", VirtualHosts: []*routev3.VirtualHost{
		vhost("port", []string{"api:8080"}),
		vhost("noport", []string{"api"}),
	}}
	vhostHeader := &routev3.RouteConfiguration{Name: "vh", VhostHeader: "x-host", VirtualHosts: []*routev3.VirtualHost{
		vhost("a", []string{"a.com"}),
		vhost("default", []string{"*"}),
	}}
	cases := []struct {
		name      string
		rc        *routev3.RouteConfiguration
		authority string
		headers   []string
		want      string // virtual host name, "" for none
	}{
		{"exact", rc, "www.foo.com", nil, "exact"},
		{"exact with port", rc, "api.default.svc.cluster.local:8080", nil, "exact"},
		{"port is part of the host", rc, "api.default.svc.cluster.local", nil, "default"},
		{"exact before suffix", rc, "www.foo.com", nil, "exact"},
		{"suffix", rc, "x.foo.com", nil, "suffix"},
		{"suffix matches deeper names", rc, "a.b.x.foo.com", nil, "suffix"},
		{"longest suffix first", rc, "x.bar.foo.com", nil, "longer-suffix"},
		{"dash suffix", rc, "baz-bar.foo.com", nil, "dash-suffix"},
		{"wildcard does not match empty", rc, "-bar.foo.com", nil, "suffix"},
		{"suffix wildcard does not match the bare domain (prefix does)", rc, "foo.com", nil, "prefix"},
		{"suffix wildcard does not match the bare domain", rc, "bar.foo.com", nil, "suffix"},
		{"prefix", rc, "foo.org", nil, "prefix"},
		{"longest prefix first", rc, "foo.bar.org", nil, "longer-prefix"},
		{"suffix before prefix", rc, "foo.foo.com", nil, "suffix"},
		{"prefix wildcard does not match empty", rc, "foo.", nil, "default"},
		{"host is case insensitive", rc, "WWW.Foo.Com", nil, "exact"},
		{"domains are case insensitive", rc, "upper.example.com", nil, "upper"},
		{"default", rc, "unknown.org", nil, "default"},
		{"no default: 404", noDefault, "b.com", nil, ""},
		{"only default", onlyDefault, "anything:1234", nil, "default"},
		{"ignore_port_in_host_matching", ignorePort, "api:8080", nil, "plain"},
		{"ignore_port does not strip domains", ignorePort, "other:80", nil, ""},
		{"ignore_port IPv6", ignorePort, "[::1]:80", nil, "v6"},
		{"ignore_port IPv6 without port", ignorePort, "[::1]", nil, "v6"},
		{"domain with port", withPortDomains, "api:8080", nil, "port"},
		{"domain without port", withPortDomains, "api", nil, "noport"},
		{"domain with port, other port", withPortDomains, "api:9090", nil, ""},
		{"vhost_header", vhostHeader, "b.com", []string{"x-host", "a.com"}, "a"},
		{"vhost_header missing", vhostHeader, "a.com", nil, ""},
	}
	for _, tc := range cases {
		r := withAuthority(httpReq(webSA, "GET", "/", tc.headers...), tc.authority)
		d, err := Route(tc.rc, r)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d.VirtualHost != tc.want {
			t.Errorf("%s: virtual host %q, want %q", tc.name, d.VirtualHost, tc.want)
		}
		if (tc.want == "") != d.NotFound {
			t.Errorf("%s: NotFound = %v", tc.name, d.NotFound)
		}
	}

	bad := []struct {
		name string
		rc   *routev3.RouteConfiguration
		want want
	}{
		{"duplicate domain", &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vhost("a", []string{"a.com"}), vhost("b", []string{"A.com"})}}, wantInvalid},
		{"two defaults", &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vhost("a", []string{"*"}), vhost("b", []string{"*"})}}, wantInvalid},
		{"no domains", &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vhost("a", nil)}}, wantInvalid},
		{"vhds", &routev3.RouteConfiguration{Vhds: &routev3.Vhds{ConfigSource: &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}}}, wantUnsupported},
		{"matcher tree", &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{{Name: "m", Domains: []string{"*"}, Matcher: matcherTree()}}}, wantUnsupported},
		{"require_tls", &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{{Name: "t", Domains: []string{"*"}, RequireTls: routev3.VirtualHost_ALL}}}, wantUnsupported},
		{"ignore_path_parameters", &routev3.RouteConfiguration{IgnorePathParametersInPathMatching: true, VirtualHosts: []*routev3.VirtualHost{vhost("a", []string{"*"})}}, wantUnsupported},
		{"managed vhost_header", &routev3.RouteConfiguration{VhostHeader: "x-forwarded-proto", VirtualHosts: []*routev3.VirtualHost{vhost("a", []string{"a.com"})}}, wantUnsupported},
	}
	for _, tc := range bad {
		_, err := Route(tc.rc, httpReq(webSA, "GET", "/"))
		check(t, tc.name, false, err, tc.want)
	}
	_, err := Route(nil, httpReq(webSA, "GET", "/"))
	check(t, "nil route configuration", false, err, wantBadRequest)
	_, err = Route(rc, tcpReq(webSA))
	check(t, "TCP request", false, err, wantBadRequest)
}

func TestRouteMatch(t *testing.T) {
	caseInsensitive := prefixMatch("/CI")
	caseInsensitive.CaseSensitive = wrapperspb.Bool(false)
	ciPath := pathMatch("/Exact")
	ciPath.CaseSensitive = wrapperspb.Bool(false)
	ciSep := sepPrefixMatch("/Sep")
	ciSep.CaseSensitive = wrapperspb.Bool(false)
	ciRegex := regexMatch("/rx")
	ciRegex.CaseSensitive = wrapperspb.Bool(false)
	withHeaders := func(m *routev3.RouteMatch, hs ...*routev3.HeaderMatcher) *routev3.RouteMatch {
		m.Headers = hs
		return m
	}
	withQuery := func(m *routev3.RouteMatch, qs ...*routev3.QueryParameterMatcher) *routev3.RouteMatch {
		m.QueryParameters = qs
		return m
	}
	qStr := func(name string, sm *routev3.QueryParameterMatcher_StringMatch) *routev3.QueryParameterMatcher {
		return &routev3.QueryParameterMatcher{Name: name, QueryParameterMatchSpecifier: sm}
	}
	qPresent := func(name string) *routev3.QueryParameterMatcher {
		return &routev3.QueryParameterMatcher{Name: name, QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}}
	}
	qs := func(name string, v string) *routev3.QueryParameterMatcher {
		return qStr(name, &routev3.QueryParameterMatcher_StringMatch{StringMatch: exact(v)})
	}
	routes := []*routev3.Route{
		routeTo("exact", pathMatch("/exact"), "exact"),
		routeTo("ci-exact", ciPath, "ci-exact"),
		routeTo("regex", regexMatch("/a"), "regex"),
		routeTo("ci-regex-ignored", ciRegex, "ci-regex-ignored"),
		routeTo("sep", sepPrefixMatch("/api/dev"), "sep"),
		routeTo("ci-sep", ciSep, "ci-sep"),
		routeTo("ci", caseInsensitive, "ci"),
		routeTo("query-prefix", prefixMatch("/q?x=1"), "query-prefix"),
		routeTo("header", withHeaders(prefixMatch("/h"), hExact("x-version", "v2")), "header-v2"),
		routeTo("header-inverted", withHeaders(prefixMatch("/h"), inverted(hPresent("x-version", true))), "header-none"),
		routeTo("header-method", withHeaders(prefixMatch("/m"), hExact(":method", "POST")), "post"),
		routeTo("query", withQuery(prefixMatch("/search"), qs("lang", "go")), "go"),
		routeTo("query-present", withQuery(prefixMatch("/search"), qPresent("debug")), "debug"),
		routeTo("query-regex", withQuery(prefixMatch("/search"), qStr("q", &routev3.QueryParameterMatcher_StringMatch{StringMatch: regex("[a-z]+")})), "word"),
		weighted("split", prefixMatch("/split"), "v1", 90, "v2", 10, "v1", 5),
		weighted("zero", prefixMatch("/zero"), "v1", 100, "v2", 0),
		{Name: "direct", Match: prefixMatch("/direct"), Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 503}}},
		{Name: "redirect", Match: prefixMatch("/redirect"), Action: &routev3.Route_Redirect{Redirect: &routev3.RedirectAction{HostRedirect: "example.com"}}},
		routeTo("first", prefixMatch("/order"), "first"),
		routeTo("second", prefixMatch("/order/x"), "second"),
		routeTo("catchall", prefixMatch("/"), "catchall"),
	}
	rc := &routev3.RouteConfiguration{Name: "r", VirtualHosts: []*routev3.VirtualHost{
		{Name: "vh", Domains: []string{"*"}, Routes: routes},
		{Name: "empty", Domains: []string{"empty.com"}, Routes: []*routev3.Route{routeTo("p", pathMatch("/only"), "only")}},
	}}
	cases := []struct {
		name    string
		method  string
		path    string
		headers []string
		route   string
		cluster map[string]uint32
	}{
		{"path exact", "GET", "/exact", nil, "exact", map[string]uint32{"exact": 1}},
		{"path ignores the query string", "GET", "/exact?x=1", nil, "exact", nil},
		{"path is case sensitive", "GET", "/EXACT", nil, "ci-exact", nil},
		{"path case_sensitive false", "GET", "/eXaCt", nil, "ci-exact", nil},
		{"regex full match", "GET", "/a", nil, "regex", nil},
		{"regex /a does not match /ab", "GET", "/ab", nil, "catchall", nil},
		{"regex ignores the query string", "GET", "/a?b=c", nil, "regex", nil},
		{"regex ignores case_sensitive", "GET", "/RX", nil, "catchall", nil},
		{"regex lower", "GET", "/rx", nil, "ci-regex-ignored", nil},
		{"path_separated_prefix exact", "GET", "/api/dev", nil, "sep", nil},
		{"path_separated_prefix slash", "GET", "/api/dev/", nil, "sep", nil},
		{"path_separated_prefix sub path", "GET", "/api/dev/v1", nil, "sep", nil},
		{"path_separated_prefix query", "GET", "/api/dev?param=true", nil, "sep", nil},
		{"path_separated_prefix not /api/developer", "GET", "/api/developer", nil, "catchall", nil},
		{"path_separated_prefix case insensitive", "GET", "/SEP/x", nil, "ci-sep", nil},
		{"prefix case insensitive", "GET", "/ci/x", nil, "ci", nil},
		{"prefix sees the query string", "GET", "/q?x=1&y=2", nil, "query-prefix", nil},
		{"prefix query mismatch", "GET", "/q?x=2", nil, "catchall", nil},
		{"header match", "GET", "/h", []string{"x-version", "v2"}, "header", map[string]uint32{"header-v2": 1}},
		{"header other value", "GET", "/h", []string{"x-version", "v3"}, "catchall", nil},
		{"header inverted present", "GET", "/h", nil, "header-inverted", nil},
		{"method header", "POST", "/m", nil, "header-method", nil},
		{"method header GET", "GET", "/m", nil, "catchall", nil},
		{"query string_match", "GET", "/search?lang=go", nil, "query", nil},
		{"query first value wins", "GET", "/search?lang=go&lang=rust", nil, "query", nil},
		{"query first value wins, other order", "GET", "/search?lang=rust&lang=go", nil, "catchall", nil},
		{"query present", "GET", "/search?debug", nil, "query-present", nil},
		{"query present with value", "GET", "/search?lang=c&debug=1", nil, "query-present", nil},
		{"query regex", "GET", "/search?q=abc", nil, "query-regex", nil},
		{"query regex not full", "GET", "/search?q=abc1", nil, "catchall", nil},
		{"query values are not decoded", "GET", "/search?lang=g%6F", nil, "catchall", nil},
		{"weighted clusters", "GET", "/split", nil, "split", map[string]uint32{"v1": 95, "v2": 10}},
		{"weight zero kept", "GET", "/zero", nil, "zero", map[string]uint32{"v1": 100, "v2": 0}},
		{"first matching route wins", "GET", "/order/x", nil, "first", nil},
		{"catch all", "GET", "/other", nil, "catchall", map[string]uint32{"catchall": 1}},
	}
	for _, tc := range cases {
		d, err := Route(rc, httpReq(webSA, tc.method, tc.path, tc.headers...))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d.Route != tc.route {
			t.Errorf("%s: route %q, want %q", tc.name, d.Route, tc.route)
		}
		if tc.cluster != nil && !maps.Equal(d.Clusters, tc.cluster) {
			t.Errorf("%s: clusters %v, want %v", tc.name, d.Clusters, tc.cluster)
		}
	}

	d, err := Route(rc, httpReq(webSA, "GET", "/direct"))
	if err != nil || d.DirectResponse == nil || *d.DirectResponse != 503 || d.Clusters != nil {
		t.Errorf("direct response: %+v, %v", d, err)
	}
	d, err = Route(rc, httpReq(webSA, "GET", "/redirect"))
	if err != nil || d.Redirect.GetHostRedirect() != "example.com" {
		t.Errorf("redirect: %+v, %v", d, err)
	}
	d, err = Route(rc, withAuthority(httpReq(webSA, "GET", "/nothing"), "empty.com"))
	if err != nil || !d.NotFound || d.VirtualHost != "empty" || d.RouteIndex != -1 {
		t.Errorf("no route: %+v, %v", d, err)
	}
	d, err = Route(rc, httpReq(webSA, "GET", "/split"))
	if err != nil || d.RouteIndex != 14 || d.NotFound {
		t.Errorf("route index: %+v, %v", d, err)
	}
}

func matcherTree() *xdsmatcherv3.Matcher { return &xdsmatcherv3.Matcher{} }

func TestRouteUnsupported(t *testing.T) {
	one := func(rt *routev3.Route) *routev3.RouteConfiguration {
		return &routev3.RouteConfiguration{Name: "r", VirtualHosts: []*routev3.VirtualHost{{Name: "vh", Domains: []string{"*"}, Routes: []*routev3.Route{rt}}}}
	}
	m := func(mod func(*routev3.RouteMatch)) *routev3.RouteMatch {
		rm := prefixMatch("/")
		mod(rm)
		return rm
	}
	action := func(a *routev3.RouteAction) *routev3.Route {
		return &routev3.Route{Name: "a", Match: prefixMatch("/"), Action: &routev3.Route_Route{Route: a}}
	}
	ext := &corev3.TypedExtensionConfig{Name: "x", TypedConfig: mustAny(&typev3.Int32Range{})}
	cases := []struct {
		name string
		rt   *routev3.Route
		path string
		want want
	}{
		{"runtime_fraction", routeTo("r", m(func(r *routev3.RouteMatch) {
			r.RuntimeFraction = &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 50}}
		}), "c"), "/", wantUnsupported},
		{"grpc", routeTo("r", m(func(r *routev3.RouteMatch) { r.Grpc = &routev3.RouteMatch_GrpcRouteMatchOptions{} }), "c"), "/", wantUnsupported},
		{"tls_context", routeTo("r", m(func(r *routev3.RouteMatch) { r.TlsContext = &routev3.RouteMatch_TlsContextMatchOptions{} }), "c"), "/", wantUnsupported},
		{"cookies", routeTo("r", m(func(r *routev3.RouteMatch) {
			r.Cookies = []*routev3.CookieMatcher{{Name: "c", StringMatch: exact("v")}}
		}), "c"), "/", wantUnsupported},
		{"unsupported part, path does not match: no match", routeTo("r", &routev3.RouteMatch{
			PathSpecifier: &routev3.RouteMatch_Path{Path: "/x"}, Grpc: &routev3.RouteMatch_GrpcRouteMatchOptions{},
		}, "c"), "/", wantTrue},
		{"connect_matcher", routeTo("r", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_ConnectMatcher_{ConnectMatcher: &routev3.RouteMatch_ConnectMatcher{}}}, "c"), "/", wantUnsupported},
		{"path_match_policy", routeTo("r", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathMatchPolicy{PathMatchPolicy: ext}}, "c"), "/", wantUnsupported},
		{"query present_match false", routeTo("r", m(func(r *routev3.RouteMatch) {
			r.QueryParameters = []*routev3.QueryParameterMatcher{{Name: "a", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_PresentMatch{}}}
		}), "c"), "/?a", wantUnsupported},
		{"query without specifier", routeTo("r", m(func(r *routev3.RouteMatch) {
			r.QueryParameters = []*routev3.QueryParameterMatcher{{Name: "a"}}
		}), "c"), "/?a", wantUnsupported},
		{"query bad matcher", routeTo("r", m(func(r *routev3.RouteMatch) {
			r.QueryParameters = []*routev3.QueryParameterMatcher{{Name: "a", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: regex("(")}}}
		}), "c"), "/", wantInvalid},
		{"path_separated_prefix ending in /", routeTo("r", sepPrefixMatch("/a/"), "c"), "/a/", wantInvalid},
		{"bad route regex", routeTo("r", regexMatch("("), "c"), "/", wantInvalid},
		{"cluster_header", action(&routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_ClusterHeader{ClusterHeader: "x-cluster"}}), "/", wantUnsupported},
		{"cluster_specifier_plugin", action(&routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_ClusterSpecifierPlugin{ClusterSpecifierPlugin: "p"}}), "/", wantUnsupported},
		{"inline cluster_specifier_plugin", action(&routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_InlineClusterSpecifierPlugin{InlineClusterSpecifierPlugin: &routev3.ClusterSpecifierPlugin{Extension: ext}}}), "/", wantUnsupported},
		{"runtime_key_prefix", action(&routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{
			RuntimeKeyPrefix: "rt", Clusters: []*routev3.WeightedCluster_ClusterWeight{{Name: "a", Weight: wrapperspb.UInt32(1)}},
		}}}), "/", wantUnsupported},
		{"weighted cluster_header", action(&routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{
			Clusters: []*routev3.WeightedCluster_ClusterWeight{{ClusterHeader: "x", Weight: wrapperspb.UInt32(1)}},
		}}}), "/", wantUnsupported},
		{"weights add up to zero", weighted("w", prefixMatch("/"), "a", 0, "b", 0), "/", wantInvalid},
		{"filter_action", &routev3.Route{Name: "f", Match: prefixMatch("/"), Action: &routev3.Route_FilterAction{FilterAction: &routev3.FilterAction{}}}, "/", wantUnsupported},
		{"non_forwarding_action", &routev3.Route{Name: "f", Match: prefixMatch("/"), Action: &routev3.Route_NonForwardingAction{NonForwardingAction: &routev3.NonForwardingAction{}}}, "/", wantUnsupported},
		{"no action", &routev3.Route{Name: "f", Match: prefixMatch("/")}, "/", wantInvalid},
		{"no match", &routev3.Route{Name: "f", Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 200}}}, "/", wantInvalid},
		{"managed header in route", routeTo("r", m(func(r *routev3.RouteMatch) {
			r.Headers = []*routev3.HeaderMatcher{hExact("x-forwarded-proto", "https")}
		}), "c"), "/", wantUnsupported},
	}
	for _, tc := range cases {
		d, err := Route(one(tc.rt), httpReq(webSA, "GET", tc.path))
		if tc.want == wantTrue {
			// The route must simply not match.
			check(t, tc.name, d.NotFound, err, wantTrue)
			continue
		}
		check(t, tc.name, false, err, tc.want)
	}
}

func TestHTTPRoute(t *testing.T) {
	rc := &routev3.RouteConfiguration{Name: "outbound|8080", VirtualHosts: []*routev3.VirtualHost{
		vhost("api", []string{"api.default.svc.cluster.local"}),
		vhost("default", []string{"*"}),
	}}
	chain := func(h *hcmv3.HttpConnectionManager) *listenerv3.FilterChain {
		return &listenerv3.FilterChain{Filters: []*listenerv3.Filter{hcmFilter(h)}}
	}
	inline := inlineHCM(rc, router())
	stripAny := inlineHCM(rc, router())
	stripAny.StripPortMode = &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true}
	stripMatching := inlineHCM(rc, router())
	stripMatching.StripMatchingHostPort = true
	rds := &hcmv3.HttpConnectionManager{StatPrefix: "o", HttpFilters: []*hcmv3.HttpFilter{router()},
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: "outbound|8080", ConfigSource: &corev3.ConfigSource{}}}}
	req := httpReq(webSA, "GET", "/") // authority api.default.svc.cluster.local:8080
	cases := []struct {
		name string
		fc   *listenerv3.FilterChain
		rc   *routev3.RouteConfiguration
		req  Request
		want string
	}{
		{"inline, port kept", chain(inline), nil, req, "default"},
		{"strip_any_host_port", chain(stripAny), nil, req, "api"},
		{"strip_matching_host_port", chain(stripMatching), nil, req, "api"},
		{"strip_matching_host_port, other port", chain(stripMatching), nil, withAuthority(req, "api.default.svc.cluster.local:9090"), "default"},
		{"strip_any_host_port, non-numeric port", chain(stripAny), nil, withAuthority(req, "api.default.svc.cluster.local:x"), "default"},
		{"RDS", chain(rds), rc, withAuthority(req, "api.default.svc.cluster.local"), "api"},
	}
	for _, tc := range cases {
		d, err := HTTPRoute(tc.fc, tc.rc, tc.req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d.VirtualHost != tc.want {
			t.Errorf("%s: virtual host %q, want %q", tc.name, d.VirtualHost, tc.want)
		}
	}
	_, err := HTTPRoute(chain(rds), nil, req)
	check(t, "RDS without routes", false, err, wantBadRequest)
	_, err = HTTPRoute(&listenerv3.FilterChain{Filters: []*listenerv3.Filter{tcpProxy("x")}}, nil, req)
	if err != ErrNoHTTPConnectionManager {
		t.Errorf("no HCM: %v", err)
	}
	_, err = HTTPRoute(chain(inline), nil, tcpReq(webSA))
	check(t, "TCP request", false, err, wantBadRequest)
}
