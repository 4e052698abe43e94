package regexsize

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
)

// Go's parser merges and factors alternations in its own way (a|a|b is
// [ab] at once, a run of empty branches one empty), RE2's in another (a|a
// is a(?:|), empty branches stay). To see each branch as written, the
// source is parsed with a marker at the start of every branch of every
// alternation: Go's parser then neither merges nor factors them, and
// factorAlternation does what RE2's parser does.

// branchMarker is what every branch starts with in the marked source;
// markerLen is how many nodes it parses to.
const (
	branchMarker = `\B\b\B`
	markerLen    = 3
)

// markBranches inserts branchMarker at the start of every branch of every
// alternation of re (a level of re with a | in it). It returns "" when the
// source is not what it expects.
func markBranches(re string) string {
	type level struct {
		start int   // where its first branch starts
		bars  []int // where each | is
	}
	var stack []level
	var marks []int
	stack = append(stack, level{start: 0})
	for i := 0; i < len(re); i++ {
		switch re[i] {
		case '\\':
			if i+1 < len(re) && re[i+1] == 'Q' {
				end := strings.Index(re[i+2:], `\E`)
				if end < 0 {
					i = len(re)
				} else {
					i += 2 + end + 1
				}
				continue
			}
			i++
		case '[':
			j := i + 1
			if j < len(re) && re[j] == '^' {
				j++
			}
			if j < len(re) && re[j] == ']' {
				j++
			}
			for ; j < len(re) && re[j] != ']'; j++ {
				switch {
				case re[j] == '\\':
					j++
				case re[j] == '[' && j+1 < len(re) && re[j+1] == ':':
					if end := strings.Index(re[j+2:], ":]"); end >= 0 {
						j += 2 + end + 1
					}
				}
			}
			if j >= len(re) {
				return ""
			}
			i = j
		case '(':
			if strings.HasPrefix(re[i:], "(?") {
				// (?flags) sets flags in this level; (?flags:…), (?:…),
				// (?P<name>…), (?<name>…) open one.
				j := i + 2
				for j < len(re) && (re[j] >= 'a' && re[j] <= 'z' || re[j] >= 'A' && re[j] <= 'Z' || re[j] == '-') {
					j++
				}
				if j < len(re) && re[j] == ')' {
					i = j
					continue
				}
				if j < len(re) && re[j] == '<' || strings.HasPrefix(re[i:], "(?P<") {
					end := strings.IndexByte(re[i:], '>')
					if end < 0 {
						return ""
					}
					j = i + end
				} else if j >= len(re) || re[j] != ':' {
					return ""
				}
				stack = append(stack, level{start: j + 1})
				i = j
				continue
			}
			stack = append(stack, level{start: i + 1})
		case ')':
			if len(stack) < 2 {
				return ""
			}
			l := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(l.bars) > 0 {
				marks = append(marks, l.start)
				marks = append(marks, l.bars...)
			}
		case '|':
			stack[len(stack)-1].bars = append(stack[len(stack)-1].bars, i+1)
		}
	}
	if len(stack) != 1 {
		return ""
	}
	if l := stack[0]; len(l.bars) > 0 {
		marks = append(marks, l.start)
		marks = append(marks, l.bars...)
	}
	if len(marks) == 0 {
		return re
	}
	slices.Sort(marks)
	var b strings.Builder
	prev := 0
	for _, m := range marks {
		b.WriteString(re[prev:m])
		b.WriteString(branchMarker)
		prev = m
	}
	b.WriteString(re[prev:])
	return b.String()
}

// stripMarker returns branch re without its marker, and whether it had one.
func stripMarker(re *syntax.Regexp) (*syntax.Regexp, bool) {
	isMarker := func(subs []*syntax.Regexp) bool {
		return len(subs) >= markerLen && subs[0].Op == syntax.OpNoWordBoundary &&
			subs[1].Op == syntax.OpWordBoundary && subs[2].Op == syntax.OpNoWordBoundary
	}
	if re.Op != syntax.OpConcat || !isMarker(re.Sub) {
		return re, false
	}
	switch rest := re.Sub[markerLen:]; len(rest) {
	case 0:
		return &syntax.Regexp{Op: syntax.OpEmptyMatch, Flags: re.Flags}, true
	case 1:
		return rest[0], true
	default:
		c := *re
		c.Sub = rest
		return &c, true
	}
}

