package envoyjudge

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	udpatypev1 "github.com/cncf/xds/go/udpa/type/v1"
	xdstypev3 "github.com/cncf/xds/go/xds/type/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	netrbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Fully qualified message names of the typed configs the judge recognizes.
const (
	typeNetworkRBAC      = "envoy.extensions.filters.network.rbac.v3.RBAC"
	typeHTTPRBAC         = "envoy.extensions.filters.http.rbac.v3.RBAC"
	typeHTTPRBACPerRoute = "envoy.extensions.filters.http.rbac.v3.RBACPerRoute"
	typeHCM              = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	typeRouter           = "envoy.extensions.filters.http.router.v3.Router"
	typeFilterConfig     = "envoy.config.route.v3.FilterConfig"
	typeNetworkExtAuthz  = "envoy.extensions.filters.network.ext_authz.v3.ExtAuthz"
	typeHTTPExtAuthz     = "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"
	typeTLSInspector     = "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
	typeHTTPInspector    = "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"
	typeUDPATypedStruct  = "udpa.type.v1.TypedStruct"
	typeXDSTypedStruct   = "xds.type.v3.TypedStruct"
	nameTLSInspector     = "envoy.filters.listener.tls_inspector"
	nameHTTPInspector    = "envoy.filters.listener.http_inspector"
)

// typeName returns the message name a type URL names
// ("type.googleapis.com/a.b.C" -> "a.b.C").
func typeName(url string) string {
	return url[strings.LastIndexByte(url, '/')+1:]
}

// anyType returns the message name of a typed config, looking through
// TypedStruct wrappers.
func anyType(a *anypb.Any) (string, error) {
	if a == nil {
		return "", nil
	}
	switch n := typeName(a.GetTypeUrl()); n {
	case typeUDPATypedStruct:
		var ts udpatypev1.TypedStruct
		if err := a.UnmarshalTo(&ts); err != nil {
			return "", invalid("%s: %v", n, err)
		}
		return typeName(ts.GetTypeUrl()), nil
	case typeXDSTypedStruct:
		var ts xdstypev3.TypedStruct
		if err := a.UnmarshalTo(&ts); err != nil {
			return "", invalid("%s: %v", n, err)
		}
		return typeName(ts.GetTypeUrl()), nil
	default:
		return n, nil
	}
}

// unpack decodes a typed config of the expected message name.
func unpack(a *anypb.Any, want string, m proto.Message) error {
	if n := typeName(a.GetTypeUrl()); n != want {
		if t, _ := anyType(a); t == want {
			return unsupported("%s configured through a TypedStruct", want)
		}
		return invalid("typed config is %s, not %s", n, want)
	}
	if err := anypb.UnmarshalTo(a, m, proto.UnmarshalOptions{}); err != nil {
		return invalid("%s: %v", want, err)
	}
	return nil
}

// evalCtx is what RBAC matchers read.
type evalCtx struct {
	r    *Request
	http *httpView // nil for network filters
	// remoteIPErr is set when the remote address of an HTTP request may
	// come from x-forwarded-for or an original IP detection extension.
	remoteIPErr error
}

// evalRBAC applies RBAC rules: "ALLOW: Allows the request if and only if
// there is a policy that matches the request. DENY: Allows the request if and
// only if there are no policies that match the request. LOG: Allows all
// requests." (config.rbac.v3.RBAC.action). Policies are ORed.
func evalRBAC(rules *rbacv3.RBAC, c *evalCtx) (bool, error) {
	if err := rules.ValidateAll(); err != nil {
		return false, invalid("RBAC rules: %v", err)
	}
	switch rules.GetAction() {
	case rbacv3.RBAC_ALLOW, rbacv3.RBAC_DENY, rbacv3.RBAC_LOG:
	default:
		return false, unsupported("RBAC action %v", rules.GetAction())
	}
	names := make([]string, 0, len(rules.GetPolicies()))
	for name := range rules.GetPolicies() {
		names = append(names, name)
	}
	// "The policies are evaluated in lexicographic order of the policy
	// name" (RBAC.policies); the result does not depend on the order.
	sort.Strings(names)
	rs := make([]tri, 0, len(names))
	for _, name := range names {
		rs = append(rs, mk(evalPolicy(name, rules.GetPolicies()[name], c)))
	}
	matched, err := anyOf(rs)
	if err != nil {
		return false, err
	}
	switch rules.GetAction() {
	case rbacv3.RBAC_ALLOW:
		return matched, nil
	case rbacv3.RBAC_DENY:
		return !matched, nil
	default: // LOG
		return true, nil
	}
}

