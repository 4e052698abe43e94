// Package envoyjudge decides what an Envoy sidecar does with a connection or
// an HTTP request, given the Envoy configuration a mesh's control plane
// generated (istiod's listeners and routes, or what the Consul agent serves
// over ADS). It reads Envoy's own configuration types
// (github.com/envoyproxy/go-control-plane/envoy/...) and implements Envoy's
// documented semantics only, as written in the API documentation (the proto
// doc comments); it knows nothing of SMI, Istio or Consul.
//
// What it decides:
//
//   - FilterChain: which filter chain of a Listener takes a connection
//     (FilterChainMatch, in Envoy's documented order of most specific
//     match, falling back to default_filter_chain).
//   - NetworkRBAC: whether the envoy.filters.network.rbac filters of a filter
//     chain let the connection through.
//   - HTTPRBAC: whether the envoy.filters.http.rbac filters of the chain's
//     HttpConnectionManager let the request through, with per-route
//     RBACPerRoute overrides.
//   - Route / HTTPRoute: which virtual host and route take an HTTP request
//     and what the route does (clusters and weights, direct response,
//     redirect, or 404 when nothing matches).
//   - Authorize: NetworkRBAC, then HTTPRBAC for an HTTP request on a chain
//     with an HttpConnectionManager.
//
// # Errors, never guesses
//
// Anything the judge does not model returns an error wrapping ErrUnsupported;
// a configuration Envoy would reject (an invalid regex, an empty prefix, a
// policy without principals, ...) returns an error wrapping ErrInvalidConfig.
// Without its regex engine (see Regular expressions) the judge answers no
// regex question: ErrRegexEngine, which no combination hides.
// A connection no filter chain takes returns ErrNoFilterChain (Envoy closes
// it). RBAC matchers combine in three-valued logic, as Envoy's evaluation
// would: an unsupported matcher only makes the answer an error when the
// answer depends on it (an or_ids with another id that matches still
// matches; a policy list where another policy matches still matches). An
// invalid configuration is always an error.
//
// # Supported
//
// Filter chain match fields: destination_port, prefix_ranges,
// server_names (exact and "*.suffix" wildcards), transport_protocol,
// application_protocols, direct_source_prefix_ranges, source_type,
// source_prefix_ranges. The transport protocol is "tls" when the request is
// not Plaintext and the listener has an active TLS inspector listener filter
// (which also supplies SNI and ALPN), otherwise "raw_buffer"; on a plaintext
// connection the application protocols are Request.ALPN when the listener
// has an active HTTP inspector. Listener filter filter_disabled predicates
// (or/and/not/any/destination_port_range) are evaluated.
//
// RBAC (rules with action ALLOW, DENY or LOG; shadow rules are ignored;
// absent rules enforce nothing; policies are ORed) with permissions any,
// and_rules, or_rules, not_rule, header, url_path, destination_ip,
// destination_port, destination_port_range, requested_server_name, and
// principals any, and_ids, or_ids, not_id, authenticated (URI SANs, then
// DNS SANs, then subject, as the doc comment of
// Principal.Authenticated.principal_name says), source_ip,
// direct_remote_ip, remote_ip, header, url_path.
//
// Matchers: StringMatcher exact, prefix, suffix, contains, safe_regex,
// ignore_case; RegexMatcher (full match, see below); HeaderMatcher
// exact_match, safe_regex_match, range_match, present_match, prefix_match,
// suffix_match, contains_match, string_match, invert_match,
// treat_missing_header_as_empty; PathMatcher (path without the query
// string); pseudo-headers :method, :path (with the query string) and
// :authority.
//
// Routes: virtual host selection by :authority (or vhost_header), lower
// cased, exact domains first, then the longest "*suffix" wildcard, then the
// longest "prefix*" wildcard, then "*", with ignore_port_in_host_matching;
// the HttpConnectionManager's strip_any_host_port,
// strip_matching_host_port and strip_trailing_host_dot in HTTPRoute and
// HTTPRBAC. Route match prefix, path, safe_regex, path_separated_prefix,
// case_sensitive, headers, query_parameters (string_match and presence,
// first value of a repeated key, values not decoded). Route actions
// cluster, weighted_clusters, direct_response, redirect.
//
// Regular expressions: Envoy compiles every safe_regex with RE2 (default
// options) and matches the whole string (RE2::FullMatch). The judge asks
// RE2 itself, the oracle of integration/harness (harness.StartRE2) that
// each test process hands to UseRE2 with the Envoy's runtime
// re2.max_program_size.error_level (istiod's bootstrap: 32768, Consul's:
// 1048576). A regex RE2 refuses (a syntax error, a repetition over 1000,
// "pattern too large - compile failed") or whose RE2::ProgramSize() is over
// that limit, or over a google_re2.max_program_size, is ErrInvalidConfig:
// Envoy refuses the whole configuration. Answers are cached per pattern and
// per pattern and input. Without an engine (UseRE2 not called) or when the
// oracle fails, a regex question is an ErrRegexEngine error, which is not
// Undecidable: the test fails instead of skipping. The oracle is built
// against RE2 2022-06-01; Envoy vendors a later RE2, whose program sizes
// can differ by a few instructions.
//
// # Not supported (errors)
//
// Listener filter_chain_matcher; FilterChainMatch source_ports,
// address_suffix and suffix_len; filters configured through
// config_discovery (ECDS) whose type is RBAC, ext_authz or an inspector;
// ext_authz filters (network and HTTP; their decision is outside the
// configuration); RBAC matcher trees (rules' replacement "matcher");
// policy conditions (CEL); principals metadata, sourced_metadata,
// filter_state and custom; permissions metadata, sourced_metadata, matcher
// and uri_template; HeaderMatcher names Envoy itself sets or rewrites
// (:scheme, x-forwarded-for, x-forwarded-proto, x-forwarded-client-cert,
// x-request-id, x-envoy-*); remote_ip when the request carries
// x-forwarded-for or the HttpConnectionManager has original IP detection
// extensions; request paths Envoy's path normalization could change ("//",
// "/./", "/../", "%", "\", or a fragment); scoped routes and VHDS;
// ignore_path_parameters_in_path_matching; virtual host matcher trees and
// require_tls; route match connect_matcher, path_match_policy,
// runtime_fraction, grpc, tls_context, dynamic_metadata, filter_state and
// cookies; route actions cluster_header, cluster_specifier_plugin,
// inline_cluster_specifier_plugin, filter_action and non_forwarding_action;
// weighted clusters with runtime_key_prefix or cluster_header entries;
// per-route RBAC configuration on weighted cluster entries; a disabled
// (HttpFilter.disabled) RBAC filter enabled by a plain per-route config
// rather than a FilterConfig.
//
// Other HTTP filters (fault injection, CORS, JWT authentication, Lua, Wasm,
// ...) are not judged: HTTPRBAC only answers whether the RBAC filters let a
// request through.
//
// # Points the API documentation leaves open
//
// Where the proto doc comments are silent, the judge follows Envoy's
// implementation, and the tests pin each choice: virtual host domains and
// the host are compared lower-cased; the HTTP/1 Host header exists only as
// :authority, so a matcher on "host" finds nothing; an empty exact_match
// matches any value of a present header; a filter chain stage takes the
// connection's application protocols in the client's order, the first one
// some chain lists winning; among prefix ranges an explicit range (even
// 0.0.0.0/0) is more specific than none; filter chain selection never
// backtracks to a less specific stage; SAME_IP_OR_LOOPBACK means a loopback
// peer or a peer on the local address; per-route configuration is only
// looked up when a route matched; strip_matching_host_port compares with
// the request's destination port.
package envoyjudge

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Request is what reaches a sidecar.
type Request struct {
	// PrincipalURIs are the URI SANs of the client certificate on an mTLS
	// connection as Envoy sees them (e.g.
	// "spiffe://cluster.local/ns/default/sa/web" for Istio,
	// "spiffe://<trust-domain>/ns/default/dc/dc1/svc/web" for Consul).
	PrincipalURIs []string
	// PeerDNSSANs and PeerSubject complete the client certificate; the
	// authenticated principal falls back to them (in that order) when no
	// URI SAN matches. PeerSubject is in Envoy's RFC 2253 form ("CN=web").
	PeerDNSSANs []string
	PeerSubject string
	// Plaintext is true for a connection without TLS. The zero value is a
	// TLS connection (with a client certificate when PrincipalURIs,
	// PeerDNSSANs or PeerSubject say so).
	Plaintext bool
	// SNI is the server name the client asked for on a TLS connection.
	SNI string
	// ALPN lists the application protocols the listener filters detect, in
	// the client's order: the ALPN a TLS client offers (e.g. "istio-http/1.1",
	// "istio", "h2"), or, on a plaintext connection, what Envoy's HTTP
	// inspector detects ("http/1.1", "http/1.0" or "h2c").
	ALPN []string
	// SourceIP is the downstream (remote) address as Envoy sees it after any
	// listener filters; DestinationIP and DestinationPort are the local
	// (original destination) address.
	SourceIP, DestinationIP netip.Addr
	DestinationPort         uint32
	// HTTP is nil for a raw TCP connection.
	HTTP *HTTPRequest
}

