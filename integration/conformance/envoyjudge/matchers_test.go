package envoyjudge

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	xdscorev3 "github.com/cncf/xds/go/xds/core/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/smi-adapter/smi-adapter/core/regexsize"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

func TestStringMatcher(t *testing.T) {
	custom := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Custom{Custom: &xdscorev3.TypedExtensionConfig{Name: "x"}}}
	cases := []struct {
		name string
		m    *matcherv3.StringMatcher
		in   string
		want want
	}{
		{"exact", exact("abc"), "abc", wantTrue},
		{"exact differs", exact("abc"), "abcd", wantFalse},
		{"exact is case sensitive", exact("abc"), "ABC", wantFalse},
		{"exact ignore_case", ic(exact("abc")), "ABC", wantTrue},
		{"exact empty matches empty", exact(""), "", wantTrue},
		{"exact empty does not match text", exact(""), "a", wantFalse},
		{"prefix", prefix("abc"), "abc.xyz", wantTrue},
		{"prefix no", prefix("abc"), "xabc", wantFalse},
		{"prefix ignore_case", ic(prefix("ABC")), "abc.xyz", wantTrue},
		{"suffix", suffix("abc"), "xyz.abc", wantTrue},
		{"suffix no", suffix("abc"), "abc.xyz", wantFalse},
		{"suffix ignore_case", ic(suffix("abc")), "XYZ.ABC", wantTrue},
		{"contains", contains("abc"), "xyz.abc.def", wantTrue},
		{"contains no", contains("abc"), "xyz.ab.c", wantFalse},
		{"contains ignore_case", ic(contains("ABC")), "xyz.abc.def", wantTrue},
		{"regex full match", regex("/a"), "/a", wantTrue},
		{"regex is not a partial match", regex("/a"), "/ab", wantFalse},
		{"regex is anchored at the start", regex("a"), "ba", wantFalse},
		{"regex with wildcard", regex("/a.*"), "/ab", wantTrue},
		{"regex alternation is grouped", regex("a|b"), "ab", wantFalse},
		{"regex alternation second branch", regex("a|b"), "b", wantTrue},
		{"regex ignore_case has no effect", ic(regex("abc")), "ABC", wantFalse},
		{"regex consul principal", regex(`^spiffe://[^/]+/ns/default/dc/[^/]+/svc/web$`), webSvc, wantTrue},
		{"regex consul principal other svc", regex(`^spiffe://[^/]+/ns/default/dc/[^/]+/svc/web$`), webSvc + "x", wantFalse},
		{"regex istio namespace", regex(`spiffe://.*/ns/default/.*`), webSA, wantTrue},
		{"regex dot matches any char", regex("a.c"), "a/c", wantTrue},
		{"empty prefix is invalid", prefix(""), "x", wantInvalid},
		{"empty suffix is invalid", suffix(""), "x", wantInvalid},
		{"empty contains is invalid", contains(""), "x", wantInvalid},
		{"bad regex is invalid", regex("a("), "a", wantInvalid},
		{"custom is unsupported", custom, "a", wantUnsupported},
		{"no pattern is invalid", &matcherv3.StringMatcher{}, "a", wantInvalid},
		{"nil matcher is invalid", nil, "a", wantInvalid},
	}
	for _, tc := range cases {
		ok, err := matchString(tc.m, tc.in)
		check(t, tc.name, ok, err, tc.want)
	}
}

func TestRegexEngine(t *testing.T) {
	re2 := &matcherv3.RegexMatcher{Regex: "x+", EngineType: &matcherv3.RegexMatcher_GoogleRe2{GoogleRe2: &matcherv3.RegexMatcher_GoogleRE2{}}}
	ok, err := matchRegex(re2, "xxx")
	check(t, "google_re2 engine", ok, err, wantTrue)
	ok, err = matchRegex(nil, "x")
	check(t, "nil regex", ok, err, wantInvalid)
	// The same regex twice comes from the cache.
	for i := 0; i < 2; i++ {
		ok, err = matchRegex(re("(bad"), "x")
		check(t, "cached bad regex", ok, err, wantInvalid)
		ok, err = matchRegex(re("y{2}"), "yy")
		check(t, "cached regex", ok, err, wantTrue)
	}
}