// evalPolicy: "A policy matches if and only if at least one of its
// permissions match the action taking place AND at least one of its
// principals match the downstream AND the condition is true if specified."
func evalPolicy(name string, p *rbacv3.Policy, c *evalCtx) (bool, error) {
	if p == nil {
		return false, invalid("policy %q is empty", name)
	}
	if len(p.GetPermissions()) == 0 {
		return false, invalid("policy %q has no permissions", name)
	}
	if len(p.GetPrincipals()) == 0 {
		return false, invalid("policy %q has no principals", name)
	}
	perms := make([]tri, 0, len(p.GetPermissions()))
	for _, perm := range p.GetPermissions() {
		perms = append(perms, mk(evalPermission(perm, c)))
	}
	princs := make([]tri, 0, len(p.GetPrincipals()))
	for _, pr := range p.GetPrincipals() {
		princs = append(princs, mk(evalPrincipal(pr, c)))
	}
	parts := []tri{mk(anyOf(perms)), mk(anyOf(princs))}
	if p.GetCondition() != nil || p.GetCheckedCondition() != nil {
		parts = append(parts, mk(false, unsupported("policy %q has a CEL condition", name)))
	}
	return allOf(parts)
}

func evalPermission(p *rbacv3.Permission, c *evalCtx) (bool, error) {
	if p == nil {
		return false, invalid("permission is missing")
	}
	switch rule := p.GetRule().(type) {
	case *rbacv3.Permission_AndRules:
		if len(rule.AndRules.GetRules()) == 0 {
			return false, invalid("and_rules without rules")
		}
		rs := make([]tri, 0, len(rule.AndRules.GetRules()))
		for _, sub := range rule.AndRules.GetRules() {
			rs = append(rs, mk(evalPermission(sub, c)))
		}
		return allOf(rs)
	case *rbacv3.Permission_OrRules:
		if len(rule.OrRules.GetRules()) == 0 {
			return false, invalid("or_rules without rules")
		}
		rs := make([]tri, 0, len(rule.OrRules.GetRules()))
		for _, sub := range rule.OrRules.GetRules() {
			rs = append(rs, mk(evalPermission(sub, c)))
		}
		return anyOf(rs)
	case *rbacv3.Permission_Any:
		if !rule.Any {
			return false, invalid("permission any: false")
		}
		return true, nil
	case *rbacv3.Permission_Header:
		return matchHeader(rule.Header, c.http)
	case *rbacv3.Permission_UrlPath:
		return matchPath(rule.UrlPath, c.http)
	case *rbacv3.Permission_DestinationIp:
		return inCIDR(rule.DestinationIp, c.r.DestinationIP, "destination IP")
	case *rbacv3.Permission_DestinationPort:
		if rule.DestinationPort > 65535 {
			return false, invalid("destination_port %d", rule.DestinationPort)
		}
		return c.r.DestinationPort == rule.DestinationPort, nil
	case *rbacv3.Permission_DestinationPortRange:
		rg := rule.DestinationPortRange
		if rg == nil || rg.GetStart() < 0 || rg.GetEnd() > 65536 || rg.GetStart() >= rg.GetEnd() {
			return false, invalid("destination_port_range %v", rg)
		}
		port := int64(c.r.DestinationPort)
		return int64(rg.GetStart()) <= port && port < int64(rg.GetEnd()), nil
	case *rbacv3.Permission_NotRule:
		ok, err := evalPermission(rule.NotRule, c)
		if err != nil {
			return false, err
		}
		return !ok, nil
	case *rbacv3.Permission_RequestedServerName:
		return matchString(rule.RequestedServerName, c.r.SNI)
	case *rbacv3.Permission_Metadata:
		return false, unsupported("permission metadata")
	case *rbacv3.Permission_SourcedMetadata:
		return false, unsupported("permission sourced_metadata")
	case *rbacv3.Permission_Matcher:
		return false, unsupported("permission matcher %q", rule.Matcher.GetName())
	case *rbacv3.Permission_UriTemplate:
		return false, unsupported("permission uri_template")
	case nil:
		return false, invalid("permission without a rule")
	default:
		return false, unsupported("permission %T", rule)
	}
}

