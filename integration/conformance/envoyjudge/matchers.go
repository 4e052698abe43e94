package envoyjudge

import (
	"errors"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Three-valued combination. Every child is evaluated so that an invalid
// configuration anywhere is reported; an unsupported child only decides
// the result when no other child does.

type tri struct {
	ok  bool
	err error
}

func firstInvalid(rs []tri) error {
	for _, r := range rs {
		if r.err != nil && errors.Is(r.err, ErrInvalidConfig) {
			return r.err
		}
	}
	return nil
}

// anyOf is OR: true if some child is true.
func anyOf(rs []tri) (bool, error) {
	if err := firstInvalid(rs); err != nil {
		return false, err
	}
	for _, r := range rs {
		if r.err == nil && r.ok {
			return true, nil
		}
	}
	for _, r := range rs {
		if r.err != nil {
			return false, r.err
		}
	}
	return false, nil
}

// allOf is AND: false if some child is false.
func allOf(rs []tri) (bool, error) {
	if err := firstInvalid(rs); err != nil {
		return false, err
	}
	for _, r := range rs {
		if r.err == nil && !r.ok {
			return false, nil
		}
	}
	for _, r := range rs {
		if r.err != nil {
			return false, r.err
		}
	}
	return true, nil
}

func mk(ok bool, err error) tri { return tri{ok: ok, err: err} }

var regexCache sync.Map // string -> *regexp.Regexp or error

// compileRegex compiles an Envoy RegexMatcher for a full match.
func compileRegex(m *matcherv3.RegexMatcher) (*regexp.Regexp, error) {
	if m == nil {
		return nil, invalid("RegexMatcher is missing")
	}
	switch m.GetEngineType().(type) {
	case nil, *matcherv3.RegexMatcher_GoogleRe2:
	default:
		return nil, unsupported("regex engine %T", m.GetEngineType())
	}
	if c, ok := regexCache.Load(m.GetRegex()); ok {
		if err, isErr := c.(error); isErr {
			return nil, err
		}
		return c.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(`^(?:` + m.GetRegex() + `)$`)
	if err != nil {
		err = invalid("regex %q: %v", m.GetRegex(), err)
		regexCache.Store(m.GetRegex(), err)
		return nil, err
	}
	regexCache.Store(m.GetRegex(), re)
	return re, nil
}

// matchRegex reports whether the whole of s matches ("The regex is matched
// against the full string, not as a partial match", RegexMatcher.regex).
func matchRegex(m *matcherv3.RegexMatcher, s string) (bool, error) {
	re, err := compileRegex(m)
	if err != nil {
		return false, err
	}
	return re.MatchString(s), nil
}

// matchString applies a StringMatcher. ignore_case applies to exact, prefix,
// suffix and contains, not to safe_regex (StringMatcher.ignore_case).
func matchString(m *matcherv3.StringMatcher, s string) (bool, error) {
	if m == nil {
		return false, invalid("StringMatcher is missing")
	}
	in := s
	fold := func(p string) string { return p }
	if m.GetIgnoreCase() {
		in = asciiLower(s)
		fold = asciiLower
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return in == fold(p.Exact), nil
	case *matcherv3.StringMatcher_Prefix:
		if p.Prefix == "" {
			return false, invalid("StringMatcher with an empty prefix")
		}
		return strings.HasPrefix(in, fold(p.Prefix)), nil
	case *matcherv3.StringMatcher_Suffix:
		if p.Suffix == "" {
			return false, invalid("StringMatcher with an empty suffix")
		}
		return strings.HasSuffix(in, fold(p.Suffix)), nil
	case *matcherv3.StringMatcher_Contains:
		if p.Contains == "" {
			return false, invalid("StringMatcher with an empty contains")
		}
		return strings.Contains(in, fold(p.Contains)), nil
	case *matcherv3.StringMatcher_SafeRegex:
		return matchRegex(p.SafeRegex, s)
	case *matcherv3.StringMatcher_Custom:
		return false, unsupported("custom StringMatcher %q", p.Custom.GetName())
	case nil:
		return false, invalid("StringMatcher without a match pattern")
	default:
		return false, unsupported("StringMatcher %T", p)
	}
}

// matchPath applies a PathMatcher to the URL path of :path, without the
// query string. Without an HTTP request (network filters) there is no path
// and nothing matches.
func matchPath(m *matcherv3.PathMatcher, v *httpView) (bool, error) {
	if m == nil {
		return false, invalid("PathMatcher is missing")
	}
	p, ok := m.GetRule().(*matcherv3.PathMatcher_Path)
	if !ok {
		return false, invalid("PathMatcher without a path rule")
	}
	if v == nil {
		// Still validate the matcher.
		_, err := matchString(p.Path, "")
		if err != nil && errors.Is(err, ErrInvalidConfig) {
			return false, err
		}
		return false, nil
	}
	return matchString(p.Path, withoutQuery(v.path()))
}

var rangeInt = regexp.MustCompile(`^[+-]?[0-9]+$`)

// matchHeader applies a route HeaderMatcher as documented on
// route.v3.HeaderMatcher: a missing header never matches a value matcher,
// inverted or not, unless treat_missing_header_as_empty; present_match
// true/false asks whether the header is present/absent, then invert_match
// applies.
func matchHeader(h *routev3.HeaderMatcher, v *httpView) (bool, error) {
	if h == nil {
		return false, invalid("HeaderMatcher is missing")
	}
	if h.GetName() == "" {
		return false, invalid("HeaderMatcher without a name")
	}
	// Validate the specifier before looking at the request, so that an
	// invalid matcher is reported whatever the request.
	specific, err := headerSpecific(h)
	if err != nil {
		return false, err
	}
	val, present, err := v.get(h.GetName())
	if err != nil {
		return false, err
	}
	if pm, ok := h.GetHeaderMatchSpecifier().(*routev3.HeaderMatcher_PresentMatch); ok {
		if h.GetTreatMissingHeaderAsEmpty() {
			return false, unsupported("present_match with treat_missing_header_as_empty on header %q", h.GetName())
		}
		return (present == pm.PresentMatch) != h.GetInvertMatch(), nil
	}
	if !present {
		if !h.GetTreatMissingHeaderAsEmpty() {
			return false, nil
		}
		val = ""
	}
	ok, err := specific(val)
	if err != nil {
		return false, err
	}
	return ok != h.GetInvertMatch(), nil
}

// headerSpecific returns the value test of a HeaderMatcher (not used for
// present_match).
func headerSpecific(h *routev3.HeaderMatcher) (func(string) (bool, error), error) {
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_ExactMatch:
		// An empty exact_match matches any value of a present header
		// (Envoy's HeaderDataExactMatch: empty expected value = any).
		return func(val string) (bool, error) {
			return s.ExactMatch == "" || val == s.ExactMatch, nil
		}, nil
	case *routev3.HeaderMatcher_SafeRegexMatch:
		if _, err := compileRegex(s.SafeRegexMatch); err != nil {
			return nil, err
		}
		return func(val string) (bool, error) { return matchRegex(s.SafeRegexMatch, val) }, nil
	case *routev3.HeaderMatcher_RangeMatch:
		if s.RangeMatch == nil {
			return nil, invalid("range_match without a range")
		}
		return func(val string) (bool, error) {
			// "The entire request header value must represent an integer
			// in base 10 notation" (HeaderMatcher.range_match).
			if !rangeInt.MatchString(val) {
				return false, nil
			}
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return false, nil
			}
			return s.RangeMatch.GetStart() <= n && n < s.RangeMatch.GetEnd(), nil
		}, nil
	case *routev3.HeaderMatcher_PresentMatch:
		return nil, nil
	case *routev3.HeaderMatcher_PrefixMatch:
		if s.PrefixMatch == "" {
			return nil, invalid("HeaderMatcher with an empty prefix_match")
		}
		return func(val string) (bool, error) { return strings.HasPrefix(val, s.PrefixMatch), nil }, nil
	case *routev3.HeaderMatcher_SuffixMatch:
		if s.SuffixMatch == "" {
			return nil, invalid("HeaderMatcher with an empty suffix_match")
		}
		return func(val string) (bool, error) { return strings.HasSuffix(val, s.SuffixMatch), nil }, nil
	case *routev3.HeaderMatcher_ContainsMatch:
		if s.ContainsMatch == "" {
			return nil, invalid("HeaderMatcher with an empty contains_match")
		}
		return func(val string) (bool, error) { return strings.Contains(val, s.ContainsMatch), nil }, nil
	case *routev3.HeaderMatcher_StringMatch:
		if _, err := matchString(s.StringMatch, ""); err != nil && errors.Is(err, ErrInvalidConfig) {
			return nil, err
		}
		return func(val string) (bool, error) { return matchString(s.StringMatch, val) }, nil
	case nil:
		return nil, unsupported("HeaderMatcher %q without a match specifier", h.GetName())
	default:
		return nil, unsupported("HeaderMatcher specifier %T", s)
	}
}

// parseCIDR turns an Envoy CidrRange into a prefix. prefix_len defaults to 0.
func parseCIDR(c *corev3.CidrRange) (netip.Prefix, error) {
	if c == nil {
		return netip.Prefix{}, invalid("CidrRange is missing")
	}
	addr, err := netip.ParseAddr(c.GetAddressPrefix())
	if err != nil {
		return netip.Prefix{}, invalid("CidrRange address %q: %v", c.GetAddressPrefix(), err)
	}
	bits := 0
	if c.GetPrefixLen() != nil {
		bits = int(c.GetPrefixLen().GetValue())
	}
	if bits > addr.BitLen() {
		return netip.Prefix{}, invalid("CidrRange %s/%d: prefix length too long", c.GetAddressPrefix(), bits)
	}
	return netip.PrefixFrom(addr, bits).Masked(), nil
}

// inCIDR reports whether the address is in the range. An IPv4 address is
// never in an IPv6 range and the reverse.
func inCIDR(c *corev3.CidrRange, a netip.Addr, what string) (bool, error) {
	p, err := parseCIDR(c)
	if err != nil {
		return false, err
	}
	if !a.IsValid() {
		return false, badRequest("the request has no %s", what)
	}
	return p.Contains(a.Unmap()), nil
}
