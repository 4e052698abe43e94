package envoyjudge

import (
	"errors"
	"net/netip"
	"testing"

	xdsmatcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func fc(name string, m *listenerv3.FilterChainMatch) *listenerv3.FilterChain {
	return &listenerv3.FilterChain{Name: name, FilterChainMatch: m, Filters: []*listenerv3.Filter{tcpProxy(name)}}
}

func port(p uint32) *wrapperspb.UInt32Value { return wrapperspb.UInt32(p) }

func listener(chains []*listenerv3.FilterChain, filters ...*listenerv3.ListenerFilter) *listenerv3.Listener {
	return &listenerv3.Listener{Name: "virtualInbound", FilterChains: chains, ListenerFilters: filters}
}

func TestFilterChainSelection(t *testing.T) {
	// Destination port and default chain.
	byPort := listener([]*listenerv3.FilterChain{
		fc("p8080", &listenerv3.FilterChainMatch{DestinationPort: port(8080)}),
		fc("p9090", &listenerv3.FilterChainMatch{DestinationPort: port(9090)}),
	})
	byPortDefault := listener(byPort.FilterChains)
	byPortDefault.DefaultFilterChain = fc("default", nil)
	portOrAny := listener([]*listenerv3.FilterChain{
		fc("any-port", &listenerv3.FilterChainMatch{}),
		fc("p8080", &listenerv3.FilterChainMatch{DestinationPort: port(8080)}),
	})
	// The port wins even if a later criterion then fails: no backtracking.
	noBacktrack := listener([]*listenerv3.FilterChain{
		fc("p8080-tls", &listenerv3.FilterChainMatch{DestinationPort: port(8080), TransportProtocol: "tls"}),
		fc("any-port", &listenerv3.FilterChainMatch{}),
	}, tlsInspector())
	noBacktrackDefault := listener(noBacktrack.FilterChains, tlsInspector())
	noBacktrackDefault.DefaultFilterChain = fc("default", nil)

	// Destination IP.
	byIP := listener([]*listenerv3.FilterChain{
		fc("ip-any", &listenerv3.FilterChainMatch{}),
		fc("ip-all-v4", &listenerv3.FilterChainMatch{PrefixRanges: []*corev3.CidrRange{cidr("0.0.0.0", 0)}}),
		fc("ip-10/8", &listenerv3.FilterChainMatch{PrefixRanges: []*corev3.CidrRange{cidr("10.0.0.0", 8)}}),
		fc("ip-10.0.1/24", &listenerv3.FilterChainMatch{PrefixRanges: []*corev3.CidrRange{cidr("192.168.0.0", 16), cidr("10.0.1.0", 24)}}),
	})

	// Server names.
	bySNI := listener([]*listenerv3.FilterChain{
		fc("sni-none", &listenerv3.FilterChainMatch{}),
		fc("sni-exact", &listenerv3.FilterChainMatch{ServerNames: []string{"www.example.com"}}),
		fc("sni-wild", &listenerv3.FilterChainMatch{ServerNames: []string{"*.example.com"}}),
		fc("sni-com", &listenerv3.FilterChainMatch{ServerNames: []string{"*.com"}}),
	}, tlsInspector())
	bySNINoInspector := listener(bySNI.FilterChains)

	// Transport protocol and ALPN: Istio-like inbound chains.
	istio := listener([]*listenerv3.FilterChain{
		fc("mtls-http", &listenerv3.FilterChainMatch{DestinationPort: port(8080), TransportProtocol: "tls",
			ApplicationProtocols: []string{"istio-http/1.0", "istio-http/1.1", "istio-h2"}}),
		fc("mtls-tcp", &listenerv3.FilterChainMatch{DestinationPort: port(8080), TransportProtocol: "tls",
			ApplicationProtocols: []string{"istio-peer-exchange", "istio"}}),
		fc("plain-http", &listenerv3.FilterChainMatch{DestinationPort: port(8080), TransportProtocol: "raw_buffer",
			ApplicationProtocols: []string{"http/1.1", "http/1.0", "h2c"}}),
		fc("plain-tcp", &listenerv3.FilterChainMatch{DestinationPort: port(8080), TransportProtocol: "raw_buffer"}),
		fc("tls-other", &listenerv3.FilterChainMatch{DestinationPort: port(8080), TransportProtocol: "tls"}),
	}, tlsInspector(), httpInspector())
	istioNoInspectors := listener(istio.FilterChains)
	// The HTTP inspector disabled for port 8080.
	disabledHTTP := httpInspector()
	disabledHTTP.FilterDisabled = &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_DestinationPortRange{
		DestinationPortRange: &typev3.Int32Range{Start: 8080, End: 8081},
	}}
	istioHTTPDisabled := listener(istio.FilterChains, tlsInspector(), disabledHTTP)
	// The TLS inspector disabled for everything but port 9090.
	notTLS := tlsInspector()
	notTLS.FilterDisabled = &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_NotMatch{
		NotMatch: &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_DestinationPortRange{
			DestinationPortRange: &typev3.Int32Range{Start: 9090, End: 9091},
		}},
	}}
	istioTLSOnly9090 := listener(istio.FilterChains, notTLS, httpInspector())
	legacyInspector := listener(istio.FilterChains, &listenerv3.ListenerFilter{Name: "envoy.filters.listener.tls_inspector"})

	// Source.
	bySource := listener([]*listenerv3.FilterChain{
		fc("src-any", &listenerv3.FilterChainMatch{}),
		fc("src-10/8", &listenerv3.FilterChainMatch{SourcePrefixRanges: []*corev3.CidrRange{cidr("10.0.0.0", 8)}}),
		fc("src-10.0.0.5", &listenerv3.FilterChainMatch{SourcePrefixRanges: []*corev3.CidrRange{cidr("10.0.0.5", 32)}}),
	})
	byDirectSource := listener([]*listenerv3.FilterChain{
		fc("direct-any", &listenerv3.FilterChainMatch{SourcePrefixRanges: []*corev3.CidrRange{cidr("10.0.0.5", 32)}}),
		fc("direct-10/8", &listenerv3.FilterChainMatch{DirectSourcePrefixRanges: []*corev3.CidrRange{cidr("10.0.0.0", 8)}}),
	})
	bySourceType := listener([]*listenerv3.FilterChain{
		fc("type-any", &listenerv3.FilterChainMatch{}),
		fc("type-local", &listenerv3.FilterChainMatch{SourceType: listenerv3.FilterChainMatch_SAME_IP_OR_LOOPBACK}),
		fc("type-external", &listenerv3.FilterChainMatch{SourceType: listenerv3.FilterChainMatch_EXTERNAL, DestinationPort: port(9090)}),
	})

	web := tcpReq(webSA)
	on := func(p uint32) Request { r := tcpReq(webSA); r.DestinationPort = p; return r }
	toIP := func(ip string) Request { r := tcpReq(webSA); r.DestinationIP = netip.MustParseAddr(ip); return r }
	sni := func(name string) Request { r := tcpReq(webSA); r.SNI = name; return r }
	alpn := func(p uint32, plaintext bool, protos ...string) Request {
		r := on(p)
		r.Plaintext, r.ALPN = plaintext, protos
		return r
	}
	from := func(ip string) Request { r := tcpReq(webSA); r.SourceIP = netip.MustParseAddr(ip); return r }
	loop := from("127.0.0.6")
	self := from("10.0.1.7")
	external9090 := on(9090)

	cases := []struct {
		name string
		l    *listenerv3.Listener
		req  Request
		want string // chain name; "" for ErrNoFilterChain
	}{
		{"destination port", byPort, web, "p8080"},
		{"other port", byPort, on(9090), "p9090"},
		{"no match, no default", byPort, on(1), ""},
		{"default chain", byPortDefault, on(1), "default"},
		{"port chain before portless", portOrAny, web, "p8080"},
		{"portless when no port chain", portOrAny, on(1), "any-port"},
		{"no backtracking from the port stage", noBacktrack, alpn(8080, true), ""},
		{"no backtracking, default chain", noBacktrackDefault, alpn(8080, true), "default"},
		{"port then tls", noBacktrack, web, "p8080-tls"},

		{"longest destination prefix", byIP, toIP("10.0.1.7"), "ip-10.0.1/24"},
		{"shorter destination prefix", byIP, toIP("10.9.0.1"), "ip-10/8"},
		{"explicit 0.0.0.0/0 before no ranges", byIP, toIP("172.16.0.1"), "ip-all-v4"},
		{"IPv6 falls to no ranges", byIP, toIP("2001:db8::1"), "ip-any"},

		{"exact server name", bySNI, sni("www.example.com"), "sni-exact"},
		{"server name is case insensitive", bySNI, sni("WWW.example.com"), "sni-exact"},
		{"wildcard server name", bySNI, sni("api.example.com"), "sni-wild"},
		{"wildcard matches deeper names", bySNI, sni("a.b.example.com"), "sni-wild"},
		{"shorter wildcard", bySNI, sni("example.com"), "sni-com"},
		{"no server name", bySNI, web, "sni-none"},
		{"other server name", bySNI, sni("example.org"), "sni-none"},
		{"no TLS inspector: no server name", bySNINoInspector, sni("www.example.com"), "sni-none"},

		{"istio mTLS HTTP", istio, alpn(8080, false, "istio-http/1.1", "istio"), "mtls-http"},
		{"istio mTLS TCP", istio, alpn(8080, false, "istio-peer-exchange", "istio"), "mtls-tcp"},
		{"ALPN order: first listed protocol wins", istio, alpn(8080, false, "istio", "istio-http/1.1"), "mtls-tcp"},
		{"TLS without known ALPN", istio, alpn(8080, false, "h2"), "tls-other"},
		{"TLS without ALPN", istio, alpn(8080, false), "tls-other"},
		{"plaintext HTTP", istio, alpn(8080, true, "http/1.1"), "plain-http"},
		{"plaintext TCP", istio, alpn(8080, true), "plain-tcp"},
		{"no inspectors: TLS is raw_buffer", istioNoInspectors, alpn(8080, false, "istio-http/1.1"), "plain-tcp"},
		{"HTTP inspector disabled on the port", istioHTTPDisabled, alpn(8080, true, "http/1.1"), "plain-tcp"},
		{"HTTP inspector disabled, TLS unaffected", istioHTTPDisabled, alpn(8080, false, "istio-http/1.1"), "mtls-http"},
		{"TLS inspector disabled on the port", istioTLSOnly9090, alpn(8080, false, "istio-http/1.1"), "plain-tcp"},
		{"legacy TLS inspector by name", legacyInspector, alpn(8080, false, "istio-http/1.1"), "mtls-http"},

		{"longest source prefix", bySource, web, "src-10.0.0.5"},
		{"shorter source prefix", bySource, from("10.1.1.1"), "src-10/8"},
		{"no source prefix", bySource, from("192.168.1.1"), "src-any"},
		{"direct source before source", byDirectSource, web, "direct-10/8"},
		{"loopback is local", bySourceType, loop, "type-local"},
		{"same IP is local", bySourceType, self, "type-local"},
		{"external falls to any", bySourceType, web, "type-any"},
		{"external", bySourceType, external9090, "type-external"},
	}
	for _, tc := range cases {
		got, err := FilterChain(tc.l, tc.req)
		switch {
		case tc.want == "":
			if !errors.Is(err, ErrNoFilterChain) {
				t.Errorf("%s: got %q, %v; want ErrNoFilterChain", tc.name, got.GetName(), err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case got.GetName() != tc.want:
			t.Errorf("%s: chain %q, want %q", tc.name, got.GetName(), tc.want)
		}
	}
}

func TestFilterChainErrors(t *testing.T) {
	dup := listener([]*listenerv3.FilterChain{
		fc("a", &listenerv3.FilterChainMatch{DestinationPort: port(8080)}),
		fc("b", &listenerv3.FilterChainMatch{DestinationPort: port(8080)}),
	})
	srcPorts := listener([]*listenerv3.FilterChain{fc("a", &listenerv3.FilterChainMatch{SourcePorts: []uint32{1234}})})
	srcPortsElsewhere := listener([]*listenerv3.FilterChain{
		fc("a", &listenerv3.FilterChainMatch{DestinationPort: port(9090), SourcePorts: []uint32{1234}}),
		fc("b", &listenerv3.FilterChainMatch{DestinationPort: port(8080)}),
	})
	matcher := listener(nil)
	matcher.FilterChainMatcher = &xdsmatcherv3.Matcher{}
	suffix := listener([]*listenerv3.FilterChain{fc("a", &listenerv3.FilterChainMatch{AddressSuffix: "1"})})
	badName := listener([]*listenerv3.FilterChain{fc("a", &listenerv3.FilterChainMatch{ServerNames: []string{"*w.example.com"}})}, tlsInspector())
	star := listener([]*listenerv3.FilterChain{fc("a", &listenerv3.FilterChainMatch{ServerNames: []string{"*"}})}, tlsInspector())
	badCIDR := listener([]*listenerv3.FilterChain{fc("a", &listenerv3.FilterChainMatch{PrefixRanges: []*corev3.CidrRange{cidr("nope", 8)}})})
	ecds := listener(nil, &listenerv3.ListenerFilter{Name: "tls", ConfigType: &listenerv3.ListenerFilter_ConfigDiscovery{
		ConfigDiscovery: &corev3.ExtensionConfigSource{ConfigSource: &corev3.ConfigSource{}, TypeUrls: []string{"type.googleapis.com/" + typeTLSInspector}},
	}})
	badPredicate := tlsInspector()
	badPredicate.FilterDisabled = &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_OrMatch{
		OrMatch: &listenerv3.ListenerFilterChainMatchPredicate_MatchSet{},
	}}
	noDst := tcpReq(webSA)
	noDst.DestinationIP = netip.Addr{}
	ipChains := listener([]*listenerv3.FilterChain{fc("a", &listenerv3.FilterChainMatch{PrefixRanges: []*corev3.CidrRange{cidr("10.0.0.0", 8)}})})
	cases := []struct {
		name string
		l    *listenerv3.Listener
		req  Request
		want want
	}{
		{"duplicate matches", dup, tcpReq(webSA), wantInvalid},
		{"source_ports", srcPorts, tcpReq(webSA), wantUnsupported},
		{"source_ports on a chain already dropped", srcPortsElsewhere, tcpReq(webSA), wantTrue},
		{"filter_chain_matcher", matcher, tcpReq(webSA), wantUnsupported},
		{"address_suffix", suffix, tcpReq(webSA), wantUnsupported},
		{"partial wildcard server name", badName, tcpReq(webSA), wantInvalid},
		{"server name *", star, tcpReq(webSA), wantInvalid},
		{"bad CIDR", badCIDR, tcpReq(webSA), wantInvalid},
		{"inspector through ECDS", ecds, tcpReq(webSA), wantUnsupported},
		{"invalid predicate", listener(nil, badPredicate), tcpReq(webSA), wantInvalid},
		{"no destination IP", ipChains, noDst, wantBadRequest},
		{"nil listener", nil, tcpReq(webSA), wantBadRequest},
	}
	for _, tc := range cases {
		got, err := FilterChain(tc.l, tc.req)
		check(t, tc.name, got != nil, err, tc.want)
	}
}

