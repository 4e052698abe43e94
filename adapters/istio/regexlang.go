package istio

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Istio's AuthorizationPolicy has no regular expressions: paths are exact,
// prefix ("/x*"), suffix ("*/x") or "*", and header conditions the same. This
// file decides, with regexp/syntax, when the language of a regex is exactly a
// finite union of such patterns, and produces them. It never widens: when the
// language is anything else, it returns an error and the caller emits no
// permission for that match (fail closed).

// maxAlternatives bounds the expansion (e.g. [0-9] gives 10 alternatives).
const maxAlternatives = 64

var errUnsupported = errors.New("not a finite set of exact or prefix strings")

// ErrMatchesNothing: the regex matches no path or value at all (e.g. "a^b"):
// the SMI match grants nothing, and neither may the Istio rule. An empty
// Istio list would mean "any", so it is an error, never an empty result.
var ErrMatchesNothing = errors.New("matches nothing")

// alt is one alternative of a language under construction: the literal
// string so far, then either nothing (closed), anything (open: s·Σ*) or the
// end of input (ended).
//
// mid says that s does not start at the start of the value: it follows an
// arbitrary non-empty prefix (a suffix pattern "*s"), so no start anchor can
// match before s has a newline to stand after. lineEnd says the alternative
// was ended by a multi-line "$", which also matches before a newline.
type alt struct {
	s       string
	open    bool
	ended   bool
	mid     bool
	lineEnd bool
}

// atStart: the alternative stands at the start of the value.
func (a alt) atStart() bool { return a.s == "" && !a.mid }

// begin decides a start anchor at the alternative's position: it matches
// (keep), cannot match (drop), or depends on the unknown character before a
// suffix pattern (err).
func (e *expander) begin(a alt, n *syntax.Regexp) (keep bool) {
	switch {
	case a.atStart():
		return true
	case n.Op == syntax.OpBeginLine && strings.HasSuffix(a.s, "\n"):
		return true
	case n.Op == syntax.OpBeginLine && a.s == "":
		e.fail("a multi-line start anchor after an arbitrary prefix")
	}
	return false
}

type expander struct{ err error }

func (e *expander) fail(format string, args ...any) []alt {
	if e.err == nil {
		e.err = fmt.Errorf(format, args...)
	}
	return nil
}

// seq expands nodes in order, starting from alts.
func (e *expander) seq(alts []alt, nodes []*syntax.Regexp) []alt {
	for _, n := range nodes {
		alts = e.node(alts, n)
		if e.err != nil {
			return nil
		}
		if len(alts) > maxAlternatives {
			return e.fail("more than %d alternatives", maxAlternatives)
		}
	}
	return alts
}