// HTTPRequest is one HTTP request on the connection.
type HTTPRequest struct {
	// Method is the :method pseudo-header, e.g. "GET".
	Method string
	// Path is the :path pseudo-header and may include "?query".
	Path string
	// Authority is the :authority pseudo-header (the HTTP/1 Host header).
	Authority string
	// Headers are the other request headers; names must be lower case and
	// must not be pseudo-headers or "host".
	Headers map[string]string
}

var (
	// ErrUnsupported marks configuration or requests the judge does not
	// model. The answer would be a guess, so there is none.
	ErrUnsupported = errors.New("envoyjudge: unsupported")
	// ErrInvalidConfig marks configuration Envoy would reject.
	ErrInvalidConfig = errors.New("envoyjudge: invalid configuration")
	// ErrNoFilterChain is returned by FilterChain when no filter chain takes
	// the connection and the listener has no default_filter_chain: Envoy
	// closes the connection.
	ErrNoFilterChain = errors.New("envoyjudge: no filter chain matches the connection")
	// ErrNoHTTPConnectionManager is returned by the HTTP functions for a
	// filter chain without an HttpConnectionManager.
	ErrNoHTTPConnectionManager = errors.New("envoyjudge: filter chain has no http_connection_manager")
	// ErrBadRequest marks a Request the judge cannot take (missing or
	// malformed fields).
	ErrBadRequest = errors.New("envoyjudge: bad request")
)

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// httpView is the request as Envoy's HTTP filters and router see it: header
// names lower case, pseudo-headers included.
type httpView struct {
	headers map[string]string
}