func view(t *testing.T, method, path string, headers ...string) *httpView {
	t.Helper()
	r := httpReq("", method, path, headers...)
	v, err := newHTTPView(r.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestHeaderMatcher(t *testing.T) {
	v := view(t, "GET", "/api/v1?x=1", "x-user", "alice", "x-num", "-1", "x-empty", "", "content-type", "application/json")
	cases := []struct {
		name string
		h    *routev3.HeaderMatcher
		v    *httpView
		want want
	}{
		{"exact_match", hExact("x-user", "alice"), v, wantTrue},
		{"exact_match other value", hExact("x-user", "bob"), v, wantFalse},
		{"exact_match missing header", hExact("x-other", "alice"), v, wantFalse},
		{"exact_match inverted", inverted(hExact("x-user", "bob")), v, wantTrue},
		{"exact_match inverted matching", inverted(hExact("x-user", "alice")), v, wantFalse},
		{"inverted missing header does not match", inverted(hExact("x-other", "bob")), v, wantFalse},
		{"inverted missing header treated as empty", missingAsEmpty(inverted(hExact("x-other", "bob"))), v, wantTrue},
		{"empty exact_match matches any present value", hExact("x-user", ""), v, wantTrue},
		{"empty exact_match missing header", hExact("x-other", ""), v, wantFalse},
		{"header name is case insensitive", hExact("X-User", "alice"), v, wantTrue},
		{"value is case sensitive", hExact("x-user", "Alice"), v, wantFalse},
		{"string_match exact", hStr("x-user", exact("alice")), v, wantTrue},
		{"string_match prefix", hStr("x-user", prefix("al")), v, wantTrue},
		{"string_match suffix", hStr("x-user", suffix("ce")), v, wantTrue},
		{"string_match contains", hStr("x-user", contains("lic")), v, wantTrue},
		{"string_match ignore_case", hStr("x-user", ic(exact("ALICE"))), v, wantTrue},
		{"string_match regex full", hStr("x-user", regex("ali")), v, wantFalse},
		{"string_match regex", hStr("x-user", regex("ali.*")), v, wantTrue},
		{"safe_regex_match is a full match", hRegex("x-user", "lic"), v, wantFalse},
		{"safe_regex_match", hRegex("x-user", "a.*e"), v, wantTrue},
		{"doc: \\d{3} does not match 1234", hRegex("x-num", `\d{3}`), view(t, "GET", "/", "x-num", "1234"), wantFalse},
		{"doc: \\d{3} inverted matches 1234", inverted(hRegex("x-num", `\d{3}`)), view(t, "GET", "/", "x-num", "1234"), wantTrue},
		{"doc header3: ^$ treat missing as empty", missingAsEmpty(hRegex("header3", "^$")), v, wantTrue},
		{"doc header4: ^$ missing header", hRegex("header4", "^$"), v, wantFalse},
		{"doc header1: range inverted, missing as empty", missingAsEmpty(inverted(hRange("header1", 0, 10))), v, wantTrue},
		{"doc header2: range inverted, missing", inverted(hRange("header2", 0, 10)), v, wantFalse},
		{"present empty value matches ^$", hRegex("x-empty", "^$"), v, wantTrue},
		{"range match -1 in [-10,0)", hRange("x-num", -10, 0), v, wantTrue},
		{"range match 0 not in [-10,0)", hRange("x-num", -10, 0), view(t, "GET", "/", "x-num", "0"), wantFalse},
		{"range match 10.9", hRange("x-num", -10, 11), view(t, "GET", "/", "x-num", "10.9"), wantFalse},
		{"range match somestring", hRange("x-num", -10, 0), view(t, "GET", "/", "x-num", "somestring"), wantFalse},
		{"range match -1somestring", hRange("x-num", -10, 0), view(t, "GET", "/", "x-num", "-1somestring"), wantFalse},
		{"range match +5", hRange("x-num", 0, 10), view(t, "GET", "/", "x-num", "+5"), wantTrue},
		{"range match inverted", inverted(hRange("x-num", 0, 10)), v, wantTrue},
		{"present_match true present", hPresent("x-user", true), v, wantTrue},
		{"present_match true absent", hPresent("x-other", true), v, wantFalse},
		{"present_match false absent", hPresent("x-other", false), v, wantTrue},
		{"present_match false present", hPresent("x-user", false), v, wantFalse},
		{"present_match true absent inverted", inverted(hPresent("x-other", true)), v, wantTrue},
		{"present_match true present inverted", inverted(hPresent("x-user", true)), v, wantFalse},
		{"present_match empty value is present", hPresent("x-empty", true), v, wantTrue},
		{"present_match with missing as empty is unsupported", missingAsEmpty(hPresent("x-user", true)), v, wantUnsupported},
		{"prefix_match", &routev3.HeaderMatcher{Name: "x-user", HeaderMatchSpecifier: &routev3.HeaderMatcher_PrefixMatch{PrefixMatch: "ali"}}, v, wantTrue},
		{"suffix_match", &routev3.HeaderMatcher{Name: "x-user", HeaderMatchSpecifier: &routev3.HeaderMatcher_SuffixMatch{SuffixMatch: "xx"}}, v, wantFalse},
		{"contains_match", &routev3.HeaderMatcher{Name: "x-user", HeaderMatchSpecifier: &routev3.HeaderMatcher_ContainsMatch{ContainsMatch: "lic"}}, v, wantTrue},
		{"empty prefix_match is invalid", &routev3.HeaderMatcher{Name: "x-user", HeaderMatchSpecifier: &routev3.HeaderMatcher_PrefixMatch{}}, v, wantInvalid},
		{"empty suffix_match is invalid", &routev3.HeaderMatcher{Name: "x-user", HeaderMatchSpecifier: &routev3.HeaderMatcher_SuffixMatch{}}, v, wantInvalid},
		{"empty contains_match is invalid", &routev3.HeaderMatcher{Name: "x-user", HeaderMatchSpecifier: &routev3.HeaderMatcher_ContainsMatch{}}, v, wantInvalid},
		{"range_match without range is invalid", &routev3.HeaderMatcher{Name: "x", HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{}}, v, wantInvalid},
		{"string_match with empty prefix is invalid", hStr("x-user", prefix("")), v, wantInvalid},
		{"bad regex is invalid", hRegex("x-user", "("), v, wantInvalid},
		{"no name is invalid", hExact("", "a"), v, wantInvalid},
		{"no specifier is unsupported", &routev3.HeaderMatcher{Name: "x-user"}, v, wantUnsupported},
		{":method", hExact(":method", "GET"), v, wantTrue},
		{":method other", hExact(":method", "POST"), v, wantFalse},
		{":path includes the query string", hExact(":path", "/api/v1"), v, wantFalse},
		{":path with query", hExact(":path", "/api/v1?x=1"), v, wantTrue},
		{":authority", hExact(":authority", "api.default.svc.cluster.local:8080"), v, wantTrue},
		{"host is looked up as :authority", hPresent("host", true), v, wantTrue},
		{"host matches the authority", hExact("host", "api.default.svc.cluster.local:8080"), v, wantTrue},
		{"host other", hExact("host", "other"), v, wantFalse},
		{":scheme is unsupported", hExact(":scheme", "https"), v, wantUnsupported},
		{"x-forwarded-proto is unsupported", hExact("x-forwarded-proto", "https"), v, wantUnsupported},
		{"x-forwarded-client-cert is unsupported", hRegex("x-forwarded-client-cert", ".*"), v, wantUnsupported},
		{"x-envoy-* is unsupported", hPresent("x-envoy-internal", true), v, wantUnsupported},
		{"x-request-id is unsupported", hPresent("x-request-id", true), v, wantUnsupported},
		{"network filter sees no header", hExact(":method", "GET"), nil, wantFalse},
		{"network filter: present_match false matches", hPresent("x-user", false), nil, wantTrue},
		{"network filter: managed header is just absent", hPresent("x-forwarded-proto", true), nil, wantFalse},
		{"network filter: invalid matcher still invalid", hRegex("x", "("), nil, wantInvalid},
		{"nil matcher is invalid", nil, v, wantInvalid},
	}
	for _, tc := range cases {
		ok, err := matchHeader(tc.h, tc.v)
		check(t, tc.name, ok, err, tc.want)
	}
}

func TestPathMatcher(t *testing.T) {
	cases := []struct {
		name string
		m    *matcherv3.PathMatcher
		path string
		want want
	}{
		{"exact without query", pm(exact("/data")), "/data?param=value", wantTrue},
		{"exact", pm(exact("/data")), "/data", wantTrue},
		{"exact other", pm(exact("/data")), "/data/x", wantFalse},
		{"prefix", pm(prefix("/products")), "/products/1?q=2", wantTrue},
		{"prefix does not see the query", pm(prefix("/a?x")), "/a?x=1", wantFalse},
		{"suffix does not see the query", pm(suffix(".json")), "/a.json?x=1", wantTrue},
		{"regex full match without query", pm(regex("/a")), "/a?b", wantTrue},
		{"regex not partial", pm(regex("/a")), "/ab", wantFalse},
		{"ignore_case", pm(ic(exact("/DATA"))), "/data", wantTrue},
		{"no rule is invalid", &matcherv3.PathMatcher{}, "/", wantInvalid},
		{"nil is invalid", nil, "/", wantInvalid},
	}
	for _, tc := range cases {
		ok, err := matchPath(tc.m, view(t, "GET", tc.path))
		check(t, tc.name, ok, err, tc.want)
	}
	ok, err := matchPath(pm(exact("/")), nil)
	check(t, "network filter has no path", ok, err, wantFalse)
	ok, err = matchPath(pm(prefix("")), nil)
	check(t, "network filter still validates", ok, err, wantInvalid)
}

func pm(m *matcherv3.StringMatcher) *matcherv3.PathMatcher {
	return &matcherv3.PathMatcher{Rule: &matcherv3.PathMatcher_Path{Path: m}}
}

func TestCIDR(t *testing.T) {
	cases := []struct {
		name string
		c    *corev3.CidrRange
		addr string
		want want
	}{
		{"in /8", cidr("10.0.0.0", 8), "10.1.2.3", wantTrue},
		{"not in /8", cidr("10.0.0.0", 8), "11.1.2.3", wantFalse},
		{"/32 exact", cidr("10.0.0.5", 32), "10.0.0.5", wantTrue},
		{"/32 other", cidr("10.0.0.5", 32), "10.0.0.6", wantFalse},
		{"host bits are masked", cidr("10.1.2.3", 16), "10.1.9.9", wantTrue},
		{"unset prefix_len is 0", &corev3.CidrRange{AddressPrefix: "10.0.0.0"}, "192.168.1.1", wantTrue},
		{"/0 v4 does not hold v6", cidr("0.0.0.0", 0), "2001:db8::1", wantFalse},
		{"v6 range", cidr("2001:db8::", 32), "2001:db8::1", wantTrue},
		{"v6 /0 does not hold v4", cidr("::", 0), "10.0.0.1", wantFalse},
		{"v4-mapped address is unmapped", cidr("10.0.0.0", 8), "::ffff:10.0.0.1", wantTrue},
		{"bad address is invalid", cidr("10.0.0", 8), "10.0.0.1", wantInvalid},
		{"long prefix is invalid", cidr("10.0.0.0", 33), "10.0.0.1", wantInvalid},
		{"nil is invalid", nil, "10.0.0.1", wantInvalid},
	}
	for _, tc := range cases {
		ok, err := inCIDR(tc.c, netip.MustParseAddr(tc.addr), "address")
		check(t, tc.name, ok, err, tc.want)
	}
	ok, err := inCIDR(cidr("10.0.0.0", 8), netip.Addr{}, "address")
	check(t, "no address", ok, err, wantBadRequest)
}

func TestThreeValuedLogic(t *testing.T) {
	u := tri{err: unsupported("u")}
	in := tri{err: invalid("i")}
	T, F := tri{ok: true}, tri{}
	cases := []struct {
		name string
		f    func([]tri) (bool, error)
		rs   []tri
		want want
	}{
		{"or empty", anyOf, nil, wantFalse},
		{"or true", anyOf, []tri{F, T}, wantTrue},
		{"or unsupported and true", anyOf, []tri{u, T}, wantTrue},
		{"or unsupported and false", anyOf, []tri{u, F}, wantUnsupported},
		{"or invalid wins over true", anyOf, []tri{T, in}, wantInvalid},
		{"and empty", allOf, nil, wantTrue},
		{"and false", allOf, []tri{T, F}, wantFalse},
		{"and unsupported and false", allOf, []tri{u, F}, wantFalse},
		{"and unsupported and true", allOf, []tri{T, u}, wantUnsupported},
		{"and invalid wins over false", allOf, []tri{F, in}, wantInvalid},
	}
	for _, tc := range cases {
		ok, err := tc.f(tc.rs)
		check(t, tc.name, ok, err, tc.want)
	}
}

func TestRequestValidation(t *testing.T) {
	good := httpReq(webSA, "GET", "/a?b=c")
	cases := []struct {
		name string
		h    *HTTPRequest
		want want
	}{
		{"good", good.HTTP, wantTrue},
		{"no HTTP", nil, wantBadRequest},
		{"no method", &HTTPRequest{Path: "/", Authority: "a"}, wantBadRequest},
		{"no authority", &HTTPRequest{Method: "GET", Path: "/"}, wantBadRequest},
		{"relative path", &HTTPRequest{Method: "GET", Path: "a", Authority: "a"}, wantBadRequest},
		{"fragment", &HTTPRequest{Method: "GET", Path: "/a#b", Authority: "a"}, wantBadRequest},
		{"double slash", &HTTPRequest{Method: "GET", Path: "/a//b", Authority: "a"}, wantUnsupported},
		{"dot segment", &HTTPRequest{Method: "GET", Path: "/a/./b", Authority: "a"}, wantUnsupported},
		{"dot-dot segment", &HTTPRequest{Method: "GET", Path: "/a/../b", Authority: "a"}, wantUnsupported},
		{"trailing dot-dot", &HTTPRequest{Method: "GET", Path: "/a/..", Authority: "a"}, wantUnsupported},
		{"percent encoding", &HTTPRequest{Method: "GET", Path: "/a%2Fb", Authority: "a"}, wantUnsupported},
		{"backslash", &HTTPRequest{Method: "GET", Path: `/a\b`, Authority: "a"}, wantUnsupported},
		{"percent in query is fine", &HTTPRequest{Method: "GET", Path: "/a?x=%20", Authority: "a"}, wantTrue},
		{"upper case header", &HTTPRequest{Method: "GET", Path: "/", Authority: "a", Headers: map[string]string{"X-A": "b"}}, wantBadRequest},
		{"pseudo header", &HTTPRequest{Method: "GET", Path: "/", Authority: "a", Headers: map[string]string{":path": "/"}}, wantBadRequest},
		{"host header", &HTTPRequest{Method: "GET", Path: "/", Authority: "a", Headers: map[string]string{"host": "a"}}, wantBadRequest},
	}
	for _, tc := range cases {
		_, err := newHTTPView(tc.h)
		check(t, tc.name, err == nil, err, tc.want)
	}
	if got := outcome(false, errors.New("other")); got != -1 {
		t.Errorf("outcome of an unknown error = %v", got)
	}
}

// Regexes past RE2's limits, as the oracle measures them (RE2 2022-06-01).
var (
	// overIstio is 40,009 instructions: over istiod's 32768, under Consul's.
	overIstio = strings.Repeat(`/[^/]{1000}`, 5)
	// overIstioOnly is 119,304 instructions, under Consul's 1048576.
	overIstioOnly = `\pL{100}`
)

// TestRegexPremises pins what the regex tests assume of RE2, asking the
// oracle: if these change, the cases below test something else.
func TestRegexPremises(t *testing.T) {
	for _, c := range []struct {
		pattern  string
		min, max int
	}{
		{overIstio, regexsize.IstioProgramLimit + 1, regexsize.ConsulProgramLimit},
		{overIstioOnly, regexsize.IstioProgramLimit + 1, regexsize.ConsulProgramLimit},
		{`/a`, 1, 100},
	} {
		size, err := re2.Compile(c.pattern)
		if err != nil || size < c.min || size > c.max {
			t.Errorf("RE2 program size of %q: %d (%v), want %d..%d", c.pattern, size, err, c.min, c.max)
		}
	}
	for _, p := range []string{`a{1001}`, `(?:[^/]{1000}){5}`, `\pL{1000}`, `(((a{100}){100}){100})`, `a(`} {
		var refusal *harness.RE2Refusal
		if _, err := re2.Compile(p); !errors.As(err, &refusal) {
			t.Errorf("RE2 compiles %q (%v), want a refusal", p, err)
		}
	}
}

// TestRegexRE2 checks that regexes are RE2's: its refusals and its program
// size limit make the configuration invalid wherever a safe_regex is, and
// its matches are the answers.
func TestRegexRE2(t *testing.T) {
	refusedByRE2 := []string{
		`a{1001}`,                // repetition over 1000
		`(?:[^/]{1000}){5}`,      // nested repetitions over 1000 in all
		`(((a{100}){100}){100})`, // likewise
		`\pL{1000}`,              // "pattern too large - compile failed"
		`(?i)a(`,                 // syntax error
	}
	for _, p := range append(refusedByRE2, overIstio, overIstioOnly) {
		ok, err := matchRegex(re(p), "/x")
		check(t, "regex "+p, ok, err, wantInvalid)
		ok, err = matchString(regex(p), "/x")
		check(t, "string matcher "+p, ok, err, wantInvalid)
	}
	_, err := matchRegex(re(overIstio), "/x")
	for _, s := range []string{"40009", "32768", "re2.max_program_size.error_level"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("over the limit: %v, want it to name %s", err, s)
		}
	}

	// RE2, not Go's regexp: \C (any byte) is RE2 syntax Go refuses.
	ok, err := matchRegex(re(`a\Cc`), "abc")
	check(t, `RE2's \C`, ok, err, wantTrue)
	ok, err = matchRegex(re(`a\Cc`), "abbc")
	check(t, `RE2's \C is one byte`, ok, err, wantFalse)
	// A regex just under the limit is fine: 3 × 8,003 + 1.
	ok, err = matchRegex(re(strings.Repeat(`/[^/]{1000}`, 3)), "/"+strings.Repeat("x", 1000)+"/"+strings.Repeat("y", 1000)+"/"+strings.Repeat("z", 1000))
	check(t, "under the limit", ok, err, wantTrue)

	// google_re2.max_program_size is checked too.
	capped := func(n uint32) *matcherv3.RegexMatcher {
		return &matcherv3.RegexMatcher{Regex: "/abc", EngineType: &matcherv3.RegexMatcher_GoogleRe2{GoogleRe2: &matcherv3.RegexMatcher_GoogleRE2{MaxProgramSize: wrapperspb.UInt32(n)}}}
	}
	ok, err = matchRegex(capped(3), "/abc")
	check(t, "over google_re2.max_program_size", ok, err, wantInvalid)
	ok, err = matchRegex(capped(100), "/abc")
	check(t, "under google_re2.max_program_size", ok, err, wantTrue)

	// Route matches.
	one := func(rts ...*routev3.Route) *routev3.RouteConfiguration {
		return &routev3.RouteConfiguration{Name: "r", VirtualHosts: []*routev3.VirtualHost{{Name: "vh", Domains: []string{"*"}, Routes: rts}}}
	}
	withHeaders := func(m *routev3.RouteMatch, hs ...*routev3.HeaderMatcher) *routev3.RouteMatch {
		m.Headers = hs
		return m
	}
	for _, p := range []string{overIstio, `a{1001}`} {
		for name, rc := range map[string]*routev3.RouteConfiguration{
			"route safe_regex":              one(routeTo("r", regexMatch(p), "c")),
			"route header safe_regex_match": one(routeTo("r", withHeaders(prefixMatch("/"), hRegex("x-user", p)), "c")),
			"route header string_match":     one(routeTo("r", withHeaders(prefixMatch("/"), hStr("x-user", regex(p))), "c")),
		} {
			_, err := Route(rc, httpReq(webSA, "GET", "/x", "x-user", "alice"))
			check(t, name+" "+p, false, err, wantInvalid)
		}
	}

	// RBAC url_path and header safe_regex, HTTP and network filters.
	get := httpReq(webSA, "GET", "/x", "x-user", "alice")
	for _, p := range []string{overIstio, `a{1001}`} {
		for name, pol := range map[string]*rbacv3.Policy{
			"url_path permission":  policy(perms(permPath(regex(p))), princs(prAny())),
			"header permission":    policy(perms(permHeader(hRegex("x-user", p))), princs(prAny())),
			"url_path principal":   policy(perms(permAny()), princs(prPath(regex(p)))),
			"header principal":     policy(perms(permAny()), princs(prHeader(hRegex("x-user", p)))),
			"authenticated":        policy(perms(permAny()), princs(prAuth(regex(p)))),
			"or_rules, other true": policy(perms(permOr(permAny(), permPath(regex(p)))), princs(prAny())),
		} {
			rules := allow(map[string]*rbacv3.Policy{"p": pol, "all": policy(perms(permAny()), princs(prAny()))})
			ok, err := HTTPRBAC(httpChain(httpRBAC("envoy.filters.http.rbac", rules)), nil, get)
			check(t, "http rbac "+name+" "+p, ok, err, wantInvalid)
			ok, err = NetworkRBAC(&listenerv3.FilterChain{Filters: []*listenerv3.Filter{netRBAC(rules), tcpProxy("c")}}, get)
			check(t, "network rbac "+name+" "+p, ok, err, wantInvalid)
		}
	}

	// The limit is the one UseRE2 was given: Consul's takes overIstioOnly.
	UseRE2(re2, regexsize.ConsulProgramLimit)
	ok, err = matchRegex(re(overIstioOnly), "é")
	check(t, "Consul's limit", ok, err, wantFalse)
	ok, err = matchRegex(re(overIstio), "/"+strings.Repeat("a/", 4)+"a")
	check(t, "Consul's limit, 40009", ok, err, wantFalse)
	UseRE2(re2, regexsize.IstioProgramLimit)
	ok, err = matchRegex(re(overIstioOnly), "é")
	check(t, "istiod's limit again", ok, err, wantInvalid)
}

// countingEngine counts the questions that reach the engine.
type countingEngine struct {
	RegexEngine
	compiles, matches int
	fail              error
}

func (c *countingEngine) Compile(p string) (int, error) {
	c.compiles++
	if c.fail != nil {
		return 0, c.fail
	}
	return c.RegexEngine.Compile(p)
}

func (c *countingEngine) FullMatch(p, in string) (bool, error) {
	c.matches++
	if c.fail != nil {
		return false, c.fail
	}
	return c.RegexEngine.FullMatch(p, in)
}

// withEngine runs f with another engine (nil: none) and restores the run's.
func withEngine(t *testing.T, e RegexEngine, f func()) {
	t.Helper()
	saved := regexes.Load()
	defer regexes.Store(saved)
	if e == nil {
		regexes.Store(nil)
	} else {
		UseRE2(e, regexsize.IstioProgramLimit)
	}
	f()
}

func TestRegexCache(t *testing.T) {
	c := &countingEngine{RegexEngine: re2}
	withEngine(t, c, func() {
		for i := 0; i < 3; i++ {
			ok, err := matchRegex(re("a+b"), "aab")
			check(t, "cached match", ok, err, wantTrue)
			ok, err = matchRegex(re("a+b"), "aa")
			check(t, "cached miss", ok, err, wantFalse)
			ok, err = matchRegex(re("a{1001}"), "a")
			check(t, "cached refusal", ok, err, wantInvalid)
			ok, err = matchRegex(re(overIstio), "a")
			check(t, "cached size", ok, err, wantInvalid)
		}
	})
	if c.compiles != 3 || c.matches != 2 {
		t.Errorf("%d compiles and %d matches reached the engine, want 3 and 2", c.compiles, c.matches)
	}
}

// TestRegexWithoutEngine: a forgotten UseRE2, or an oracle failing, is an
// error no combination hides and no caller may skip.
func TestRegexWithoutEngine(t *testing.T) {
	broken := &countingEngine{RegexEngine: re2, fail: errors.New("broken pipe")}
	get := httpReq(webSA, "GET", "/x", "x-user", "alice")
	for name, e := range map[string]RegexEngine{"no engine": nil, "engine failing": broken} {
		withEngine(t, e, func() {
			expectEngineErr := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrRegexEngine) || errors.Is(err, ErrInvalidConfig) || Undecidable(err) {
					t.Errorf("%s, %s: %v, want ErrRegexEngine only", name, what, err)
				}
			}
			_, err := matchRegex(re("a"), "a")
			expectEngineErr("matchRegex", err)
			_, err = matchRegex(re("a"), "a")
			expectEngineErr("matchRegex again (not cached)", err)
			_, err = Route(&routev3.RouteConfiguration{Name: "r", VirtualHosts: []*routev3.VirtualHost{{Name: "vh", Domains: []string{"*"}, Routes: []*routev3.Route{
				routeTo("r", regexMatch("/x"), "c"),
			}}}}, get)
			expectEngineErr("route", err)
			// Another policy matches, another principal matches: still an error.
			rules := allow(map[string]*rbacv3.Policy{
				"p":   policy(perms(permAny()), princs(prOr(prAny(), prPath(regex("/x"))))),
				"all": policy(perms(permAny()), princs(prAny())),
			})
			_, err = HTTPRBAC(httpChain(httpRBAC("envoy.filters.http.rbac", rules)), nil, get)
			expectEngineErr("http rbac", err)
			// Network filters only validate url_path: still an error.
			_, err = NetworkRBAC(&listenerv3.FilterChain{Filters: []*listenerv3.Filter{netRBAC(rules), tcpProxy("c")}}, get)
			expectEngineErr("network rbac", err)
		})
	}
	if broken.compiles < 2 {
		t.Errorf("a failing engine's answer was cached (%d compiles)", broken.compiles)
	}
}
