package envoyjudge

import (
	"errors"
	"net/netip"
	"testing"

	udpatypev1 "github.com/cncf/xds/go/udpa/type/v1"
	xdscorev3 "github.com/cncf/xds/go/xds/core/v3"
	xdsmatcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	xdstypev3 "github.com/cncf/xds/go/xds/type/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	httprbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	extauthznetv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	netrbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	exprv1alpha1 "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestRBACPolicies runs RBAC rules through one HTTP RBAC filter (and, for
// the cases without HTTP matchers, through one network RBAC filter).
func TestRBACPolicies(t *testing.T) {
	get := httpReq(webSA, "GET", "/products/1?color=red", "x-user", "alice")
	post := httpReq(webSA, "POST", "/products/1")
	admin := httpReq(adminSA, "DELETE", "/admin")
	anon := httpReq("", "GET", "/products/1")
	plain := httpReq("", "GET", "/products/1")
	plain.Plaintext = true
	twoSANs := httpReq("spiffe://other/x", "GET", "/")
	twoSANs.PrincipalURIs = append(twoSANs.PrincipalURIs, webSA)
	dnsOnly := httpReq("", "GET", "/")
	dnsOnly.PeerDNSSANs = []string{"web.default.svc"}
	subjectOnly := httpReq("", "GET", "/")
	subjectOnly.PeerSubject = "CN=web"
	consul := httpReq(webSvc, "GET", "/")
	xff := httpReq(webSA, "GET", "/", "x-forwarded-for", "1.2.3.4")
	v6 := httpReq(webSA, "GET", "/")
	v6.SourceIP = netip.MustParseAddr("2001:db8::5")
	withSNI := httpReq(webSA, "GET", "/")
	withSNI.SNI = "outbound_.8080_._.api.default.svc.cluster.local"
	noDst := httpReq(webSA, "GET", "/")
	noDst.DestinationIP = netip.Addr{}

	one := func(p *rbacv3.Policy) map[string]*rbacv3.Policy { return map[string]*rbacv3.Policy{"p": p} }
	allowSA := one(policy(perms(permAny()), princs(prSA(webSA))))
	cond := policy(perms(permAny()), princs(prAny()))
	cond.Condition = &exprv1alpha1.Expr{}

	cases := []struct {
		name  string
		rules *rbacv3.RBAC
		req   Request
		want  want
	}{
		// Actions.
		{"ALLOW without policies denies everything", allow(nil), get, wantFalse},
		{"DENY without policies allows everything", deny(nil), get, wantTrue},
		{"LOG allows a matching request", rules(rbacv3.RBAC_LOG, allowSA), get, wantTrue},
		{"LOG allows a non-matching request", rules(rbacv3.RBAC_LOG, allowSA), admin, wantTrue},
		{"ALLOW matching principal", allow(allowSA), get, wantTrue},
		{"ALLOW other principal", allow(allowSA), admin, wantFalse},
		{"DENY matching principal", deny(allowSA), get, wantFalse},
		{"DENY other principal", deny(allowSA), admin, wantTrue},
		{"unknown action is invalid", rules(rbacv3.RBAC_Action(7), allowSA), get, wantInvalid},

		// Principals.
		{"authenticated without name, mTLS without SAN", allow(one(policy(perms(permAny()), princs(prAuth(nil))))), anon, wantTrue},
		{"authenticated without name, plaintext", allow(one(policy(perms(permAny()), princs(prAuth(nil))))), plain, wantFalse},
		{"authenticated plaintext never matches", allow(one(policy(perms(permAny()), princs(prAuth(regex(".*")))))), plain, wantFalse},
		{"authenticated no cert, regex .* matches the empty subject", allow(one(policy(perms(permAny()), princs(prAuth(regex(".*")))))), anon, wantTrue},
		{"authenticated no cert, regex .+", allow(one(policy(perms(permAny()), princs(prAuth(regex(".+")))))), anon, wantFalse},
		{"authenticated second URI SAN", allow(allowSA), twoSANs, wantTrue},
		{"authenticated DNS SAN", allow(one(policy(perms(permAny()), princs(prSA("web.default.svc"))))), dnsOnly, wantTrue},
		{"authenticated subject", allow(one(policy(perms(permAny()), princs(prSA("CN=web"))))), subjectOnly, wantTrue},
		{"authenticated prefix (istio namespace)", allow(one(policy(perms(permAny()), princs(prAuth(prefix("spiffe://cluster.local/ns/default/")))))), get, wantTrue},
		{"authenticated consul regex", allow(one(policy(perms(permAny()), princs(prAuth(regex(`^spiffe://[^/]+/ns/default/dc/[^/]+/svc/web$`)))))), consul, wantTrue},
		{"authenticated consul regex other service", allow(one(policy(perms(permAny()), princs(prAuth(regex(`^spiffe://[^/]+/ns/default/dc/[^/]+/svc/api$`)))))), consul, wantFalse},
		{"authenticated invalid matcher", allow(one(policy(perms(permAny()), princs(prAuth(prefix("")))))), plain, wantInvalid},
		{"or_ids", allow(one(policy(perms(permAny()), princs(prOr(prSA(adminSA), prSA(webSA)))))), get, wantTrue},
		{"and_ids", allow(one(policy(perms(permAny()), princs(prAnd(prSA(webSA), prSourceIP(cidr("10.0.0.0", 24))))))), get, wantTrue},
		{"and_ids one fails", allow(one(policy(perms(permAny()), princs(prAnd(prSA(webSA), prSourceIP(cidr("10.9.0.0", 24))))))), get, wantFalse},
		{"not_id", allow(one(policy(perms(permAny()), princs(prNot(prSA(adminSA)))))), get, wantTrue},
		{"not_id of self", allow(one(policy(perms(permAny()), princs(prNot(prSA(webSA)))))), get, wantFalse},
		{"consul wildcard except", allow(one(policy(perms(permAny()), princs(prAnd(prAuth(regex(`^spiffe://[^/]+/ns/default/dc/[^/]+/svc/[^/]+$`)), prNot(prAuth(regex(`^spiffe://[^/]+/ns/default/dc/[^/]+/svc/web$`)))))))), consul, wantFalse},
		{"source_ip", allow(one(policy(perms(permAny()), princs(prSourceIP(cidr("10.0.0.5", 32)))))), get, wantTrue},
		{"direct_remote_ip", allow(one(policy(perms(permAny()), princs(prDirectIP(cidr("10.0.0.0", 8)))))), get, wantTrue},
		{"direct_remote_ip no", allow(one(policy(perms(permAny()), princs(prDirectIP(cidr("192.168.0.0", 16)))))), get, wantFalse},
		{"remote_ip", allow(one(policy(perms(permAny()), princs(prRemoteIP(cidr("10.0.0.0", 8)))))), get, wantTrue},
		{"remote_ip v6", allow(one(policy(perms(permAny()), princs(prRemoteIP(cidr("2001:db8::", 64)))))), v6, wantTrue},
		{"remote_ip v4 range, v6 peer", allow(one(policy(perms(permAny()), princs(prRemoteIP(cidr("0.0.0.0", 0)))))), v6, wantFalse},
		{"remote_ip with x-forwarded-for", allow(one(policy(perms(permAny()), princs(prRemoteIP(cidr("10.0.0.0", 8)))))), xff, wantUnsupported},
		{"direct_remote_ip with x-forwarded-for", allow(one(policy(perms(permAny()), princs(prDirectIP(cidr("10.0.0.0", 8)))))), xff, wantTrue},
		{"remote_ip with xff, or another id matches", allow(one(policy(perms(permAny()), princs(prRemoteIP(cidr("10.0.0.0", 8)), prSA(webSA))))), xff, wantTrue},
		{"remote_ip with xff, bad range still invalid", allow(one(policy(perms(permAny()), princs(prRemoteIP(cidr("x", 8)), prSA(webSA))))), xff, wantInvalid},
		{"principal header", allow(one(policy(perms(permAny()), princs(prHeader(hExact("x-user", "alice")))))), get, wantTrue},
		{"principal url_path", allow(one(policy(perms(permAny()), princs(prPath(prefix("/products")))))), get, wantTrue},
		{"principal filter_state unsupported", allow(one(policy(perms(permAny()), princs(prFilterState("io.istio.peer_principal", exact(webSA)))))), get, wantUnsupported},
		{"principal filter_state or a match", allow(one(policy(perms(permAny()), princs(prFilterState("io.istio.peer_principal", exact(webSA)), prSA(webSA))))), get, wantTrue},
		{"principal filter_state and a non-match", allow(one(policy(perms(permAny()), princs(prAnd(prFilterState("k", exact(webSA)), prSA(adminSA)))))), get, wantFalse},
		{"principal metadata unsupported", allow(one(policy(perms(permAny()), princs(&rbacv3.Principal{Identifier: &rbacv3.Principal_Metadata{Metadata: permMetadata().GetMetadata()}})))), get, wantUnsupported},
		{"principal custom unsupported", allow(one(policy(perms(permAny()), princs(&rbacv3.Principal{Identifier: &rbacv3.Principal_Custom{Custom: &corev3.TypedExtensionConfig{Name: "mtls", TypedConfig: mustAny(&structpb.Struct{})}}})))), get, wantUnsupported},
		{"principal without identifier", allow(one(policy(perms(permAny()), princs(&rbacv3.Principal{})))), get, wantInvalid},
		{"empty and_ids", allow(one(policy(perms(permAny()), princs(prAnd())))), get, wantInvalid},

		// Permissions.
		{"method GET", allow(one(policy(perms(permMethod("GET")), princs(prAny())))), get, wantTrue},
		{"method GET, POST request", allow(one(policy(perms(permMethod("GET")), princs(prAny())))), post, wantFalse},
		{"url_path prefix", allow(one(policy(perms(permPath(prefix("/products"))), princs(prAny())))), get, wantTrue},
		{"url_path exact ignores the query string", allow(one(policy(perms(permPath(exact("/products/1"))), princs(prAny())))), get, wantTrue},
		{":path header exact sees the query string", allow(one(policy(perms(permHeader(hExact(":path", "/products/1"))), princs(prAny())))), get, wantFalse},
		{"url_path regex full match", allow(one(policy(perms(permPath(regex("/products"))), princs(prAny())))), get, wantFalse},
		{"url_path regex /a does not match /ab", allow(one(policy(perms(permPath(regex("/a"))), princs(prAny())))), httpReq(webSA, "GET", "/ab"), wantFalse},
		{"and_rules method and path", allow(one(policy(perms(permAnd(permMethod("GET"), permPath(prefix("/products")))), princs(prSA(webSA))))), get, wantTrue},
		{"and_rules wrong method", allow(one(policy(perms(permAnd(permMethod("GET"), permPath(prefix("/products")))), princs(prSA(webSA))))), post, wantFalse},
		{"or_rules ports", allow(one(policy(perms(permOr(permPort(80), permPort(8080))), princs(prAny())))), get, wantTrue},
		{"or_rules ports no", allow(one(policy(perms(permOr(permPort(80), permPort(443))), princs(prAny())))), get, wantFalse},
		{"not_rule", allow(one(policy(perms(permNot(permMethod("DELETE"))), princs(prAny())))), get, wantTrue},
		{"not_rule matching", allow(one(policy(perms(permNot(permMethod("GET"))), princs(prAny())))), get, wantFalse},
		{"destination_port_range", allow(one(policy(perms(permPortRange(8000, 9000)), princs(prAny())))), get, wantTrue},
		{"destination_port_range end is exclusive", allow(one(policy(perms(permPortRange(8000, 8080)), princs(prAny())))), get, wantFalse},
		{"destination_port_range invalid", allow(one(policy(perms(permPortRange(9000, 8000)), princs(prAny())))), get, wantInvalid},
		{"destination_ip", allow(one(policy(perms(permDstIP(cidr("10.0.1.0", 24))), princs(prAny())))), get, wantTrue},
		{"destination_ip no", allow(one(policy(perms(permDstIP(cidr("10.0.2.0", 24))), princs(prAny())))), get, wantFalse},
		{"destination_ip without a destination", allow(one(policy(perms(permDstIP(cidr("10.0.2.0", 24))), princs(prAny())))), noDst, wantBadRequest},
		{"requested_server_name", allow(one(policy(perms(permSNI(suffix(".svc.cluster.local"))), princs(prAny())))), withSNI, wantTrue},
		{"requested_server_name without SNI", allow(one(policy(perms(permSNI(suffix(".svc.cluster.local"))), princs(prAny())))), get, wantFalse},
		{"metadata permission unsupported", allow(one(policy(perms(permMetadata()), princs(prAny())))), get, wantUnsupported},
		{"metadata permission or any", allow(one(policy(perms(permOr(permMetadata(), permAny())), princs(prAny())))), get, wantTrue},
		{"metadata permission and a non-match", allow(one(policy(perms(permAnd(permMetadata(), permMethod("POST"))), princs(prAny())))), get, wantFalse},
		{"not metadata unsupported", allow(one(policy(perms(permNot(permMetadata())), princs(prAny())))), get, wantUnsupported},
		{"permission matcher unsupported", allow(one(policy(perms(&rbacv3.Permission{Rule: &rbacv3.Permission_Matcher{Matcher: &corev3.TypedExtensionConfig{Name: "m", TypedConfig: mustAny(&structpb.Struct{})}}}), princs(prAny())))), get, wantUnsupported},
		{"permission uri_template unsupported", allow(one(policy(perms(&rbacv3.Permission{Rule: &rbacv3.Permission_UriTemplate{UriTemplate: &corev3.TypedExtensionConfig{Name: "t", TypedConfig: mustAny(&structpb.Struct{})}}}), princs(prAny())))), get, wantUnsupported},
		{"permission without rule", allow(one(policy(perms(&rbacv3.Permission{}), princs(prAny())))), get, wantInvalid},
		{"empty or_rules", allow(one(policy(perms(permOr()), princs(prAny())))), get, wantInvalid},

		// Policies.
		{"policy without principals", allow(one(policy(perms(permAny()), nil))), get, wantInvalid},
		{"policy without permissions", allow(one(policy(nil, princs(prAny())))), get, wantInvalid},
		{"policy condition unsupported", allow(one(cond)), get, wantUnsupported},
		{"policy condition, principal fails", allow(one(policy(perms(permAny()), princs(prSA(adminSA))))), get, wantFalse},
		{"permissions are ORed", allow(one(policy(perms(permMethod("POST"), permMethod("GET")), princs(prSA(webSA))))), get, wantTrue},
		{"principals are ORed", allow(one(policy(perms(permAny()), princs(prSA(adminSA), prSA(webSA))))), get, wantTrue},
		{"product-viewer doc example", allow(map[string]*rbacv3.Policy{
			"service-admin":  policy(perms(permAny()), princs(prSA("cluster.local/ns/default/sa/admin"), prSA("cluster.local/ns/default/sa/superuser"))),
			"product-viewer": policy(perms(permAnd(permMethod("GET"), permPath(prefix("/products")), permOr(permPort(80), permPort(443)))), princs(prAny())),
		}), get, wantFalse},
		{"ALLOW: unsupported policy, another matches", allow(map[string]*rbacv3.Policy{
			"a": policy(perms(permMetadata()), princs(prAny())),
			"b": policy(perms(permAny()), princs(prSA(webSA))),
		}), get, wantTrue},
		{"ALLOW: unsupported policy, none other matches", allow(map[string]*rbacv3.Policy{
			"a": policy(perms(permMetadata()), princs(prAny())),
			"b": policy(perms(permAny()), princs(prSA(adminSA))),
		}), get, wantUnsupported},
		{"DENY: unsupported policy, another matches", deny(map[string]*rbacv3.Policy{
			"a": policy(perms(permMetadata()), princs(prAny())),
			"b": policy(perms(permAny()), princs(prSA(webSA))),
		}), get, wantFalse},
		{"DENY: unsupported policy, none other matches", deny(map[string]*rbacv3.Policy{
			"a": policy(perms(permMetadata()), princs(prAny())),
		}), get, wantUnsupported},
		{"invalid policy is reported though another matches", allow(map[string]*rbacv3.Policy{
			"a": policy(perms(permPath(regex("("))), princs(prAny())),
			"b": policy(perms(permAny()), princs(prSA(webSA))),
		}), get, wantInvalid},
		{"nil policy", allow(map[string]*rbacv3.Policy{"a": nil}), get, wantInvalid},
	}
	for _, tc := range cases {
		fc := httpChain(httpRBAC("envoy.filters.http.rbac", tc.rules))
		ok, err := HTTPRBAC(fc, nil, tc.req)
		check(t, "http: "+tc.name, ok, err, tc.want)
	}
}

// TestNetworkRBAC checks connection-level RBAC: network filters see no HTTP
// request even when one is carried on the connection.
func TestNetworkRBAC(t *testing.T) {
	web := tcpReq(webSA)
	adm := tcpReq(adminSA)
	webHTTP := httpReq(webSA, "GET", "/")
	allowWeb := allow(map[string]*rbacv3.Policy{"web": policy(perms(permAny()), princs(prSA(webSA)))})
	denyWeb := deny(map[string]*rbacv3.Policy{"web": policy(perms(permAny()), princs(prSA(webSA)))})
	denyAdmin := deny(map[string]*rbacv3.Policy{"admin": policy(perms(permAny()), princs(prSA(adminSA)))})
	allowAll := allow(map[string]*rbacv3.Policy{"all": policy(perms(permAny()), princs(prAny()))})
	chain := func(fs ...*listenerv3.Filter) *listenerv3.FilterChain {
		return &listenerv3.FilterChain{Filters: append(fs, tcpProxy("inbound|8080||"))}
	}
	matcherRBAC := &listenerv3.Filter{Name: "rbac", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&netrbacv3.RBAC{
		StatPrefix: "x", Matcher: &xdsmatcherv3.Matcher{},
	})}}
	noRules := &listenerv3.Filter{Name: "rbac", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&netrbacv3.RBAC{StatPrefix: "x"})}}
	shadowOnly := &listenerv3.Filter{Name: "rbac", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&netrbacv3.RBAC{
		StatPrefix: "x", ShadowRules: allow(nil),
	})}}
	ecds := func(typeURL string) *listenerv3.Filter {
		return &listenerv3.Filter{Name: "ecds", ConfigType: &listenerv3.Filter_ConfigDiscovery{ConfigDiscovery: &corev3.ExtensionConfigSource{
			ConfigSource: &corev3.ConfigSource{}, TypeUrls: []string{typeURL},
		}}}
	}
	extAuthz := &listenerv3.Filter{Name: "ext_authz", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&extauthznetv3.ExtAuthz{StatPrefix: "x"})}}
	wrongType := &listenerv3.Filter{Name: "rbac", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: &anypb.Any{
		TypeUrl: "type.googleapis.com/" + typeNetworkRBAC, Value: []byte{0xff, 0xff},
	}}}
	typedStruct := &listenerv3.Filter{Name: "rbac", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&xdstypev3.TypedStruct{
		TypeUrl: "type.googleapis.com/" + typeNetworkRBAC, Value: &structpb.Struct{},
	})}}
	headerPerm := allow(map[string]*rbacv3.Policy{"get": policy(perms(permMethod("GET")), princs(prAny()))})
	notPresentPerm := allow(map[string]*rbacv3.Policy{"p": policy(perms(permHeader(hPresent(":method", false))), princs(prAny()))})

	cases := []struct {
		name string
		fc   *listenerv3.FilterChain
		req  Request
		want want
	}{
		{"no RBAC filter", chain(), web, wantTrue},
		{"allow web", chain(netRBAC(allowWeb)), web, wantTrue},
		{"allow web, admin", chain(netRBAC(allowWeb)), adm, wantFalse},
		{"deny web", chain(netRBAC(denyWeb)), web, wantFalse},
		{"deny web, admin", chain(netRBAC(denyWeb)), adm, wantTrue},
		{"two filters: allow all then deny admin", chain(netRBAC(allowAll), netRBAC(denyAdmin)), adm, wantFalse},
		{"two filters: allow all then deny admin, web", chain(netRBAC(allowAll), netRBAC(denyAdmin)), web, wantTrue},
		{"two filters: deny admin then allow web, admin", chain(netRBAC(denyAdmin), netRBAC(allowWeb)), adm, wantFalse},
		{"two filters: first denies, second would error", chain(netRBAC(allowWeb), netRBAC(allow(map[string]*rbacv3.Policy{"m": policy(perms(permMetadata()), princs(prAny()))}))), adm, wantFalse},
		{"absent rules enforce nothing", chain(noRules), adm, wantTrue},
		{"shadow rules are ignored", chain(shadowOnly), adm, wantTrue},
		{"empty ALLOW rules deny", chain(netRBAC(allow(nil))), web, wantFalse},
		{"header permission never matches on a connection", chain(netRBAC(headerPerm)), webHTTP, wantFalse},
		{"present_match false matches on a connection", chain(netRBAC(notPresentPerm)), webHTTP, wantTrue},
		{"matcher tree unsupported", chain(matcherRBAC), web, wantUnsupported},
		{"ext_authz unsupported", chain(extAuthz), web, wantUnsupported},
		{"ECDS RBAC unsupported", chain(ecds("type.googleapis.com/" + typeNetworkRBAC)), web, wantUnsupported},
		{"ECDS other filter ignored", chain(ecds("type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit")), web, wantTrue},
		{"undecodable RBAC config", chain(wrongType), web, wantInvalid},
		{"RBAC in a TypedStruct unsupported", chain(typedStruct), web, wantUnsupported},
		{"nil chain", nil, web, wantBadRequest},
	}
	for _, tc := range cases {
		ok, err := NetworkRBAC(tc.fc, tc.req)
		check(t, tc.name, ok, err, tc.want)
	}
}