// nullable: n matches the empty string at any position. Anchors (^, $)
// match it only at the start or the end, so they are not: dropping "^" from
// "0^" would turn "matches nothing" into "0…" (found by FuzzAccessNeverWider).
func nullable(n *syntax.Regexp) bool {
	switch n.Op {
	case syntax.OpEmptyMatch, syntax.OpStar, syntax.OpQuest:
		return true
	case syntax.OpRepeat:
		return n.Min == 0 || nullable(n.Sub[0])
	case syntax.OpPlus, syntax.OpCapture:
		return nullable(n.Sub[0])
	case syntax.OpConcat:
		for _, s := range n.Sub {
			if !nullable(s) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, s := range n.Sub {
			if nullable(s) {
				return true
			}
		}
	}
	return false
}

func isBegin(n *syntax.Regexp) bool {
	return n.Op == syntax.OpBeginText || n.Op == syntax.OpBeginLine
}

func isEnd(n *syntax.Regexp) bool { return n.Op == syntax.OpEndText || n.Op == syntax.OpEndLine }

func isAnyStar(n *syntax.Regexp) bool {
	return n.Op == syntax.OpStar && (n.Sub[0].Op == syntax.OpAnyChar || n.Sub[0].Op == syntax.OpAnyCharNotNL)
}

func (e *expander) node(alts []alt, n *syntax.Regexp) []alt {
	var out []alt
	for _, a := range alts {
		switch {
		case a.open:
			// s·Σ*·n = s·Σ* when n is nullable or an end anchor; otherwise
			// it is a pattern with something after a wildcard, which Istio
			// cannot say.
			if nullable(n) || isEnd(n) {
				out = append(out, a)
				continue
			}
			return e.fail("something must follow an arbitrary substring")
		}
		out = append(out, e.step(a, n)...)
		if e.err != nil {
			return nil
		}
	}
	return out
}

// step applies node n to one closed or ended alternative.
func (e *expander) step(a alt, n *syntax.Regexp) []alt {
	if a.ended {
		// After the end of input only the empty string can follow: what
		// matches it, another end anchor, or a start anchor where one
		// matches. A multi-line "$" also matches before a newline, which
		// this expansion does not follow: text after it fails closed.
		switch n.Op {
		case syntax.OpLiteral, syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			if a.lineEnd {
				return e.fail("text after a multi-line end anchor")
			}
			return nil
		case syntax.OpStar:
			return []alt{a} // no repetition: one more cannot end anywhere new
		case syntax.OpPlus:
			return e.seq([]alt{a}, n.Sub)
		case syntax.OpRepeat:
			cur := []alt{a}
			for i := 0; i < n.Min && len(cur) > 0; i++ {
				cur = e.seq(cur, n.Sub)
			}
			return cur
		}
	}
	switch n.Op {
	case syntax.OpEmptyMatch:
		return []alt{a}
	case syntax.OpLiteral:
		if n.Flags&syntax.FoldCase != 0 {
			out := []alt{a}
			for _, r := range n.Rune {
				var next []alt
				for _, v := range caseVariants(r) {
					for _, x := range out {
						x.s += string(v)
						next = append(next, x)
					}
				}
				out = next
				if len(out) > maxAlternatives {
					return e.fail("case-insensitive literal has too many spellings")
				}
			}
			return out
		}
		a.s += string(n.Rune)
		return []alt{a}
	case syntax.OpCharClass:
		var out []alt
		for i := 0; i+1 < len(n.Rune); i += 2 {
			if int(n.Rune[i+1]-n.Rune[i]) >= maxAlternatives {
				return e.fail("character class %s is too large", n)
			}
			for r := n.Rune[i]; r <= n.Rune[i+1]; r++ {
				b := a
				b.s += string(r)
				out = append(out, b)
				if len(out) > maxAlternatives {
					return e.fail("character class %s is too large", n)
				}
			}
		}
		return out
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return e.fail("a single arbitrary character")
	case syntax.OpBeginText, syntax.OpBeginLine:
		if e.begin(a, n) {
			return []alt{a}
		}
		return nil // cannot match here: the alternative disappears (as in the regex)
	case syntax.OpEndText, syntax.OpEndLine:
		// A later "\z" proves the end; a multi-line "$" alone does not.
		a.lineEnd = n.Op == syntax.OpEndLine && (!a.ended || a.lineEnd)
		a.ended = true
		return []alt{a}
	case syntax.OpCapture:
		return e.seq([]alt{a}, n.Sub)
	case syntax.OpConcat:
		return e.seq([]alt{a}, n.Sub)
	case syntax.OpAlternate:
		var out []alt
		for _, s := range n.Sub {
			out = append(out, e.seq([]alt{a}, []*syntax.Regexp{s})...)
		}
		return out
	case syntax.OpQuest:
		return append([]alt{a}, e.seq([]alt{a}, n.Sub)...)
	case syntax.OpStar:
		if isAnyStar(n) {
			a.open = true
			return []alt{a}
		}
		return e.fail("unbounded repetition %s", n)
	case syntax.OpPlus:
		return e.fail("unbounded repetition %s", n)
	case syntax.OpRepeat:
		if n.Max < 0 || n.Max > 8 {
			return e.fail("repetition %s", n)
		}
		var out []alt
		cur := []alt{a}
		for i := 0; i <= n.Max; i++ {
			if i >= n.Min {
				out = append(out, cur...)
			}
			cur = e.seq(cur, n.Sub)
			if e.err != nil {
				return nil
			}
		}
		return out
	}
	return e.fail("%s is not supported", n)
}

func caseVariants(r rune) []rune {
	out := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		out = append(out, f)
	}
	return out
}

// reduceTail rewrites the nodes that precede a trailing Σ*: a nullable node
// before Σ* adds nothing (n·Σ* = Σ* when n matches ε), x+ before Σ* is x, and
// x{m,n} is x{m}. So "/api/v[0-9]+" followed by Σ* is "/api/v[0-9]" Σ*.
func reduceTail(nodes []*syntax.Regexp) []*syntax.Regexp {
	for len(nodes) > 0 {
		last := nodes[len(nodes)-1]
		switch {
		case nullable(last):
			nodes = nodes[:len(nodes)-1]
		case last.Op == syntax.OpPlus:
			nodes = append(nodes[:len(nodes)-1:len(nodes)-1], last.Sub[0])
		case last.Op == syntax.OpRepeat && last.Min > 0 && last.Max != last.Min:
			r := *last
			r.Max = r.Min
			nodes = append(nodes[:len(nodes)-1:len(nodes)-1], &r)
		case last.Op == syntax.OpConcat:
			nodes = append(nodes[:len(nodes)-1:len(nodes)-1], last.Sub...)
		case last.Op == syntax.OpCapture:
			nodes = append(nodes[:len(nodes)-1:len(nodes)-1], last.Sub[0])
		default:
			return nodes
		}
	}
	return nodes
}

// special characters of Istio's path and value patterns that cannot be escaped.
const istioSpecial = "*{}"