// alternation builds RE2's alternation from Go's parse of marked
// branches: DoVerticalBar (any character subsumes a neighbouring literal
// or class), DoCollapse (a branch that is an alternation is spliced in),
// then FactorAlternation.
func (cv *converter) alternation(re *syntax.Regexp) *node {
	var subs []*node
	for _, s := range re.Sub {
		b, ok := stripMarker(s)
		if !ok {
			cv.unmarked = true
		}
		n := cv.fromGo(b)
		if k := len(subs); k > 0 {
			prev := subs[k-1]
			if prev.op == nAnyChar && (n.op == nLiteral || n.op == nClass || n.op == nAnyChar) {
				continue
			}
			if n.op == nAnyChar && (prev.op == nLiteral || prev.op == nClass) {
				subs[k-1] = n
				continue
			}
		}
		if n.op == nAlternate {
			subs = append(subs, n.sub...)
			continue
		}
		subs = append(subs, n)
	}
	subs = factorAlternation(subs)
	if len(subs) == 1 {
		return subs[0]
	}
	return &node{op: nAlternate, sub: subs}
}

// leadingString is Regexp::LeadingString.
func leadingString(n *node) ([]rune, bool) {
	for n.op == nConcat && len(n.sub) > 0 {
		n = n.sub[0]
	}
	if isLit(n) {
		return n.runes, n.fold
	}
	return nil, false
}

// removeLeadingString is Regexp::RemoveLeadingString: n without its first
// k runes (concatenations simplified as RE2 does).
func removeLeadingString(n *node, k int) *node {
	if n.op == nConcat && len(n.sub) > 0 {
		first := removeLeadingString(n.sub[0], k)
		if first.op != nEmptyMatch {
			c := *n
			c.sub = append([]*node{first}, n.sub[1:]...)
			return &c
		}
		if len(n.sub) == 2 {
			return n.sub[1]
		}
		c := *n
		c.sub = slices.Clone(n.sub[1:])
		return &c
	}
	if !isLit(n) {
		return n
	}
	switch rest := n.runes[min(k, len(n.runes)):]; len(rest) {
	case 0:
		return &node{op: nEmptyMatch}
	case 1:
		return &node{op: nLiteral, runes: rest, fold: n.fold}
	default:
		return &node{op: nLiteralString, runes: rest, fold: n.fold}
	}
}

// leadingRegexp is Regexp::LeadingRegexp.
func leadingRegexp(n *node) *node {
	if n.op == nEmptyMatch {
		return nil
	}
	if n.op == nConcat && len(n.sub) >= 2 {
		if n.sub[0].op == nEmptyMatch {
			return nil
		}
		return n.sub[0]
	}
	return n
}

// removeLeadingRegexp is Regexp::RemoveLeadingRegexp.
func removeLeadingRegexp(n *node) *node {
	if n.op == nEmptyMatch {
		return n
	}
	if n.op == nConcat && len(n.sub) >= 2 {
		if n.sub[0].op == nEmptyMatch {
			return n
		}
		if len(n.sub) == 2 {
			return n.sub[1]
		}
		c := *n
		c.sub = slices.Clone(n.sub[1:])
		return &c
	}
	return &node{op: nEmptyMatch}
}

// factorable: the leading pieces round 2 factors out.
func factorable(n *node) bool {
	switch n.op {
	case nEmptyWidth, nClass, nAnyChar:
		return true
	case nRepeat:
		s := n.sub[0].op
		return n.min == n.max && (s == nLiteral || s == nClass || s == nAnyChar)
	}
	return false
}

// sameLeading is Regexp::Equal for round 2's leading pieces.
func sameLeading(a, b *node) bool {
	if a.op != b.op {
		return false
	}
	switch a.op {
	case nEmptyWidth:
		return a.ew == b.ew && a.flags&syntax.WasDollar == b.flags&syntax.WasDollar
	case nClass:
		return slices.Equal(a.ranges, b.ranges)
	case nAnyChar:
		return true
	case nRepeat:
		return a.min == b.min && a.max == b.max && a.nongreedy == b.nongreedy && sameLeaf(a.sub[0], b.sub[0])
	}
	return false
}