// TestHTTPRBAC covers the HTTP filter chain: several RBAC filters, the
// router, per-route overrides, RDS and the connection manager's host
// rewriting.
func TestHTTPRBAC(t *testing.T) {
	get := httpReq(webSA, "GET", "/api/items")
	adm := httpReq(adminSA, "GET", "/api/items")
	health := httpReq(adminSA, "GET", "/healthz")
	allowWeb := allow(map[string]*rbacv3.Policy{"web": policy(perms(permAny()), princs(prSA(webSA)))})
	allowNone := allow(nil)
	denyWeb := deny(map[string]*rbacv3.Policy{"web": policy(perms(permAny()), princs(prSA(webSA)))})
	allowAdmin := allow(map[string]*rbacv3.Policy{"admin": policy(perms(permAny()), princs(prSA(adminSA)))})
	perRoute := func(r *rbacv3.RBAC) *anypb.Any {
		if r == nil {
			return mustAny(&httprbacv3.RBACPerRoute{})
		}
		return mustAny(&httprbacv3.RBACPerRoute{Rbac: &httprbacv3.RBAC{Rules: r}})
	}
	filterConfig := func(disabled bool, cfg *anypb.Any) *anypb.Any {
		return mustAny(&routev3.FilterConfig{Disabled: disabled, Config: cfg})
	}
	const rbacName = "envoy.filters.http.rbac"
	// routesWith: /healthz and / routes; per-filter configs at the levels.
	routesWith := func(rcCfg, vhCfg, healthCfg *anypb.Any) *routev3.RouteConfiguration {
		m := func(a *anypb.Any) map[string]*anypb.Any {
			if a == nil {
				return nil
			}
			return map[string]*anypb.Any{rbacName: a}
		}
		h := routeTo("health", pathMatch("/healthz"), "local_app")
		h.TypedPerFilterConfig = m(healthCfg)
		return &routev3.RouteConfiguration{
			Name:                 "inbound|8080",
			TypedPerFilterConfig: m(rcCfg),
			VirtualHosts: []*routev3.VirtualHost{{
				Name:                 "vh",
				Domains:              []string{"*"},
				TypedPerFilterConfig: m(vhCfg),
				Routes:               []*routev3.Route{h, routeTo("default", prefixMatch("/"), "local_app")},
			}},
		}
	}
	chainWith := func(rc *routev3.RouteConfiguration, filters ...*hcmv3.HttpFilter) *listenerv3.FilterChain {
		return &listenerv3.FilterChain{Filters: []*listenerv3.Filter{hcmFilter(inlineHCM(rc, append(filters, router())...))}}
	}
	disabledFilter := httpRBAC(rbacName, allowNone)
	disabledFilter.Disabled = true
	extAuthz := &hcmv3.HttpFilter{Name: "ext_authz", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&extauthzhttpv3.ExtAuthz{})}}
	extAuthzDisabled := &hcmv3.HttpFilter{Name: "ext_authz", Disabled: true, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&extauthzhttpv3.ExtAuthz{})}}
	ecdsRBAC := &hcmv3.HttpFilter{Name: "rbac", ConfigType: &hcmv3.HttpFilter_ConfigDiscovery{ConfigDiscovery: &corev3.ExtensionConfigSource{
		ConfigSource: &corev3.ConfigSource{}, TypeUrls: []string{"type.googleapis.com/" + typeHTTPRBAC},
	}}}
	ecdsOther := &hcmv3.HttpFilter{Name: "wasm", ConfigType: &hcmv3.HttpFilter_ConfigDiscovery{ConfigDiscovery: &corev3.ExtensionConfigSource{
		ConfigSource: &corev3.ConfigSource{}, TypeUrls: []string{"type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"},
	}}}
	matcherTree := &hcmv3.HttpFilter{Name: rbacName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&httprbacv3.RBAC{Matcher: &xdsmatcherv3.Matcher{}})}}
	noRules := &hcmv3.HttpFilter{Name: rbacName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&httprbacv3.RBAC{ShadowRules: allowNone})}}
	afterRouter := &listenerv3.FilterChain{Filters: []*listenerv3.Filter{hcmFilter(inlineHCM(simpleRoutes("x"), router(), httpRBAC(rbacName, allowWeb)))}}
	tcpOnly := &listenerv3.FilterChain{Filters: []*listenerv3.Filter{tcpProxy("x")}}

	// Weighted clusters with a per-filter config on an entry.
	wrc := routesWith(nil, nil, nil)
	wr := weighted("w", prefixMatch("/api"), "a", 50, "b", 50)
	wr.GetRoute().GetWeightedClusters().GetClusters()[0].TypedPerFilterConfig = map[string]*anypb.Any{rbacName: perRoute(nil)}
	wrc.VirtualHosts[0].Routes = append([]*routev3.Route{wr}, wrc.VirtualHosts[0].Routes...)

	// RDS.
	rds := &listenerv3.FilterChain{Filters: []*listenerv3.Filter{hcmFilter(&hcmv3.HttpConnectionManager{
		StatPrefix: "in",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: "inbound|8080", ConfigSource: &corev3.ConfigSource{},
		}},
		HttpFilters: []*hcmv3.HttpFilter{httpRBAC(rbacName, allowWeb), router()},
	})}}
	rdsNoRBAC := &listenerv3.FilterChain{Filters: []*listenerv3.Filter{hcmFilter(&hcmv3.HttpConnectionManager{
		StatPrefix: "in",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: "inbound|8080", ConfigSource: &corev3.ConfigSource{},
		}},
		HttpFilters: []*hcmv3.HttpFilter{router()},
	})}}
	scoped := &listenerv3.FilterChain{Filters: []*listenerv3.Filter{hcmFilter(&hcmv3.HttpConnectionManager{
		StatPrefix:     "in",
		RouteSpecifier: &hcmv3.HttpConnectionManager_ScopedRoutes{ScopedRoutes: &hcmv3.ScopedRoutes{}},
		HttpFilters:    []*hcmv3.HttpFilter{router()},
	})}}

	// Host rewriting before filters.
	authz := allow(map[string]*rbacv3.Policy{"host": policy(perms(permHeader(hExact(":authority", "api.default.svc.cluster.local"))), princs(prAny()))})
	hostChain := func(mod func(*hcmv3.HttpConnectionManager)) *listenerv3.FilterChain {
		h := inlineHCM(simpleRoutes("local_app"), httpRBAC(rbacName, authz), router())
		mod(h)
		return &listenerv3.FilterChain{Filters: []*listenerv3.Filter{hcmFilter(h)}}
	}
	stripAny := hostChain(func(h *hcmv3.HttpConnectionManager) {
		h.StripPortMode = &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true}
	})
	stripMatching := hostChain(func(h *hcmv3.HttpConnectionManager) { h.StripMatchingHostPort = true })
	stripDot := hostChain(func(h *hcmv3.HttpConnectionManager) {
		h.StripTrailingHostDot = true
		h.StripPortMode = &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true}
	})
	noStrip := hostChain(func(*hcmv3.HttpConnectionManager) {})
	onOtherPort := withAuthority(get, "api.default.svc.cluster.local:9090")
	dotted := withAuthority(get, "api.default.svc.cluster.local.:8080")

	xffRemote := allow(map[string]*rbacv3.Policy{"r": policy(perms(permAny()), princs(prRemoteIP(cidr("10.0.0.0", 8))))})
	ipDetect := hostChain(func(h *hcmv3.HttpConnectionManager) {
		h.HttpFilters = []*hcmv3.HttpFilter{httpRBAC(rbacName, xffRemote), router()}
		h.OriginalIpDetectionExtensions = []*corev3.TypedExtensionConfig{{Name: "xff", TypedConfig: mustAny(&structpb.Struct{})}}
	})
	// An RBAC filter after a route that has an unsupported match: the route
	// is only needed when per-route configs exist.
	unsupportedRoutes := simpleRoutes("local_app")
	unsupportedRoutes.VirtualHosts[0].Routes[0].Match.RuntimeFraction = &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 50}}
	unsupportedWithPerRoute := proto.Clone(unsupportedRoutes).(*routev3.RouteConfiguration)
	unsupportedWithPerRoute.VirtualHosts[0].TypedPerFilterConfig = map[string]*anypb.Any{rbacName: perRoute(nil)}

	cases := []struct {
		name string
		fc   *listenerv3.FilterChain
		rc   *routev3.RouteConfiguration
		req  Request
		want want
	}{
		{"no RBAC filter", httpChain(), nil, get, wantTrue},
		{"allow web", httpChain(httpRBAC(rbacName, allowWeb)), nil, get, wantTrue},
		{"allow web, admin", httpChain(httpRBAC(rbacName, allowWeb)), nil, adm, wantFalse},
		{"ALLOW then DENY: both must pass", httpChain(httpRBAC("a", allowWeb), httpRBAC("b", denyWeb)), nil, get, wantFalse},
		{"DENY then ALLOW: admin denied by ALLOW", httpChain(httpRBAC("a", denyWeb), httpRBAC("b", allowWeb)), nil, adm, wantFalse},
		{"DENY web then ALLOW admin: admin", httpChain(httpRBAC("a", denyWeb), httpRBAC("b", allowAdmin)), nil, adm, wantTrue},
		{"first denial decides, later error not reached", httpChain(httpRBAC("a", allowWeb), extAuthz), nil, adm, wantFalse},
		{"filters after the router are not run", afterRouter, nil, adm, wantTrue},
		{"absent rules enforce nothing", httpChain(noRules), nil, adm, wantTrue},
		{"matcher tree unsupported", httpChain(matcherTree), nil, get, wantUnsupported},
		{"ext_authz unsupported", httpChain(extAuthz), nil, get, wantUnsupported},
		{"disabled ext_authz ignored", httpChain(extAuthzDisabled), nil, get, wantTrue},
		{"ECDS RBAC unsupported", httpChain(ecdsRBAC), nil, get, wantUnsupported},
		{"ECDS other filter ignored", httpChain(ecdsOther), nil, get, wantTrue},
		{"no HCM", tcpOnly, nil, get, wantBadRequest},
		{"TCP request", httpChain(), nil, tcpReq(webSA), wantBadRequest},

		// Per-route overrides.
		{"route disables RBAC (RBACPerRoute without rbac)", chainWith(routesWith(nil, nil, perRoute(nil)), httpRBAC(rbacName, allowNone)), nil, health, wantTrue},
		{"other route keeps RBAC", chainWith(routesWith(nil, nil, perRoute(nil)), httpRBAC(rbacName, allowNone)), nil, get, wantFalse},
		{"route override rules", chainWith(routesWith(nil, nil, perRoute(allowAdmin)), httpRBAC(rbacName, allowWeb)), nil, health, wantTrue},
		{"route override rules, web", chainWith(routesWith(nil, nil, perRoute(allowAdmin)), httpRBAC(rbacName, allowWeb)), nil, withPath(get, "/healthz"), wantFalse},
		{"virtual host override", chainWith(routesWith(nil, perRoute(allowAdmin), nil), httpRBAC(rbacName, allowWeb)), nil, adm, wantTrue},
		{"route beats virtual host", chainWith(routesWith(nil, perRoute(nil), perRoute(allowWeb)), httpRBAC(rbacName, allowNone)), nil, health, wantFalse},
		{"virtual host beats route configuration", chainWith(routesWith(perRoute(nil), perRoute(allowWeb), nil), httpRBAC(rbacName, allowNone)), nil, adm, wantFalse},
		{"route configuration level", chainWith(routesWith(perRoute(nil), nil, nil), httpRBAC(rbacName, allowNone)), nil, adm, wantTrue},
		{"per-route config for another filter name", chainWith(routesWith(nil, nil, perRoute(nil)), httpRBAC("other", allowNone)), nil, health, wantFalse},
		{"FilterConfig disabled", chainWith(routesWith(nil, nil, filterConfig(true, nil)), httpRBAC(rbacName, allowNone)), nil, health, wantTrue},
		{"FilterConfig with RBACPerRoute", chainWith(routesWith(nil, nil, filterConfig(false, perRoute(allowAdmin))), httpRBAC(rbacName, allowNone)), nil, health, wantTrue},
		{"FilterConfig without config is invalid", chainWith(routesWith(nil, nil, filterConfig(false, nil)), httpRBAC(rbacName, allowNone)), nil, health, wantInvalid},
		{"FilterConfig with empty config enables", chainWith(routesWith(nil, nil, filterConfig(false, &anypb.Any{})), httpRBAC(rbacName, allowNone)), nil, health, wantFalse},
		{"disabled filter without route config is skipped", chainWith(routesWith(nil, nil, nil), disabledFilter), nil, get, wantTrue},
		{"disabled filter enabled by FilterConfig", chainWith(routesWith(nil, nil, filterConfig(false, &anypb.Any{})), disabledFilter), nil, health, wantFalse},
		{"disabled filter, FilterConfig elsewhere", chainWith(routesWith(nil, nil, filterConfig(false, &anypb.Any{})), disabledFilter), nil, get, wantTrue},
		{"disabled filter enabled by plain config unsupported", chainWith(routesWith(nil, nil, perRoute(allowNone)), disabledFilter), nil, health, wantUnsupported},
		{"FilterConfig disabled under plain config unsupported", chainWith(routesWith(nil, filterConfig(true, nil), perRoute(allowWeb)), httpRBAC(rbacName, allowNone)), nil, health, wantUnsupported},
		{"weighted cluster per-filter config unsupported", chainWith(wrc, httpRBAC(rbacName, allowWeb)), nil, get, wantUnsupported},
		{"wrong per-route type", chainWith(routesWith(nil, nil, mustAny(&structpb.Struct{})), httpRBAC(rbacName, allowWeb)), nil, health, wantInvalid},
		{"unsupported route match, no per-route config", chainWith(unsupportedRoutes, httpRBAC(rbacName, allowWeb)), nil, get, wantTrue},
		{"unsupported route match with per-route config", chainWith(unsupportedWithPerRoute, httpRBAC(rbacName, allowWeb)), nil, get, wantUnsupported},

		// RDS.
		{"RDS with its route configuration", rds, routesWith(nil, nil, perRoute(nil)), health, wantTrue},
		{"RDS route configuration without override", rds, routesWith(nil, nil, nil), health, wantFalse},
		{"RDS without the route configuration", rds, nil, get, wantBadRequest},
		{"RDS without RBAC needs no routes", rdsNoRBAC, nil, get, wantTrue},
		{"RDS with another route configuration", rds, simpleRoutes("x"), get, wantBadRequest},
		{"scoped routes unsupported", scoped, nil, get, wantUnsupported},

		// Host rewriting.
		{"authority keeps its port", noStrip, nil, get, wantFalse},
		{"strip_any_host_port", stripAny, nil, get, wantTrue},
		{"strip_matching_host_port, same port", stripMatching, nil, get, wantTrue},
		{"strip_matching_host_port, other port", stripMatching, nil, onOtherPort, wantFalse},
		{"strip_trailing_host_dot", stripDot, nil, dotted, wantTrue},
		{"trailing dot kept", stripAny, nil, dotted, wantFalse},
		{"original IP detection: remote_ip unsupported", ipDetect, nil, get, wantUnsupported},
	}
	for _, tc := range cases {
		ok, err := HTTPRBAC(tc.fc, tc.rc, tc.req)
		if tc.name == "no HCM" {
			if !errors.Is(err, ErrNoHTTPConnectionManager) {
				t.Errorf("%s: err = %v, want ErrNoHTTPConnectionManager", tc.name, err)
			}
			continue
		}
		check(t, tc.name, ok, err, tc.want)
	}
}

