package envoyjudge

import (
	"sort"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// RouteDecision is what Envoy's router does with a request.
type RouteDecision struct {
	// VirtualHost is the name of the selected virtual host ("" if none).
	VirtualHost string
	// Route is the name of the matched route (may be ""), RouteIndex its
	// index in the virtual host's routes (-1 if none matched).
	Route      string
	RouteIndex int
	// NotFound is true when no virtual host or no route matches: Envoy
	// answers 404.
	NotFound bool
	// Clusters maps each upstream cluster the request may go to to its
	// relative weight: a single cluster has weight 1; weighted_clusters
	// entries keep their weights (entries naming the same cluster add up,
	// weight 0 entries are kept with 0).
	Clusters map[string]uint32
	// DirectResponse is the status of a direct_response route.
	DirectResponse *uint32
	// Redirect is the redirect action of a redirect route.
	Redirect *routev3.RedirectAction
}

// selection is the virtual host and route a request selects.
type selection struct {
	vhost *routev3.VirtualHost
	route *routev3.Route
	index int
}

// Route decides which virtual host and route of rc take the HTTP request,
// and what the route does. The request is taken as the router sees it (use
// HTTPRoute to apply the HttpConnectionManager's host rewriting first).
func Route(rc *routev3.RouteConfiguration, r Request) (RouteDecision, error) {
	v, err := newHTTPView(r.HTTP)
	if err != nil {
		return RouteDecision{RouteIndex: -1}, err
	}
	return decide(rc, v)
}

// HTTPRoute is Route for the HttpConnectionManager of a filter chain: its
// inline route configuration, or rc for RDS, with the request's host
// rewritten as the connection manager does (strip_any_host_port,
// strip_matching_host_port, strip_trailing_host_dot).
func HTTPRoute(fc *listenerv3.FilterChain, rc *routev3.RouteConfiguration, r Request) (RouteDecision, error) {
	none := RouteDecision{RouteIndex: -1}
	hcm, err := HTTPConnectionManager(fc)
	if err != nil {
		return none, err
	}
	v, err := hcmRequest(hcm, &r)
	if err != nil {
		return none, err
	}
	routes, err := hcmRoutes(hcm, rc)
	if err != nil {
		return none, err
	}
	if routes == nil {
		return none, badRequest("the RDS route configuration %q is needed", hcm.GetRds().GetRouteConfigName())
	}
	return decide(routes, v)
}

func decide(rc *routev3.RouteConfiguration, v *httpView) (RouteDecision, error) {
	d := RouteDecision{RouteIndex: -1}
	if rc == nil {
		return d, badRequest("no route configuration")
	}
	sel, err := selectRoute(rc, v)
	if err != nil {
		return d, err
	}
	if sel.vhost != nil {
		d.VirtualHost = sel.vhost.GetName()
	}
	if sel.route == nil {
		d.NotFound = true
		return d, nil
	}
	d.Route = sel.route.GetName()
	d.RouteIndex = sel.index
	switch a := sel.route.GetAction().(type) {
	case *routev3.Route_Route:
		clusters, err := routeClusters(a.Route)
		if err != nil {
			return d, err
		}
		d.Clusters = clusters
	case *routev3.Route_DirectResponse:
		status := a.DirectResponse.GetStatus()
		if status < 200 || status >= 600 {
			return d, invalid("direct_response status %d", status)
		}
		d.DirectResponse = &status
	case *routev3.Route_Redirect:
		d.Redirect = a.Redirect
	case *routev3.Route_FilterAction:
		return d, unsupported("route filter_action")
	case *routev3.Route_NonForwardingAction:
		return d, unsupported("route non_forwarding_action")
	default:
		return d, invalid("route %q without an action", sel.route.GetName())
	}
	return d, nil
}

func routeClusters(a *routev3.RouteAction) (map[string]uint32, error) {
	switch cs := a.GetClusterSpecifier().(type) {
	case *routev3.RouteAction_Cluster:
		if cs.Cluster == "" {
			return nil, invalid("route action with an empty cluster name")
		}
		return map[string]uint32{cs.Cluster: 1}, nil
	case *routev3.RouteAction_WeightedClusters:
		wc := cs.WeightedClusters
		if wc.GetRuntimeKeyPrefix() != "" {
			return nil, unsupported("weighted_clusters runtime_key_prefix")
		}
		if len(wc.GetClusters()) == 0 {
			return nil, invalid("weighted_clusters without clusters")
		}
		out := map[string]uint32{}
		var total uint64
		for _, c := range wc.GetClusters() {
			if c.GetClusterHeader() != "" {
				return nil, unsupported("weighted cluster with cluster_header %q", c.GetClusterHeader())
			}
			if c.GetName() == "" {
				return nil, invalid("weighted cluster without a name")
			}
			w := c.GetWeight().GetValue()
			total += uint64(w)
			out[c.GetName()] += w
		}
		// "The sum of weights across all entries in the clusters array must
		// be greater than 0, and must not exceed uint32_t maximal value."
		if total == 0 || total > 0xFFFFFFFF {
			return nil, invalid("weighted_clusters total weight %d", total)
		}
		return out, nil
	case *routev3.RouteAction_ClusterHeader:
		return nil, unsupported("route action cluster_header %q", cs.ClusterHeader)
	case *routev3.RouteAction_ClusterSpecifierPlugin:
		return nil, unsupported("route action cluster_specifier_plugin %q", cs.ClusterSpecifierPlugin)
	case *routev3.RouteAction_InlineClusterSpecifierPlugin:
		return nil, unsupported("route action inline_cluster_specifier_plugin")
	default:
		return nil, invalid("route action without a cluster specifier")
	}
}

// selectRoute finds the virtual host, then the first route that matches
// ("The list of routes that will be matched, in order, for incoming
// requests. The first route that matches will be used.").
func selectRoute(rc *routev3.RouteConfiguration, v *httpView) (*selection, error) {
	if rc == nil {
		return &selection{index: -1}, nil
	}
	if err := rc.ValidateAll(); err != nil {
		return nil, invalid("route configuration %q: %v", rc.GetName(), err)
	}
	if rc.GetIgnorePathParametersInPathMatching() {
		return nil, unsupported("ignore_path_parameters_in_path_matching")
	}
	vh, err := selectVirtualHost(rc, v)
	if err != nil {
		return nil, err
	}
	sel := &selection{vhost: vh, index: -1}
	if vh == nil {
		return sel, nil
	}
	if vh.GetMatcher() != nil {
		return nil, unsupported("virtual host %q uses a matcher tree", vh.GetName())
	}
	if vh.GetRequireTls() != routev3.VirtualHost_NONE {
		return nil, unsupported("virtual host %q require_tls", vh.GetName())
	}
	for i, rt := range vh.GetRoutes() {
		ok, err := routeMatches(rt, v)
		if err != nil {
			return nil, err
		}
		if ok {
			sel.route, sel.index = rt, i
			return sel, nil
		}
	}
	return sel, nil
}

// selectVirtualHost follows VirtualHost.domains: "Domain search order: 1.
// Exact domain names 2. Suffix domain wildcards 3. Prefix domain wildcards
// 4. Special wildcard * matching any domain. The wildcard will not match the
// empty string. The longest wildcards match first." The host is lower cased
// (host names are case insensitive; Envoy lower-cases domains and host).
func selectVirtualHost(rc *routev3.RouteConfiguration, v *httpView) (*routev3.VirtualHost, error) {
	if rc.GetVhds() != nil {
		return nil, unsupported("VHDS")
	}
	exact := map[string]*routev3.VirtualHost{}
	suffix := map[string]*routev3.VirtualHost{}
	prefix := map[string]*routev3.VirtualHost{}
	var def *routev3.VirtualHost
	seen := map[string]bool{}
	for _, vh := range rc.GetVirtualHosts() {
		if len(vh.GetDomains()) == 0 {
			return nil, invalid("virtual host %q without domains", vh.GetName())
		}
		for _, d := range vh.GetDomains() {
			d = asciiLower(d)
			if seen[d] {
				// "A domain must be unique across all virtual hosts or the
				// config will fail to load."
				return nil, invalid("domain %q in more than one virtual host", d)
			}
			seen[d] = true
			switch {
			case d == "":
				return nil, invalid("virtual host %q has an empty domain", vh.GetName())
			case d == "*":
				def = vh
			case d[0] == '*':
				suffix[d[1:]] = vh
			case d[len(d)-1] == '*':
				prefix[d[:len(d)-1]] = vh
			default:
				exact[d] = vh
			}
		}
	}
	if len(exact) == 0 && len(suffix) == 0 && len(prefix) == 0 {
		return def, nil
	}
	hostHeader := ":authority"
	if rc.GetVhostHeader() != "" {
		hostHeader = rc.GetVhostHeader()
	}
	host, ok, err := v.get(hostHeader)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	if rc.GetIgnorePortInHostMatching() {
		if i := hostPortStart(host); i >= 0 {
			host = host[:i]
		}
	}
	host = asciiLower(host)
	if vh, ok := exact[host]; ok {
		return vh, nil
	}
	if vh := longestWildcard(host, suffix, strings.HasSuffix); vh != nil {
		return vh, nil
	}
	if vh := longestWildcard(host, prefix, strings.HasPrefix); vh != nil {
		return vh, nil
	}
	return def, nil
}

func longestWildcard(host string, m map[string]*routev3.VirtualHost, has func(string, string) bool) *routev3.VirtualHost {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		if len(host) > len(k) && has(host, k) {
			return m[k]
		}
	}
	return nil
}