func sameLeaf(a, b *node) bool {
	if a.op != b.op {
		return false
	}
	switch a.op {
	case nLiteral:
		return a.runes[0] == b.runes[0] && a.fold == b.fold
	case nClass:
		return slices.Equal(a.ranges, b.ranges)
	}
	return a.op == nAnyChar
}

// factorAlternation is Regexp::FactorAlternation (RE2 2022): round 1
// factors common literal prefixes, round 2 common leading assertions,
// classes and fixed repeats, each suffix list factored again; round 3
// merges runs of literals and classes into one class. Empty branches are
// kept.
func factorAlternation(subs []*node) []*node {
	// Round 1: common leading literal strings.
	var out []*node
	for start := 0; start < len(subs); {
		prefix, fold := leadingString(subs[start])
		end := start + 1
		for len(prefix) > 0 && end < len(subs) {
			r, f := leadingString(subs[end])
			same := 0
			for same < len(prefix) && same < len(r) && prefix[same] == r[same] {
				same++
			}
			if f != fold || same == 0 {
				break
			}
			prefix = prefix[:same]
			end++
		}
		if end-start < 2 {
			out = append(out, subs[start])
			start++
			continue
		}
		var suffixes []*node
		for _, s := range subs[start:end] {
			suffixes = append(suffixes, removeLeadingString(s, len(prefix)))
		}
		lit := &node{op: nLiteralString, runes: slices.Clone(prefix), fold: fold}
		if len(prefix) == 1 {
			lit.op = nLiteral
		}
		out = append(out, &node{op: nConcat, sub: []*node{lit, alternateOf(factorAlternation(suffixes))}})
		start = end
	}
	subs = out

	// Round 2: common leading regexp.
	out = nil
	for start := 0; start < len(subs); {
		first := leadingRegexp(subs[start])
		end := start + 1
		if first != nil && factorable(first) {
			for end < len(subs) {
				f := leadingRegexp(subs[end])
				if f == nil || !sameLeading(first, f) {
					break
				}
				end++
			}
		}
		if end-start < 2 {
			out = append(out, subs[start])
			start++
			continue
		}
		var suffixes []*node
		for _, s := range subs[start:end] {
			suffixes = append(suffixes, removeLeadingRegexp(s))
		}
		out = append(out, &node{op: nConcat, sub: []*node{first, alternateOf(factorAlternation(suffixes))}})
		start = end
	}
	subs = out

	// Round 3: runs of literals and classes become one class.
	out = nil
	for start := 0; start < len(subs); {
		end := start
		for end < len(subs) && (subs[end].op == nLiteral || subs[end].op == nClass) {
			end++
		}
		if end-start < 2 {
			out = append(out, subs[start])
			start++
			continue
		}
		var rs []rune
		for _, s := range subs[start:end] {
			if s.op == nClass {
				rs = addRanges(rs, s.ranges)
				continue
			}
			r := s.runes[0]
			rs = addRanges(rs, []rune{r, r})
			if s.fold {
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					rs = addRanges(rs, []rune{f, f})
				}
			}
		}
		// Stays a class: RE2 makes no literal of it here.
		out = append(out, &node{op: nClass, ranges: rs})
		start = end
	}
	return out
}

func alternateOf(subs []*node) *node {
	if len(subs) == 1 {
		return subs[0]
	}
	return &node{op: nAlternate, sub: subs}
}

// addRanges is the union of two sets of ranges, sorted and merged.
func addRanges(a, b []rune) []rune {
	type rr struct{ lo, hi rune }
	var all []rr
	for i := 0; i+1 < len(a); i += 2 {
		all = append(all, rr{a[i], a[i+1]})
	}
	for i := 0; i+1 < len(b); i += 2 {
		all = append(all, rr{b[i], b[i+1]})
	}
	slices.SortFunc(all, func(x, y rr) int { return int(x.lo - y.lo) })
	var out []rune
	for _, r := range all {
		if n := len(out); n > 0 && r.lo <= out[n-1]+1 {
			out[n-1] = max(out[n-1], r.hi)
			continue
		}
		out = append(out, r.lo, r.hi)
	}
	return out
}
