package envoyjudge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	httprbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// HTTPConnectionManager returns the HttpConnectionManager of a filter chain.
func HTTPConnectionManager(fc *listenerv3.FilterChain) (*hcmv3.HttpConnectionManager, error) {
	if fc == nil {
		return nil, badRequest("no filter chain")
	}
	for _, f := range fc.GetFilters() {
		kind, a, err := networkFilterKind(f)
		if err != nil {
			return nil, err
		}
		if kind == typeHCM {
			var hcm hcmv3.HttpConnectionManager
			if err := unpack(a, typeHCM, &hcm); err != nil {
				return nil, err
			}
			return &hcm, nil
		}
	}
	return nil, ErrNoHTTPConnectionManager
}

// hcmRequest builds the request as the HttpConnectionManager's filters and
// router see it: host port and trailing dot stripped as configured.
func hcmRequest(hcm *hcmv3.HttpConnectionManager, r *Request) (*httpView, error) {
	v, err := newHTTPView(r.HTTP)
	if err != nil {
		return nil, err
	}
	host := v.headers[":authority"]
	if hcm.GetStripTrailingHostDot() {
		// "host value example.com.:443 will be updated to example.com:443".
		h, port := host, ""
		if i := hostPortStart(host); i >= 0 {
			h, port = host[:i], host[i:]
		}
		host = strings.TrimSuffix(h, ".") + port
	}
	if i := hostPortStart(host); i >= 0 {
		port, perr := strconv.ParseUint(host[i+1:], 10, 32)
		switch {
		case hcm.GetStripAnyHostPort():
			if perr == nil {
				host = host[:i]
			}
		case hcm.GetStripMatchingHostPort():
			// "The port would be removed only if it is equal to the
			// listener's local port"; the judge takes the request's
			// destination port as the listener's local port.
			if perr == nil && uint32(port) == r.DestinationPort {
				host = host[:i]
			}
		}
	}
	v.headers[":authority"] = host
	return v, nil
}

// remoteIPError says when the remote address of an HTTP request is not
// simply the peer's: x-forwarded-for and original IP detection extensions
// are not modeled.
func remoteIPError(hcm *hcmv3.HttpConnectionManager, r *Request) error {
	if len(hcm.GetOriginalIpDetectionExtensions()) > 0 {
		return unsupported("remote_ip with original_ip_detection_extensions")
	}
	if _, ok := r.HTTP.Headers["x-forwarded-for"]; ok {
		return unsupported("remote_ip with an x-forwarded-for request header")
	}
	return nil
}

// hcmRoutes returns the route configuration the HttpConnectionManager uses:
// its inline route_config, or rc for RDS (rc may be nil when unknown).
func hcmRoutes(hcm *hcmv3.HttpConnectionManager, rc *routev3.RouteConfiguration) (*routev3.RouteConfiguration, error) {
	switch rs := hcm.GetRouteSpecifier().(type) {
	case *hcmv3.HttpConnectionManager_RouteConfig:
		return rs.RouteConfig, nil
	case *hcmv3.HttpConnectionManager_Rds:
		if rc == nil {
			return nil, nil
		}
		if rc.GetName() != rs.Rds.GetRouteConfigName() {
			return nil, badRequest("route configuration %q given for RDS route_config_name %q", rc.GetName(), rs.Rds.GetRouteConfigName())
		}
		return rc, nil
	case *hcmv3.HttpConnectionManager_ScopedRoutes:
		return nil, unsupported("scoped_routes")
	default:
		return nil, invalid("http_connection_manager without a route specifier")
	}
}

