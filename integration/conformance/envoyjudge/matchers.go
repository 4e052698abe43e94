package envoyjudge

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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

// firstInvalid returns the error that decides a combination whatever the
// other children say: the regex engine failing (there is no answer at all),
// else an invalid configuration.
func firstInvalid(rs []tri) error {
	for _, r := range rs {
		if r.err != nil && errors.Is(r.err, ErrRegexEngine) {
			return r.err
		}
	}
	for _, r := range rs {
		if r.err != nil && errors.Is(r.err, ErrInvalidConfig) {
			return r.err
		}
	}
	return nil
}

// decisive says that err must be reported even where the matcher's answer
// is not needed (a matcher validated without a request): an invalid
// configuration, or the regex engine failing.
func decisive(err error) bool {
	return errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrRegexEngine)
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

// RegexEngine is RE2 itself, the engine Envoy compiles every safe_regex
// with: integration/harness's RE2 oracle (*harness.RE2) is one. The judge
// decides no regex on its own: UseRE2 sets the engine.
type RegexEngine interface {
	// Compile compiles pattern as Envoy does (RE2 with default options)
	// and returns RE2::ProgramSize(). A pattern RE2 refuses is an error
	// with a method Refused() reporting true (*harness.RE2Refusal); any
	// other error is the engine failing.
	Compile(pattern string) (programSize int, err error)
	// FullMatch reports RE2::FullMatch(input, pattern): whether the whole
	// of input matches, which is how Envoy matches a safe_regex.
	FullMatch(pattern, input string) (bool, error)
}

// ErrRegexEngine marks the judge without an answer because it has no regex
// engine (UseRE2 was not called) or the engine failed. It is neither a
// verdict nor Undecidable: a test that gets it must fail.
var ErrRegexEngine = errors.New("envoyjudge: regex engine")

// regexes is the engine UseRE2 set, with its caches.
var regexes atomic.Pointer[regexState]

type regexState struct {
	engine RegexEngine
	limit  int
	// compiled: pattern -> compileResult; matched: matchKey -> bool. Each
	// answer is a round trip to the oracle process.
	compiled sync.Map
	matched  sync.Map
}

type compileResult struct {
	size int
	err  error // RE2's refusal, as ErrInvalidConfig
}

type matchKey struct{ pattern, input string }

// UseRE2 sets the regex engine of the judge and the runtime value
// re2.max_program_size.error_level of the Envoy whose configuration is
// judged (regexsize.IstioProgramLimit for istiod's sidecars,
// regexsize.ConsulProgramLimit for Consul's): a regex RE2 refuses, or whose
// program is larger, is ErrInvalidConfig, as Envoy refuses the
// configuration. Call it once per test process, in TestMain, before any
// judgement, with the RE2 oracle (harness.StartRE2); without it every regex
// question is an ErrRegexEngine error. Calling it again replaces the engine
// and drops the cached answers.
func UseRE2(e RegexEngine, programLimit int) {
	if e == nil || programLimit <= 0 {
		panic(fmt.Sprintf("envoyjudge.UseRE2(%v, %d): need an engine and a positive program size limit", e, programLimit))
	}
	regexes.Store(&regexState{engine: e, limit: programLimit})
}

func regexEngine() (*regexState, error) {
	st := regexes.Load()
	if st == nil {
		return nil, fmt.Errorf("%w: none set: call envoyjudge.UseRE2 with the RE2 oracle (harness.StartRE2) in TestMain", ErrRegexEngine)
	}
	return st, nil
}

// refused says err is RE2 refusing a pattern (RegexEngine.Compile).
func refused(err error) bool {
	var r interface{ Refused() bool }
	return errors.As(err, &r) && r.Refused()
}

// compile returns the pattern's program size, or RE2's refusal as
// ErrInvalidConfig. Engine failures are not cached.
func (st *regexState) compile(pattern string) (int, error) {
	if c, ok := st.compiled.Load(pattern); ok {
		return c.(compileResult).size, c.(compileResult).err
	}
	size, err := st.engine.Compile(pattern)
	switch {
	case err != nil && refused(err):
		err = invalid("regex %s: RE2 refuses it: %v", quoteRegex(pattern), err)
		size = 0
	case err != nil:
		return 0, fmt.Errorf("%w: compiling %s: %w", ErrRegexEngine, quoteRegex(pattern), err)
	}
	st.compiled.Store(pattern, compileResult{size: size, err: err})
	return size, err
}

// fullMatch asks RE2::FullMatch of a pattern compile accepted.
func (st *regexState) fullMatch(pattern, input string) (bool, error) {
	k := matchKey{pattern, input}
	if v, ok := st.matched.Load(k); ok {
		return v.(bool), nil
	}
	ok, err := st.engine.FullMatch(pattern, input)
	if err != nil {
		return false, fmt.Errorf("%w: matching %s against %q: %w", ErrRegexEngine, quoteRegex(pattern), input, err)
	}
	st.matched.Store(k, ok)
	return ok, nil
}

// quoteRegex quotes a regex for an error, cut to a readable length.
func quoteRegex(re string) string {
	const max = 120
	if len(re) > max {
		return strconv.Quote(re[:max]) + "..."
	}
	return strconv.Quote(re)
}

// compileRegex compiles an Envoy RegexMatcher as Envoy does: with RE2
// (default options), refusing it when RE2 refuses it or when its
// RE2::ProgramSize() is over re2.max_program_size.error_level (the limit
// UseRE2 was given) or over the deprecated google_re2.max_program_size,
// which Envoy checks too. The result is cached per pattern.
func compileRegex(m *matcherv3.RegexMatcher) error {
	if m == nil {
		return invalid("RegexMatcher is missing")
	}
	switch m.GetEngineType().(type) {
	case nil, *matcherv3.RegexMatcher_GoogleRe2:
	default:
		return unsupported("regex engine %T", m.GetEngineType())
	}
	st, err := regexEngine()
	if err != nil {
		return err
	}
	size, err := st.compile(m.GetRegex())
	if err != nil {
		return err
	}
	if size > st.limit {
		return invalid("regex %s: RE2 program size %d is over %d, the runtime re2.max_program_size.error_level: Envoy refuses it", quoteRegex(m.GetRegex()), size, st.limit)
	}
	if mp := m.GetGoogleRe2().GetMaxProgramSize(); mp != nil && size > int(mp.GetValue()) {
		return invalid("regex %s: RE2 program size %d is over %d, its google_re2.max_program_size: Envoy refuses it", quoteRegex(m.GetRegex()), size, mp.GetValue())
	}
	return nil
}

// matchRegex reports whether the whole of s matches ("The regex is matched
// against the full string, not as a partial match", RegexMatcher.regex):
// RE2::FullMatch, as Envoy matches, answered by the engine UseRE2 set.
func matchRegex(m *matcherv3.RegexMatcher, s string) (bool, error) {
	if err := compileRegex(m); err != nil {
		return false, err
	}
	st, err := regexEngine()
	if err != nil {
		return false, err
	}
	return st.fullMatch(m.GetRegex(), s)
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
		if err != nil && decisive(err) {
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
		if err := compileRegex(s.SafeRegexMatch); err != nil {
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
		if _, err := matchString(s.StringMatch, ""); err != nil && decisive(err) {
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