// routeMatches decides RouteMatch. prefix matches the start of :path
// (query string included); path, safe_regex and path_separated_prefix match
// the path once the query string is removed; case_sensitive (default true)
// applies to prefix, path and path_separated_prefix, not to safe_regex.
func routeMatches(rt *routev3.Route, v *httpView) (bool, error) {
	m := rt.GetMatch()
	if m == nil {
		return false, invalid("route %q without a match", rt.GetName())
	}
	cs := m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue()
	fold := func(s string) string {
		if cs {
			return s
		}
		return asciiLower(s)
	}
	full := v.path()
	path := withoutQuery(full)
	var parts []tri
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		parts = append(parts, mk(strings.HasPrefix(fold(full), fold(ps.Prefix)), nil))
	case *routev3.RouteMatch_Path:
		parts = append(parts, mk(fold(path) == fold(ps.Path), nil))
	case *routev3.RouteMatch_SafeRegex:
		parts = append(parts, mk(matchRegex(ps.SafeRegex, path)))
	case *routev3.RouteMatch_PathSeparatedPrefix:
		pre := ps.PathSeparatedPrefix
		if pre == "" || strings.ContainsAny(pre, "?#") || strings.HasSuffix(pre, "/") {
			return false, invalid("path_separated_prefix %q", pre)
		}
		ok := len(path) >= len(pre) && strings.HasPrefix(fold(path), fold(pre)) &&
			(len(path) == len(pre) || path[len(pre)] == '/')
		parts = append(parts, mk(ok, nil))
	case *routev3.RouteMatch_ConnectMatcher_:
		return false, unsupported("route match connect_matcher")
	case *routev3.RouteMatch_PathMatchPolicy:
		return false, unsupported("route match path_match_policy")
	default:
		return false, invalid("route %q match without a path specifier", rt.GetName())
	}
	switch {
	case m.GetRuntimeFraction() != nil:
		parts = append(parts, mk(false, unsupported("route match runtime_fraction")))
	case m.GetGrpc() != nil:
		parts = append(parts, mk(false, unsupported("route match grpc")))
	case m.GetTlsContext() != nil:
		parts = append(parts, mk(false, unsupported("route match tls_context")))
	case len(m.GetDynamicMetadata()) > 0:
		parts = append(parts, mk(false, unsupported("route match dynamic_metadata")))
	case len(m.GetFilterState()) > 0:
		parts = append(parts, mk(false, unsupported("route match filter_state")))
	case len(m.GetCookies()) > 0:
		parts = append(parts, mk(false, unsupported("route match cookies")))
	}
	for _, h := range m.GetHeaders() {
		parts = append(parts, mk(matchHeader(h, v)))
	}
	if len(m.GetQueryParameters()) > 0 {
		params := queryParams(full)
		for _, q := range m.GetQueryParameters() {
			parts = append(parts, mk(matchQueryParameter(q, params)))
		}
	}
	return allOf(parts)
}