// PathPatterns turns a model path regex ("^(?:re).*$", full match) into
// Istio AuthorizationPolicy paths with exactly the same language.
func PathPatterns(anchored string) ([]string, error) {
	re, err := syntax.Parse(anchored, syntax.Perl)
	if err != nil {
		return nil, err
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat || len(re.Sub) < 3 || re.Sub[0].Op != syntax.OpBeginText ||
		re.Sub[len(re.Sub)-1].Op != syntax.OpEndText || !isAnyStar(re.Sub[len(re.Sub)-2]) {
		return nil, fmt.Errorf("%q is not a start-anchored path regex", anchored)
	}
	body := re.Sub[1 : len(re.Sub)-2]
	var nodes []*syntax.Regexp
	if len(body) > 0 && !endsWithEnd(body) {
		// Only a body that cannot end the input before the trailing Σ* can be reduced.
		nodes = reduceTail(append([]*syntax.Regexp{}, body...))
	} else {
		nodes = body
	}
	e := &expander{}
	alts := e.seq([]alt{{}}, append(nodes, &syntax.Regexp{Op: syntax.OpStar, Sub: []*syntax.Regexp{{Op: syntax.OpAnyChar}}}))
	if e.err != nil {
		return nil, fmt.Errorf("%w: %v", errUnsupported, e.err)
	}
	return nonEmpty(patterns(alts, true))
}

func nonEmpty(out []string, err error) ([]string, error) {
	if err == nil && len(out) == 0 {
		return nil, ErrMatchesNothing
	}
	return out, err
}

// ValuePatterns turns a header regex (matching the whole value) into Istio
// condition values: exact, prefix ("v*"), suffix ("*v") or presence ("*").
func ValuePatterns(regex string) ([]string, error) {
	re, err := syntax.Parse("^(?:"+regex+")$", syntax.Perl)
	if err != nil {
		return nil, err
	}
	re = re.Simplify()
	var nodes []*syntax.Regexp
	if re.Op == syntax.OpConcat {
		nodes = re.Sub
	} else {
		nodes = []*syntax.Regexp{re}
	}
	// A leading Σ* (after ^) is a suffix pattern: reverse the problem.
	for len(nodes) > 0 && (nodes[0].Op == syntax.OpBeginText || nodes[0].Op == syntax.OpEmptyMatch) {
		nodes = nodes[1:]
	}
	if len(nodes) > 0 && isAnyStar(nodes[0]) {
		rest := nodes[1:]
		if len(rest) > 0 && rest[len(rest)-1].Op == syntax.OpEndText {
			rest = rest[:len(rest)-1]
		}
		if len(rest) == 0 {
			return []string{"*"}, nil // any value, also empty
		}
		tail := append(append([]*syntax.Regexp{}, rest...), &syntax.Regexp{Op: syntax.OpEndText})
		// The leading Σ* matched a non-empty prefix: the rest follows it,
		// where a start anchor no longer matches ("*s"), or it matched
		// nothing: the rest stands at the start of the value, where one
		// does (exact values). ".*(^|,)admin" is "admin" or "*,admin",
		// never "*admin".
		e := &expander{}
		after := e.seq([]alt{{mid: true}}, tail)
		atStart := e.seq([]alt{{}}, tail)
		if e.err != nil {
			return nil, fmt.Errorf("%w: %v", errUnsupported, e.err)
		}
		var out, suffixes []string
		for _, a := range after {
			if a.open || a.s == "" || strings.ContainsAny(a.s, istioSpecial) {
				return nil, fmt.Errorf("%w: contains %q (a wildcard on both sides)", errUnsupported, a.s)
			}
			out, suffixes = append(out, "*"+a.s), append(suffixes, a.s)
		}
		exact, err := patterns(atStart, false)
		if err != nil {
			return nil, err
		}
		for _, x := range exact {
			if !slices.ContainsFunc(suffixes, func(sfx string) bool { return strings.HasSuffix(x, sfx) }) {
				out = append(out, x)
			}
		}
		return nonEmpty(dedupe(out), nil)
	}
	e := &expander{}
	alts := e.seq([]alt{{}}, nodes)
	if e.err != nil {
		return nil, fmt.Errorf("%w: %v", errUnsupported, e.err)
	}
	return nonEmpty(patterns(alts, false))
}

func endsWithEnd(nodes []*syntax.Regexp) bool {
	last := nodes[len(nodes)-1]
	return last.Op == syntax.OpEndText || last.Op == syntax.OpEndLine
}

// patterns renders alternatives: open ones as prefixes, the others exact.
// Istio cannot write an empty exact path or an empty prefix other than "*".
func patterns(alts []alt, path bool) ([]string, error) {
	var prefixes, exact []string
	for _, a := range alts {
		if strings.ContainsAny(a.s, istioSpecial) {
			return nil, fmt.Errorf("%w: %q contains a character Istio treats as a wildcard", errUnsupported, a.s)
		}
		if a.open {
			prefixes = append(prefixes, a.s)
		} else {
			if a.s == "" && path {
				continue // no request has an empty path
			}
			if a.s == "" {
				return nil, fmt.Errorf("%w: the empty value", errUnsupported)
			}
			exact = append(exact, a.s)
		}
	}
	var out []string
	for _, p := range prefixes {
		if p == "" {
			return []string{"*"}, nil
		}
		out = append(out, p+"*")
	}
	for _, x := range exact {
		covered := false
		for _, p := range prefixes {
			covered = covered || strings.HasPrefix(x, p)
		}
		if !covered {
			out = append(out, x)
		}
	}
	return dedupe(out), nil
}

func dedupe(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}