func withPath(r Request, p string) Request {
	h := *r.HTTP
	r.HTTP = &h
	r.HTTP.Path = p
	return r
}

func TestAuthorize(t *testing.T) {
	allowWeb := allow(map[string]*rbacv3.Policy{"web": policy(perms(permAny()), princs(prSA(webSA)))})
	allowGet := allow(map[string]*rbacv3.Policy{"get": policy(perms(permMethod("GET")), princs(prAny()))})
	httpFC := httpChain(httpRBAC("envoy.filters.http.rbac", allowGet))
	httpFC.Filters = append([]*listenerv3.Filter{netRBAC(allowWeb)}, httpFC.Filters...)
	tcpFC := &listenerv3.FilterChain{Filters: []*listenerv3.Filter{netRBAC(allowWeb), tcpProxy("x")}}
	cases := []struct {
		name string
		fc   *listenerv3.FilterChain
		req  Request
		want want
	}{
		{"network and HTTP allow", httpFC, httpReq(webSA, "GET", "/"), wantTrue},
		{"network denies", httpFC, httpReq(adminSA, "GET", "/"), wantFalse},
		{"HTTP denies", httpFC, httpReq(webSA, "POST", "/"), wantFalse},
		// The HTTP connection manager cannot parse raw TCP and closes it.
		{"TCP on an HTTP chain: closed by the connection manager", httpFC, tcpReq(webSA), wantFalse},
		{"HTTP on a TCP chain: network only", tcpFC, httpReq(webSA, "POST", "/"), wantTrue},
		{"HTTP on a TCP chain denied", tcpFC, httpReq(adminSA, "GET", "/"), wantFalse},
	}
	for _, tc := range cases {
		ok, err := Authorize(tc.fc, nil, tc.req)
		check(t, tc.name, ok, err, tc.want)
	}
	// A TypedStruct wrapping an HCM cannot be read.
	ts := &listenerv3.FilterChain{Filters: []*listenerv3.Filter{{Name: "hcm", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&xdstypev3.TypedStruct{
		TypeUrl: "type.googleapis.com/" + typeHCM, Value: &structpb.Struct{},
	})}}}}
	ok, err := Authorize(ts, nil, httpReq(webSA, "GET", "/"))
	check(t, "HCM in a TypedStruct", ok, err, wantUnsupported)
}

