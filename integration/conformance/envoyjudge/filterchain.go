package envoyjudge

import (
	"net/netip"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

// conn is the connection as the filter chain match sees it, after the
// listener filters.
type conn struct {
	r         *Request
	transport string
	sni       string
	alpn      []string
}

// FilterChain selects the filter chain of the listener that takes the
// connection, following FilterChainMatch: the criteria are applied in the
// order destination port, destination IP, server name, transport protocol,
// application protocols, directly connected source IP, source type, source
// IP (and source port, unsupported); at each step only the chains that most
// specifically match the connection go on ("filter chains specifying the
// destination port of incoming traffic are the most specific match. If none
// of the filter chains specifies the exact destination port, the filter
// chains which do not specify ports are the most specific match. Filter
// chains specifying the wrong port can never be the most specific match.").
// When no chain is left, the default_filter_chain takes the connection; with
// none, FilterChain returns ErrNoFilterChain.
func FilterChain(l *listenerv3.Listener, r Request) (*listenerv3.FilterChain, error) {
	if l == nil {
		return nil, badRequest("no listener")
	}
	if l.GetFilterChainMatcher() != nil {
		return nil, unsupported("listener %q uses filter_chain_matcher", l.GetName())
	}
	c, err := inspect(l, &r)
	if err != nil {
		return nil, err
	}
	cands := make([]*listenerv3.FilterChain, 0, len(l.GetFilterChains()))
	for _, fc := range l.GetFilterChains() {
		m := fc.GetFilterChainMatch()
		if m.GetAddressSuffix() != "" || m.GetSuffixLen() != nil {
			return nil, unsupported("filter chain %q uses address_suffix/suffix_len", fc.GetName())
		}
		if err := m.ValidateAll(); err != nil {
			return nil, invalid("filter chain %q: %v", fc.GetName(), err)
		}
		cands = append(cands, fc)
	}
	stages := []func([]*listenerv3.FilterChain, *conn) ([]*listenerv3.FilterChain, error){
		byDestinationPort,
		byDestinationIP,
		byServerName,
		byTransportProtocol,
		byApplicationProtocols,
		byDirectSourceIP,
		bySourceType,
		bySourceIP,
		bySourcePort,
	}
	for _, stage := range stages {
		if len(cands) == 0 {
			break
		}
		if cands, err = stage(cands, c); err != nil {
			return nil, err
		}
	}
	switch len(cands) {
	case 0:
		if l.GetDefaultFilterChain() != nil {
			return l.GetDefaultFilterChain(), nil
		}
		return nil, ErrNoFilterChain
	case 1:
		return cands[0], nil
	default:
		// "The listener guarantees at most 1 filter chain is left after all
		// of the steps": Envoy rejects listeners with duplicate matches.
		return nil, invalid("listener %q: filter chains %q and %q have the same match", l.GetName(), cands[0].GetName(), cands[1].GetName())
	}
}

// inspect derives the transport protocol, server name and application
// protocols the listener filters detect.
func inspect(l *listenerv3.Listener, r *Request) (*conn, error) {
	c := &conn{r: r, transport: "raw_buffer"}
	tls, err := hasListenerFilter(l, typeTLSInspector, nameTLSInspector, r)
	if err != nil {
		return nil, err
	}
	httpInspector, err := hasListenerFilter(l, typeHTTPInspector, nameHTTPInspector, r)
	if err != nil {
		return nil, err
	}
	switch {
	case !r.Plaintext && tls:
		// tls_inspector: transport_protocol "tls", SNI and ALPN.
		c.transport, c.sni, c.alpn = "tls", r.SNI, r.ALPN
	case r.Plaintext && httpInspector:
		c.alpn = r.ALPN
	}
	return c, nil
}

// hasListenerFilter reports whether the listener has the listener filter
// and it is not disabled for the connection by its filter_disabled
// predicate.
func hasListenerFilter(l *listenerv3.Listener, typ, legacyName string, r *Request) (bool, error) {
	for _, f := range l.GetListenerFilters() {
		switch ct := f.GetConfigType().(type) {
		case *listenerv3.ListenerFilter_TypedConfig:
			n, err := anyType(ct.TypedConfig)
			if err != nil {
				return false, err
			}
			if n != typ {
				continue
			}
		case *listenerv3.ListenerFilter_ConfigDiscovery:
			for _, u := range ct.ConfigDiscovery.GetTypeUrls() {
				if typeName(u) == typ {
					return false, unsupported("listener filter %q of type %s configured through config_discovery", f.GetName(), typ)
				}
			}
			continue
		default:
			if f.GetName() != legacyName {
				continue
			}
		}
		if f.GetFilterDisabled() == nil {
			return true, nil
		}
		disabled, err := evalListenerPredicate(f.GetFilterDisabled(), r)
		if err != nil {
			return false, err
		}
		if !disabled {
			return true, nil
		}
	}
	return false, nil
}

// evalListenerPredicate evaluates a ListenerFilterChainMatchPredicate.
func evalListenerPredicate(p *listenerv3.ListenerFilterChainMatchPredicate, r *Request) (bool, error) {
	switch rule := p.GetRule().(type) {
	case *listenerv3.ListenerFilterChainMatchPredicate_OrMatch:
		if len(rule.OrMatch.GetRules()) < 2 {
			return false, invalid("or_match with fewer than 2 rules")
		}
		for _, sub := range rule.OrMatch.GetRules() {
			ok, err := evalListenerPredicate(sub, r)
			if err != nil {
				return false, err
			}
			if ok {
				return true, nil
			}
		}
		return false, nil
	case *listenerv3.ListenerFilterChainMatchPredicate_AndMatch:
		if len(rule.AndMatch.GetRules()) < 2 {
			return false, invalid("and_match with fewer than 2 rules")
		}
		for _, sub := range rule.AndMatch.GetRules() {
			ok, err := evalListenerPredicate(sub, r)
			if err != nil {
				return false, err
			}
			if !ok {
				return false, nil
			}
		}
		return true, nil
	case *listenerv3.ListenerFilterChainMatchPredicate_NotMatch:
		ok, err := evalListenerPredicate(rule.NotMatch, r)
		return !ok, err
	case *listenerv3.ListenerFilterChainMatchPredicate_AnyMatch:
		if !rule.AnyMatch {
			return false, invalid("any_match: false")
		}
		return true, nil
	case *listenerv3.ListenerFilterChainMatchPredicate_DestinationPortRange:
		rg := rule.DestinationPortRange
		port := int64(r.DestinationPort)
		return int64(rg.GetStart()) <= port && port < int64(rg.GetEnd()), nil
	default:
		return false, invalid("listener filter predicate without a rule")
	}
}

// keepBest keeps the candidates with the highest score; a negative score
// drops the candidate (it cannot match).
func keepBest(cands []*listenerv3.FilterChain, score func(*listenerv3.FilterChainMatch) (int, error)) ([]*listenerv3.FilterChain, error) {
	best := -1
	var out []*listenerv3.FilterChain
	for _, fc := range cands {
		s, err := score(fc.GetFilterChainMatch())
		if err != nil {
			return nil, err
		}
		switch {
		case s < 0:
		case s > best:
			best, out = s, []*listenerv3.FilterChain{fc}
		case s == best:
			out = append(out, fc)
		}
	}
	return out, nil
}

func byDestinationPort(cands []*listenerv3.FilterChain, c *conn) ([]*listenerv3.FilterChain, error) {
	return keepBest(cands, func(m *listenerv3.FilterChainMatch) (int, error) {
		switch {
		case m.GetDestinationPort() == nil:
			return 0, nil
		case m.GetDestinationPort().GetValue() == c.r.DestinationPort:
			return 1, nil
		default:
			return -1, nil
		}
	})
}

// cidrScore scores an address against a list of ranges: the longest
// matching prefix length + 1, 0 for an empty list (any address: Envoy
// prefers an explicit range, even 0.0.0.0/0, to none), -1 when no range
// contains the address.
func cidrScore(ranges []*corev3.CidrRange, a netip.Addr, what string) (int, error) {
	if len(ranges) == 0 {
		return 0, nil
	}
	if !a.IsValid() {
		return 0, badRequest("the request has no %s", what)
	}
	best := -1
	for _, rg := range ranges {
		p, err := parseCIDR(rg)
		if err != nil {
			return 0, err
		}
		if p.Contains(a.Unmap()) && p.Bits()+1 > best {
			best = p.Bits() + 1
		}
	}
	return best, nil
}

func byDestinationIP(cands []*listenerv3.FilterChain, c *conn) ([]*listenerv3.FilterChain, error) {
	return keepBest(cands, func(m *listenerv3.FilterChainMatch) (int, error) {
		return cidrScore(m.GetPrefixRanges(), c.r.DestinationIP, "destination IP")
	})
}

// byServerName: "The server name will be matched against all wildcard
// domains, i.e. www.example.com will be first matched against
// www.example.com, then *.example.com, then *.com."
func byServerName(cands []*listenerv3.FilterChain, c *conn) ([]*listenerv3.FilterChain, error) {
	sni := asciiLower(c.sni)
	return keepBest(cands, func(m *listenerv3.FilterChainMatch) (int, error) {
		if len(m.GetServerNames()) == 0 {
			return 0, nil
		}
		best := -1
		for _, name := range m.GetServerNames() {
			name = asciiLower(name)
			switch {
			case name == "*" || (strings.Contains(name, "*") && !strings.HasPrefix(name, "*.")) || strings.Count(name, "*") > 1:
				// "partial wildcards are not supported, and values like
				// *w.example.com are invalid. The value * is also not
				// supported."
				return 0, invalid("server name %q", name)
			case strings.HasPrefix(name, "*."):
				suffix := name[1:] // ".example.com"
				if sni != "" && len(sni) > len(suffix) && strings.HasSuffix(sni, suffix) && 1+len(suffix) > best {
					best = 1 + len(suffix)
				}
			case sni != "" && name == sni:
				best = 1 << 20
			}
		}
		return best, nil
	})
}

func byTransportProtocol(cands []*listenerv3.FilterChain, c *conn) ([]*listenerv3.FilterChain, error) {
	return keepBest(cands, func(m *listenerv3.FilterChainMatch) (int, error) {
		switch m.GetTransportProtocol() {
		case "":
			return 0, nil
		case c.transport:
			return 1, nil
		default:
			return -1, nil
		}
	})
}

// byApplicationProtocols takes the connection's application protocols in
// order: the first one some chain lists selects the chains listing it;
// when no chain lists any, the chains without application_protocols are
// left.
func byApplicationProtocols(cands []*listenerv3.FilterChain, c *conn) ([]*listenerv3.FilterChain, error) {
	for _, p := range c.alpn {
		var out []*listenerv3.FilterChain
		for _, fc := range cands {
			for _, ap := range fc.GetFilterChainMatch().GetApplicationProtocols() {
				if ap == p {
					out = append(out, fc)
					break
				}
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	var out []*listenerv3.FilterChain
	for _, fc := range cands {
		if len(fc.GetFilterChainMatch().GetApplicationProtocols()) == 0 {
			out = append(out, fc)
		}
	}
	return out, nil
}

func byDirectSourceIP(cands []*listenerv3.FilterChain, c *conn) ([]*listenerv3.FilterChain, error) {
	return keepBest(cands, func(m *listenerv3.FilterChainMatch) (int, error) {
		return cidrScore(m.GetDirectSourcePrefixRanges(), c.r.SourceIP, "source IP")
	})
}

// bySourceType: SAME_IP_OR_LOOPBACK matches a peer on a loopback address or
// on the local (destination) address; EXTERNAL any other peer.
func bySourceType(cands []*listenerv3.FilterChain, c *conn) ([]*listenerv3.FilterChain, error) {
	return keepBest(cands, func(m *listenerv3.FilterChainMatch) (int, error) {
		if m.GetSourceType() == listenerv3.FilterChainMatch_ANY {
			return 0, nil
		}
		src := c.r.SourceIP.Unmap()
		if !src.IsValid() {
			return 0, badRequest("the request has no source IP")
		}
		local := src.IsLoopback() || src == c.r.DestinationIP.Unmap()
		switch m.GetSourceType() {
		case listenerv3.FilterChainMatch_SAME_IP_OR_LOOPBACK:
			if local {
				return 1, nil
			}
		case listenerv3.FilterChainMatch_EXTERNAL:
			if !local {
				return 1, nil
			}
		default:
			return 0, unsupported("source_type %v", m.GetSourceType())
		}
		return -1, nil
	})
}

func bySourceIP(cands []*listenerv3.FilterChain, c *conn) ([]*listenerv3.FilterChain, error) {
	return keepBest(cands, func(m *listenerv3.FilterChainMatch) (int, error) {
		return cidrScore(m.GetSourcePrefixRanges(), c.r.SourceIP, "source IP")
	})
}

func bySourcePort(cands []*listenerv3.FilterChain, _ *conn) ([]*listenerv3.FilterChain, error) {
	for _, fc := range cands {
		if len(fc.GetFilterChainMatch().GetSourcePorts()) > 0 {
			return nil, unsupported("filter chain %q matches source_ports; the request has no source port", fc.GetName())
		}
	}
	return cands, nil
}