// path returns the :path pseudo-header.
func (v *httpView) path() string { return v.headers[":path"] }

// managedHeader reports whether Envoy's HTTP connection manager sets,
// rewrites or removes the header before filters and routing see it, so that
// the request's own value says nothing certain.
func managedHeader(name string) bool {
	switch name {
	case ":scheme", ":protocol", "x-forwarded-for", "x-forwarded-proto",
		"x-forwarded-client-cert", "x-request-id":
		return true
	}
	return strings.HasPrefix(name, "x-envoy-")
}

// get looks a header up. A nil view (network filters have no HTTP request)
// has no headers.
func (v *httpView) get(name string) (string, bool, error) {
	name = strings.ToLower(name)
	if v == nil {
		return "", false, nil
	}
	if managedHeader(name) {
		return "", false, unsupported("matching header %q, which Envoy itself sets or rewrites", name)
	}
	if name == "host" {
		// Envoy represents the HTTP/1 Host header as :authority
		// (WeightedCluster.ClusterWeight.cluster_header doc comment), and a
		// matcher naming "host" finds it: Envoy's request header map looks
		// the legacy name up as :authority (header_map_impl.cc). Consul
		// writes intentions on "host" exactly so.
		name = ":authority"
	}
	val, ok := v.headers[name]
	return val, ok, nil
}

// newHTTPView validates an HTTP request and builds its header view.
func newHTTPView(h *HTTPRequest) (*httpView, error) {
	if h == nil {
		return nil, badRequest("request has no HTTP part")
	}
	if h.Method == "" {
		return nil, badRequest("HTTP request without a method")
	}
	if h.Authority == "" {
		return nil, badRequest("HTTP request without an authority")
	}
	if err := checkNormalizedPath(h.Path); err != nil {
		return nil, err
	}
	v := &httpView{headers: map[string]string{
		":method":    h.Method,
		":path":      h.Path,
		":authority": h.Authority,
	}}
	for name, val := range h.Headers {
		switch {
		case name != strings.ToLower(name):
			return nil, badRequest("header name %q is not lower case", name)
		case name == "" || strings.HasPrefix(name, ":"):
			return nil, badRequest("header %q: pseudo-headers are the Method, Path and Authority fields", name)
		case name == "host":
			return nil, badRequest("the host header is the Authority field")
		}
		v.headers[name] = val
	}
	return v, nil
}

// checkNormalizedPath refuses paths that Envoy's path normalization
// (normalize_path, merge_slashes, path_with_escaped_slashes_action) could
// change, since the judge does not model it.
func checkNormalizedPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return badRequest("path %q does not start with /", p)
	}
	if strings.Contains(p, "#") {
		return badRequest("path %q has a fragment, which HTTP clients do not send", p)
	}
	pathPart, _, _ := strings.Cut(p, "?")
	switch {
	case strings.Contains(pathPart, "//"), strings.Contains(pathPart, "/./"),
		strings.Contains(pathPart, "/../"), strings.HasSuffix(pathPart, "/."),
		strings.HasSuffix(pathPart, "/.."), strings.ContainsAny(pathPart, "%\\"):
		return unsupported("path %q could be changed by Envoy's path normalization, which is not modeled", p)
	}
	return nil
}

// withoutQuery returns the URL path portion of :path ("the query and
// fragment string (if present) are removed", PathMatcher.path doc comment).
func withoutQuery(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// hostPortStart returns the index of the ':' before the port of a host
// header value, or -1. An IPv6 literal is enclosed in brackets.
func hostPortStart(host string) int {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return -1
	}
	if j := strings.LastIndexByte(host, ']'); j >= 0 && j > i {
		return -1
	}
	return i
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Undecidable says that err is the judge declining a question (a config or
// request it does not model), not a verdict and not a broken config: a
// caller counts such requests and never guesses their answer.
func Undecidable(err error) bool {
	return errors.Is(err, ErrUnsupported) || errors.Is(err, ErrBadRequest)
}