func evalPrincipal(p *rbacv3.Principal, c *evalCtx) (bool, error) {
	if p == nil {
		return false, invalid("principal is missing")
	}
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_AndIds:
		if len(id.AndIds.GetIds()) == 0 {
			return false, invalid("and_ids without ids")
		}
		rs := make([]tri, 0, len(id.AndIds.GetIds()))
		for _, sub := range id.AndIds.GetIds() {
			rs = append(rs, mk(evalPrincipal(sub, c)))
		}
		return allOf(rs)
	case *rbacv3.Principal_OrIds:
		if len(id.OrIds.GetIds()) == 0 {
			return false, invalid("or_ids without ids")
		}
		rs := make([]tri, 0, len(id.OrIds.GetIds()))
		for _, sub := range id.OrIds.GetIds() {
			rs = append(rs, mk(evalPrincipal(sub, c)))
		}
		return anyOf(rs)
	case *rbacv3.Principal_Any:
		if !id.Any {
			return false, invalid("principal any: false")
		}
		return true, nil
	case *rbacv3.Principal_Authenticated_:
		return matchAuthenticated(id.Authenticated, c.r)
	case *rbacv3.Principal_SourceIp:
		// "This address will honor proxy protocol, but will not honor XFF."
		return inCIDR(id.SourceIp, c.r.SourceIP, "source IP")
	case *rbacv3.Principal_DirectRemoteIp:
		// "This is always the physical peer."
		return inCIDR(id.DirectRemoteIp, c.r.SourceIP, "source IP")
	case *rbacv3.Principal_RemoteIp:
		if c.remoteIPErr != nil {
			if _, err := parseCIDR(id.RemoteIp); err != nil {
				return false, err
			}
			return false, c.remoteIPErr
		}
		return inCIDR(id.RemoteIp, c.r.SourceIP, "source IP")
	case *rbacv3.Principal_Header:
		return matchHeader(id.Header, c.http)
	case *rbacv3.Principal_UrlPath:
		return matchPath(id.UrlPath, c.http)
	case *rbacv3.Principal_NotId:
		ok, err := evalPrincipal(id.NotId, c)
		if err != nil {
			return false, err
		}
		return !ok, nil
	case *rbacv3.Principal_Metadata:
		return false, unsupported("principal metadata")
	case *rbacv3.Principal_SourcedMetadata:
		return false, unsupported("principal sourced_metadata")
	case *rbacv3.Principal_FilterState:
		return false, unsupported("principal filter_state (key %q)", id.FilterState.GetKey())
	case *rbacv3.Principal_Custom:
		return false, unsupported("principal custom %q", id.Custom.GetName())
	case nil:
		return false, invalid("principal without an identifier")
	default:
		return false, unsupported("principal %T", id)
	}
}

// matchAuthenticated follows Principal.Authenticated.principal_name: "If
// set, The URI SAN or DNS SAN in that order is used from the certificate,
// otherwise the subject field is used. If unset, it applies to any user that
// is allowed by the downstream TLS configuration." A connection without TLS
// is not authenticated. Like Envoy, every URI SAN, then every DNS SAN, then
// the subject is tried.
func matchAuthenticated(a *rbacv3.Principal_Authenticated, r *Request) (bool, error) {
	m := a.GetPrincipalName()
	if m != nil {
		// Validate the matcher whatever the connection.
		if _, err := matchString(m, ""); err != nil && decisive(err) {
			return false, err
		}
	}
	if r.Plaintext {
		return false, nil
	}
	if m == nil {
		return true, nil
	}
	for _, s := range slices.Concat(r.PrincipalURIs, r.PeerDNSSANs) {
		if ok, _ := matchString(m, s); ok {
			return true, nil
		}
	}
	return matchString(m, r.PeerSubject)
}

// NetworkRBAC applies every envoy.filters.network.rbac filter of the filter
// chain, in order, to the connection. Network filters see no HTTP request:
// header and url_path matchers find no header and no path. Shadow rules are
// ignored. A filter without rules enforces nothing ("If absent, no
// enforcing RBAC policy will be applied. If present and empty, DENY.").
func NetworkRBAC(fc *listenerv3.FilterChain, r Request) (bool, error) {
	if fc == nil {
		return false, badRequest("no filter chain")
	}
	c := &evalCtx{r: &r}
	for i, f := range fc.GetFilters() {
		kind, a, err := networkFilterKind(f)
		if err != nil {
			return false, err
		}
		switch kind {
		case typeNetworkRBAC:
			var cfg netrbacv3.RBAC
			if err := unpack(a, typeNetworkRBAC, &cfg); err != nil {
				return false, err
			}
			if cfg.GetMatcher() != nil {
				return false, unsupported("network RBAC filter %q (#%d) uses a matcher tree", f.GetName(), i)
			}
			if cfg.GetRules() == nil {
				continue
			}
			ok, err := evalRBAC(cfg.GetRules(), c)
			if err != nil {
				return false, fmt.Errorf("network RBAC filter %q (#%d): %w", f.GetName(), i, err)
			}
			if !ok {
				return false, nil
			}
		case typeNetworkExtAuthz:
			return false, unsupported("network ext_authz filter %q: its decision is outside the configuration", f.GetName())
		}
	}
	return true, nil
}

// networkFilterKind returns the message name of a network filter's config.
func networkFilterKind(f *listenerv3.Filter) (string, *anypb.Any, error) {
	switch ct := f.GetConfigType().(type) {
	case *listenerv3.Filter_TypedConfig:
		n, err := anyType(ct.TypedConfig)
		return n, ct.TypedConfig, err
	case *listenerv3.Filter_ConfigDiscovery:
		for _, u := range ct.ConfigDiscovery.GetTypeUrls() {
			switch typeName(u) {
			case typeNetworkRBAC, typeNetworkExtAuthz, typeHCM:
				return "", nil, unsupported("network filter %q of type %s configured through config_discovery", f.GetName(), typeName(u))
			}
		}
		return "", nil, nil
	default:
		return "", nil, nil
	}
}