// queryParams parses the query string of :path, keeping the first value of
// a repeated key ("In the event query parameters are repeated, only the
// first value for each key will be considered"). Values are not decoded.
func queryParams(path string) map[string]string {
	out := map[string]string{}
	_, q, ok := strings.Cut(path, "?")
	if !ok {
		return out
	}
	for _, kv := range strings.Split(q, "&") {
		if kv == "" {
			continue
		}
		k, val, _ := strings.Cut(kv, "=")
		if _, seen := out[k]; !seen {
			out[k] = val
		}
	}
	return out
}

func matchQueryParameter(q *routev3.QueryParameterMatcher, params map[string]string) (bool, error) {
	if q.GetName() == "" {
		return false, invalid("query parameter matcher without a name")
	}
	val, present := params[q.GetName()]
	switch s := q.GetQueryParameterMatchSpecifier().(type) {
	case *routev3.QueryParameterMatcher_StringMatch:
		if _, err := matchString(s.StringMatch, ""); err != nil {
			return false, err
		}
		if !present {
			return false, nil
		}
		return matchString(s.StringMatch, val)
	case *routev3.QueryParameterMatcher_PresentMatch:
		if !s.PresentMatch {
			return false, unsupported("query parameter %q present_match: false", q.GetName())
		}
		return present, nil
	default:
		return false, unsupported("query parameter matcher %q without a specifier", q.GetName())
	}
}