func TestTypedConfigNames(t *testing.T) {
	cases := map[string]string{
		"type.googleapis.com/envoy.config.route.v3.FilterConfig": "envoy.config.route.v3.FilterConfig",
		"example.com/a/b.C": "b.C",
		"b.C":               "b.C",
		"":                  "",
	}
	for in, want := range cases {
		if got := typeName(in); got != want {
			t.Errorf("typeName(%q) = %q, want %q", in, got, want)
		}
	}
	udpa := mustAny(&udpatypev1.TypedStruct{TypeUrl: "type.googleapis.com/" + typeHTTPRBAC})
	if n, err := anyType(udpa); err != nil || n != typeHTTPRBAC {
		t.Errorf("udpa TypedStruct: %q, %v", n, err)
	}
	xds := mustAny(&xdstypev3.TypedStruct{TypeUrl: "type.googleapis.com/" + typeHTTPRBAC})
	if n, err := anyType(xds); err != nil || n != typeHTTPRBAC {
		t.Errorf("xds TypedStruct: %q, %v", n, err)
	}
	broken := &anypb.Any{TypeUrl: "type.googleapis.com/" + typeXDSTypedStruct, Value: []byte{0xff}}
	_, err := anyType(broken)
	check(t, "broken TypedStruct", false, err, wantInvalid)
	broken.TypeUrl = "type.googleapis.com/" + typeUDPATypedStruct
	_, err = anyType(broken)
	check(t, "broken udpa TypedStruct", false, err, wantInvalid)
	if n, err := anyType(nil); n != "" || err != nil {
		t.Errorf("nil Any: %q, %v", n, err)
	}
	// An RBAC filter hidden in a TypedStruct is not silently skipped.
	hidden := &hcmv3.HttpFilter{Name: "rbac", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: udpa}}
	ok, err := HTTPRBAC(httpChain(hidden), nil, httpReq(webSA, "GET", "/"))
	check(t, "HTTP RBAC in a TypedStruct", ok, err, wantUnsupported)
	// A custom principal name matcher is unsupported on TLS but cannot
	// match on plaintext.
	custom := allow(map[string]*rbacv3.Policy{"c": policy(perms(permAny()), princs(prAuth(&matcherv3.StringMatcher{
		MatchPattern: &matcherv3.StringMatcher_Custom{Custom: &xdscorev3.TypedExtensionConfig{Name: "c", TypedConfig: mustAny(&structpb.Struct{})}},
	})))})
	ok, err = HTTPRBAC(httpChain(httpRBAC("r", custom)), nil, httpReq(webSA, "GET", "/"))
	check(t, "custom principal matcher on TLS", ok, err, wantUnsupported)
	plain := httpReq("", "GET", "/")
	plain.Plaintext = true
	ok, err = HTTPRBAC(httpChain(httpRBAC("r", custom)), nil, plain)
	check(t, "custom principal matcher on plaintext", ok, err, wantFalse)
}