// HTTPRBAC applies the envoy.filters.http.rbac filters of the filter chain's
// HttpConnectionManager, in order, up to the router, to r.HTTP. rc is the
// route configuration for an HttpConnectionManager that uses RDS (ignored
// when the route configuration is inline); it is needed only to find
// per-route RBAC overrides (RBACPerRoute in typed_per_filter_config), and
// when it is nil with RDS, the judge assumes nothing and returns an error if
// an RBAC filter is present. The first filter that denies the request
// decides (Envoy answers 403).
func HTTPRBAC(fc *listenerv3.FilterChain, rc *routev3.RouteConfiguration, r Request) (bool, error) {
	hcm, err := HTTPConnectionManager(fc)
	if err != nil {
		return false, err
	}
	v, err := hcmRequest(hcm, &r)
	if err != nil {
		return false, err
	}
	routes, err := hcmRoutes(hcm, rc)
	if err != nil {
		return false, err
	}
	c := &evalCtx{r: &r, http: v, remoteIPErr: remoteIPError(hcm, &r)}
	var sel *selection // the route, found when a filter needs it
	for i, f := range hcm.GetHttpFilters() {
		var a *anypb.Any
		var kind string
		switch ct := f.GetConfigType().(type) {
		case *hcmv3.HttpFilter_TypedConfig:
			a = ct.TypedConfig
			if kind, err = anyType(a); err != nil {
				return false, err
			}
		case *hcmv3.HttpFilter_ConfigDiscovery:
			for _, u := range ct.ConfigDiscovery.GetTypeUrls() {
				switch typeName(u) {
				case typeHTTPRBAC, typeHTTPExtAuthz:
					return false, unsupported("HTTP filter %q of type %s configured through config_discovery", f.GetName(), typeName(u))
				}
			}
			continue
		default:
			continue
		}
		switch kind {
		case typeRouter:
			return true, nil
		case typeHTTPExtAuthz:
			if !f.GetDisabled() {
				return false, unsupported("HTTP ext_authz filter %q: its decision is outside the configuration", f.GetName())
			}
			continue
		case typeHTTPRBAC:
		default:
			continue
		}
		if sel == nil {
			if routes == nil {
				if _, rds := hcm.GetRouteSpecifier().(*hcmv3.HttpConnectionManager_Rds); rds {
					return false, badRequest("HTTP RBAC filter %q: the RDS route configuration %q is needed for per-route overrides", f.GetName(), hcm.GetRds().GetRouteConfigName())
				}
			}
			if sel, err = selectRoute(routes, v); err != nil {
				// The route decides per-route overrides only if there are
				// any; the regex engine failing is never an answer.
				if hasPerFilterConfig(routes, f.GetName()) || errors.Is(err, ErrRegexEngine) {
					return false, err
				}
				sel = &selection{}
			}
		}
		cfg, skip, err := effectiveRBAC(f, a, sel, routes)
		if err != nil {
			return false, fmt.Errorf("HTTP RBAC filter %q (#%d): %w", f.GetName(), i, err)
		}
		if skip {
			continue
		}
		if cfg.GetMatcher() != nil {
			return false, unsupported("HTTP RBAC filter %q (#%d) uses a matcher tree", f.GetName(), i)
		}
		if cfg.GetRules() == nil {
			continue
		}
		ok, err := evalRBAC(cfg.GetRules(), c)
		if err != nil {
			return false, fmt.Errorf("HTTP RBAC filter %q (#%d): %w", f.GetName(), i, err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// hasPerFilterConfig reports whether any level of the route configuration
// carries a typed_per_filter_config entry for the filter name.
func hasPerFilterConfig(rc *routev3.RouteConfiguration, name string) bool {
	if rc == nil {
		return false
	}
	if _, ok := rc.GetTypedPerFilterConfig()[name]; ok {
		return true
	}
	for _, vh := range rc.GetVirtualHosts() {
		if _, ok := vh.GetTypedPerFilterConfig()[name]; ok {
			return true
		}
		for _, rt := range vh.GetRoutes() {
			if _, ok := rt.GetTypedPerFilterConfig()[name]; ok {
				return true
			}
			for _, wc := range rt.GetRoute().GetWeightedClusters().GetClusters() {
				if _, ok := wc.GetTypedPerFilterConfig()[name]; ok {
					return true
				}
			}
		}
	}
	return false
}

// perFilterEntry is one typed_per_filter_config entry for the filter.
type perFilterEntry struct {
	level string
	fc    *routev3.FilterConfig // set when the entry is a FilterConfig
	cfg   *anypb.Any            // the per-route config, if any
}

// effectiveRBAC returns the RBAC configuration an HTTP RBAC filter applies
// to the request, or skip when the filter is disabled for it. The most
// specific typed_per_filter_config entry (route, then virtual host, then
// route configuration) wins; a FilterConfig entry may disable the filter;
// an RBACPerRoute without rbac disables it ("If absent, RBAC policy will be
// disabled for this route").
func effectiveRBAC(f *hcmv3.HttpFilter, a *anypb.Any, sel *selection, rc *routev3.RouteConfiguration) (cfg *httprbacv3.RBAC, skip bool, err error) {
	var global httprbacv3.RBAC
	if err := unpack(a, typeHTTPRBAC, &global); err != nil {
		return nil, false, err
	}
	var entries []perFilterEntry
	if sel.route != nil {
		for _, wc := range sel.route.GetRoute().GetWeightedClusters().GetClusters() {
			if _, ok := wc.GetTypedPerFilterConfig()[f.GetName()]; ok {
				return nil, false, unsupported("per-route RBAC configuration on weighted cluster %q", wc.GetName())
			}
		}
		levels := []struct {
			name string
			m    map[string]*anypb.Any
		}{
			{"route", sel.route.GetTypedPerFilterConfig()},
			{"virtual host", sel.vhost.GetTypedPerFilterConfig()},
			{"route configuration", rc.GetTypedPerFilterConfig()},
		}
		for _, l := range levels {
			e, ok := l.m[f.GetName()]
			if !ok {
				continue
			}
			pe := perFilterEntry{level: l.name, cfg: e}
			if typeName(e.GetTypeUrl()) == typeFilterConfig {
				var fcfg routev3.FilterConfig
				if err := unpack(e, typeFilterConfig, &fcfg); err != nil {
					return nil, false, err
				}
				pe.fc = &fcfg
				pe.cfg = nil
				if !fcfg.GetDisabled() {
					if fcfg.GetConfig() == nil {
						return nil, false, invalid("empty FilterConfig at %s level", l.name)
					}
					if fcfg.GetConfig().GetTypeUrl() != "" {
						pe.cfg = fcfg.GetConfig()
					}
				}
			}
			entries = append(entries, pe)
		}
	}
	if len(entries) == 0 {
		if f.GetDisabled() {
			return nil, true, nil
		}
		return &global, false, nil
	}
	top := entries[0]
	for _, e := range entries[1:] {
		if e.fc != nil && e.fc.GetDisabled() && top.fc == nil {
			return nil, false, unsupported("FilterConfig disabled at %s level under a plain per-route config at %s level", e.level, top.level)
		}
	}
	if top.fc != nil && top.fc.GetDisabled() {
		return nil, true, nil
	}
	if f.GetDisabled() && top.fc == nil {
		return nil, false, unsupported("disabled filter enabled by a plain per-route config at %s level", top.level)
	}
	if top.cfg == nil {
		// A FilterConfig with an empty config enables the filter with its
		// listener-level configuration.
		if len(entries) > 1 {
			return nil, false, unsupported("FilterConfig without config at %s level over other per-route configs", top.level)
		}
		return &global, false, nil
	}
	var per httprbacv3.RBACPerRoute
	if err := unpack(top.cfg, typeHTTPRBACPerRoute, &per); err != nil {
		return nil, false, err
	}
	if per.GetRbac() == nil {
		return nil, true, nil
	}
	return per.GetRbac(), false, nil
}

// Authorize decides whether the sidecar lets the request through the filter
// chain: the network RBAC filters, then, for an HTTP request on a chain with
// an HttpConnectionManager, its HTTP RBAC filters (rc as for HTTPRBAC).
func Authorize(fc *listenerv3.FilterChain, rc *routev3.RouteConfiguration, r Request) (bool, error) {
	ok, err := NetworkRBAC(fc, r)
	if err != nil || !ok {
		return ok, err
	}
	if r.HTTP == nil {
		// Raw TCP: an HttpConnectionManager (a terminal filter) takes the
		// bytes as HTTP, fails to parse them and closes the connection.
		if _, err := HTTPConnectionManager(fc); err == nil {
			return false, nil
		}
		return true, nil
	}
	if _, err := HTTPConnectionManager(fc); err == ErrNoHTTPConnectionManager {
		return true, nil
	}
	return HTTPRBAC(fc, rc, r)
}