func TestListenerPredicates(t *testing.T) {
	rng := func(s, e int32) *listenerv3.ListenerFilterChainMatchPredicate {
		return &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_DestinationPortRange{
			DestinationPortRange: &typev3.Int32Range{Start: s, End: e},
		}}
	}
	set := func(ps ...*listenerv3.ListenerFilterChainMatchPredicate) *listenerv3.ListenerFilterChainMatchPredicate_MatchSet {
		return &listenerv3.ListenerFilterChainMatchPredicate_MatchSet{Rules: ps}
	}
	or := func(ps ...*listenerv3.ListenerFilterChainMatchPredicate) *listenerv3.ListenerFilterChainMatchPredicate {
		return &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_OrMatch{OrMatch: set(ps...)}}
	}
	and := func(ps ...*listenerv3.ListenerFilterChainMatchPredicate) *listenerv3.ListenerFilterChainMatchPredicate {
		return &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_AndMatch{AndMatch: set(ps...)}}
	}
	not := func(p *listenerv3.ListenerFilterChainMatchPredicate) *listenerv3.ListenerFilterChainMatchPredicate {
		return &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_NotMatch{NotMatch: p}}
	}
	anyP := &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_AnyMatch{AnyMatch: true}}
	r := tcpReq(webSA) // port 8080
	cases := []struct {
		name string
		p    *listenerv3.ListenerFilterChainMatchPredicate
		want want
	}{
		{"range in", rng(8000, 8081), wantTrue},
		{"range end exclusive", rng(8000, 8080), wantFalse},
		{"or", or(rng(1, 2), rng(8080, 8081)), wantTrue},
		{"or none", or(rng(1, 2), rng(3, 4)), wantFalse},
		{"and", and(rng(1, 9000), rng(8080, 8081)), wantTrue},
		{"and one fails", and(rng(1, 9000), rng(3, 4)), wantFalse},
		{"not", not(rng(1, 2)), wantTrue},
		{"any", anyP, wantTrue},
		{"any false is invalid", &listenerv3.ListenerFilterChainMatchPredicate{Rule: &listenerv3.ListenerFilterChainMatchPredicate_AnyMatch{}}, wantInvalid},
		{"and with one rule is invalid", and(anyP), wantInvalid},
		{"no rule is invalid", &listenerv3.ListenerFilterChainMatchPredicate{}, wantInvalid},
	}
	for _, tc := range cases {
		ok, err := evalListenerPredicate(tc.p, &r)
		check(t, tc.name, ok, err, tc.want)
	}
}
