package regexsize

import (
	"regexp/syntax"
	"slices"
	"unicode"
)

// node is a regex as RE2 holds it after parsing (re2/regexp.h): Go's parse
// rewritten where RE2's parser builds something else.
type node struct {
	op        nodeOp
	runes     []rune // literal, literal string
	fold      bool   // literal: FoldCase
	ranges    []rune // class: lo, hi pairs
	min, max  int    // repeat
	nongreedy bool
	flags     syntax.Flags // star, plus, quest: for RE2's squashing; $: WasDollar
	ew        syntax.Op    // empty width: which assertion
	sub       []*node
}

type nodeOp uint8

const (
	nNoMatch nodeOp = iota
	nEmptyMatch
	nLiteral       // one rune
	nLiteralString // several
	nClass
	nAnyChar
	nEmptyWidth
	nCapture
	nStar
	nPlus
	nQuest
	nRepeat
	nConcat
	nAlternate
)

func isRepeatOp(op nodeOp) bool {
	return op == nStar || op == nPlus || op == nQuest || op == nRepeat
}

// converter turns Go's parse of the marked source (factor.go) into RE2's
// tree.
type converter struct {
	unmarked bool // an alternation branch without its marker
}

// fromGo converts Go's parse to RE2's tree.
func (cv *converter) fromGo(re *syntax.Regexp) *node {
	switch re.Op {
	case syntax.OpNoMatch:
		return &node{op: nNoMatch}
	case syntax.OpEmptyMatch:
		return &node{op: nEmptyMatch}
	case syntax.OpLiteral:
		return literals(re.Rune, re.Flags&syntax.FoldCase != 0)
	case syntax.OpCharClass:
		return classNode(re.Rune)
	case syntax.OpAnyCharNotNL:
		return &node{op: nClass, ranges: []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}}
	case syntax.OpAnyChar:
		if re.Flags&syntax.DotNL == 0 {
			// Not a (?s:.): a class of every character, which Go's
			// parser rewrote; RE2 keeps it a class.
			return &node{op: nClass, ranges: []rune{0, unicode.MaxRune}}
		}
		return &node{op: nAnyChar}
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return &node{op: nEmptyWidth, ew: re.Op, flags: re.Flags}
	case syntax.OpCapture:
		return &node{op: nCapture, sub: []*node{cv.fromGo(re.Sub[0])}}
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		sub := cv.fromGo(re.Sub[0])
		op := map[syntax.Op]nodeOp{syntax.OpStar: nStar, syntax.OpPlus: nPlus, syntax.OpQuest: nQuest}[re.Op]
		// RE2's parser squashes a repetition of a repetition with the same
		// flags: ** to *, ++ to +, ?? to ?, any other pair to *.
		if (sub.op == nStar || sub.op == nPlus || sub.op == nQuest) && sub.flags == re.Flags && re.Sub[0].Op != syntax.OpCapture {
			if sub.op != op {
				sub.op = nStar
			}
			return sub
		}
		return &node{op: op, nongreedy: re.Flags&syntax.NonGreedy != 0, flags: re.Flags, sub: []*node{sub}}
	case syntax.OpRepeat:
		return &node{op: nRepeat, min: re.Min, max: re.Max, nongreedy: re.Flags&syntax.NonGreedy != 0, flags: re.Flags,
			sub: []*node{cv.fromGo(re.Sub[0])}}
	case syntax.OpAlternate:
		return cv.alternation(re)
	case syntax.OpConcat:
		// RE2's parser flattens concatenations in a concatenation.
		n := &node{op: nConcat}
		for _, s := range re.Sub {
			if c := cv.fromGo(s); c.op == nConcat {
				n.sub = append(n.sub, c.sub...)
			} else {
				n.sub = append(n.sub, c)
			}
		}
		return n
	}
	return &node{op: nNoMatch}
}

// requiredPrefix is Regexp::RequiredPrefix: a regex that is ^ (one or
// more) then a literal, then the rest, is compiled without them (RE2
// matches the literal itself). It returns the rest, or nil.
//
// Go's parser joins literals across flag groups (a(?s:b) is one literal
// "ab"), RE2's does not; with shortOnly, only the first rune is taken as
// the prefix, the most RE2 can leave in the program.
func requiredPrefix(n *node, shortOnly bool) *node {
	if n.op != nConcat {
		return nil
	}
	i := 0
	for i < len(n.sub) && n.sub[i].op == nEmptyWidth && n.sub[i].ew == syntax.OpBeginText {
		i++
	}
	if i == 0 || i >= len(n.sub) || !isLit(n.sub[i]) {
		return nil
	}
	lit := n.sub[i]
	i++
	rest := n.sub[i:]
	if shortOnly && len(lit.runes) > 1 {
		left := &node{op: nLiteralString, runes: lit.runes[1:], fold: lit.fold}
		if len(left.runes) == 1 {
			left.op = nLiteral
		}
		rest = append([]*node{left}, rest...)
	}
	switch len(rest) {
	case 0:
		return &node{op: nEmptyMatch}
	case 1:
		return rest[0]
	default:
		return &node{op: nConcat, sub: rest}
	}
}

// isAnchor is IsAnchorStart (start) or IsAnchorEnd: whether the
// simplified regex begins (ends) with \A (\z), looking into
// concatenations and captures at most 4 deep; the anchor is replaced by an
// empty literal string (a Nop) and the program is anchored instead.
func isAnchor(pn **node, depth int, start bool) bool {
	n := *pn
	if n == nil || depth >= 4 {
		return false
	}
	switch n.op {
	case nConcat:
		if len(n.sub) > 0 {
			k := len(n.sub) - 1
			if start {
				k = 0
			}
			sub := n.sub[k]
			if isAnchor(&sub, depth+1, start) {
				c := *n
				c.sub = slices.Clone(n.sub)
				c.sub[k] = sub
				*pn = &c
				return true
			}
		}
	case nCapture:
		sub := n.sub[0]
		if isAnchor(&sub, depth+1, start) {
			c := *n
			c.sub = []*node{sub}
			*pn = &c
			return true
		}
	case nEmptyWidth:
		if start && n.ew == syntax.OpBeginText || !start && n.ew == syntax.OpEndText {
			*pn = &node{op: nLiteralString}
			return true
		}
	}
	return false
}

// literals is a literal string as RE2's parser reads it: under case
// folding, a rune with a folding orbit is a class (an ASCII letter whose
// orbit is just its two cases is a folding literal, lower case), runes
// between are literal strings.
func literals(runes []rune, fold bool) *node {
	var parts []*node
	var run []rune
	flush := func() {
		switch len(run) {
		case 0:
		case 1:
			parts = append(parts, &node{op: nLiteral, runes: run, fold: fold})
		default:
			parts = append(parts, &node{op: nLiteralString, runes: run, fold: fold})
		}
		run = nil
	}
	for _, r := range runes {
		if !fold {
			run = append(run, r)
			continue
		}
		orbit := []rune{r}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			orbit = append(orbit, f)
		}
		switch {
		case len(orbit) == 1:
			run = append(run, r)
		case len(orbit) == 2 && isASCIILetter(orbit[0]) && isASCIILetter(orbit[1]):
			run = append(run, unicode.ToLower(r))
		default:
			flush()
			parts = append(parts, &node{op: nClass, ranges: runeSet(orbit)})
		}
	}
	flush()
	if len(parts) == 1 {
		return parts[0]
	}
	return &node{op: nConcat, sub: parts}
}

// classNode is a class as RE2's parser leaves it: one rune is a literal,
// an ASCII letter in both cases a folding literal.
func classNode(ranges []rune) *node {
	if len(ranges) == 2 && ranges[0] == ranges[1] {
		return &node{op: nLiteral, runes: []rune{ranges[0]}}
	}
	if len(ranges) == 4 && ranges[0] == ranges[1] && ranges[2] == ranges[3] &&
		'A' <= ranges[0] && ranges[0] <= 'Z' && ranges[2] == ranges[0]+'a'-'A' {
		return &node{op: nLiteral, runes: []rune{ranges[2]}, fold: true}
	}
	return &node{op: nClass, ranges: ranges}
}

func isASCIILetter(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }

// runeSet turns runes into sorted, merged ranges.
func runeSet(rs []rune) []rune {
	s := slices.Clone(rs)
	slices.Sort(s)
	var out []rune
	for _, r := range s {
		if n := len(out); n > 0 && out[n-1] >= r-1 {
			out[n-1] = max(out[n-1], r)
			continue
		}
		out = append(out, r, r)
	}
	return out
}

func isLit(n *node) bool { return n.op == nLiteral || n.op == nLiteralString }

// coalescer carries how coalescing reads "any character": Go's parser
// turns a class of every character ([\x00-\x{10FFFF}]) into the same
// node as (?s:.), RE2's does not (a class and kRegexpAnyChar are not
// Equal when RE2 coalesces). RE2ProgramSize counts both readings when it
// matters.
type coalescer struct {
	anyCharEqual bool // (?s:.) nodes are Equal to each other
	sawAnyChar   bool // an any-character node was compared
}

// equal is Regexp::Equal, for the leaves coalescing compares.
func (co *coalescer) equal(a, b *node) bool {
	if a.op != b.op {
		return false
	}
	switch a.op {
	case nLiteral, nLiteralString:
		return a.fold == b.fold && slices.Equal(a.runes, b.runes)
	case nClass:
		return slices.Equal(a.ranges, b.ranges)
	case nAnyChar:
		co.sawAnyChar = true
		return co.anyCharEqual
	case nStar, nPlus, nQuest, nRepeat:
		return a.nongreedy == b.nongreedy && a.min == b.min && a.max == b.max && co.equal(a.sub[0], b.sub[0])
	}
	return false
}

// coalesce is RE2's CoalesceWalker: in a concatenation, a repetition of a
// literal, class or any character followed by more of the same becomes one
// counted repetition (x*x+ is x{1,}, a+aab is a{3,}b).
func (co *coalescer) coalesce(n *node) *node {
	for i, s := range n.sub {
		n.sub[i] = co.coalesce(s)
	}
	if n.op != nConcat {
		return n
	}
	subs := n.sub
	can := false
	for i := 0; i+1 < len(subs); i++ {
		if co.canCoalesce(subs[i], subs[i+1]) {
			can = true
			break
		}
	}
	if !can {
		return n
	}
	for i := 0; i+1 < len(subs); i++ {
		if co.canCoalesce(subs[i], subs[i+1]) {
			subs[i], subs[i+1] = doCoalesce(subs[i], subs[i+1])
		}
	}
	var out []*node
	for _, s := range subs {
		if s.op != nEmptyMatch {
			out = append(out, s)
		}
	}
	// RE2 keeps the concatenation even with one element left: a
	// repetition of it is not squashed with the element's own.
	n.sub = out
	return n
}

func (co *coalescer) canCoalesce(r1, r2 *node) bool {
	if !isRepeatOp(r1.op) {
		return false
	}
	x := r1.sub[0]
	if x.op != nLiteral && x.op != nClass && x.op != nAnyChar {
		return false
	}
	if isRepeatOp(r2.op) && co.equal(x, r2.sub[0]) && r1.nongreedy == r2.nongreedy {
		return true
	}
	if co.equal(x, r2) {
		return true
	}
	return x.op == nLiteral && r2.op == nLiteralString && r2.runes[0] == x.runes[0] && x.fold == r2.fold
}

func bounds(n *node) (int, int) {
	switch n.op {
	case nStar:
		return 0, -1
	case nPlus:
		return 1, -1
	case nQuest:
		return 0, 1
	}
	return n.min, n.max
}

func doCoalesce(r1, r2 *node) (*node, *node) {
	nre := &node{op: nRepeat, nongreedy: r1.nongreedy, flags: r1.flags, sub: []*node{r1.sub[0]}}
	nre.min, nre.max = bounds(r1)
	empty := &node{op: nEmptyMatch}
	switch r2.op {
	case nStar:
		nre.max = -1
	case nPlus:
		nre.min++
		nre.max = -1
	case nQuest:
		if nre.max != -1 {
			nre.max++
		}
	case nRepeat:
		nre.min += r2.min
		if r2.max == -1 {
			nre.max = -1
		} else if nre.max != -1 {
			nre.max += r2.max
		}
	case nLiteral, nClass, nAnyChar:
		nre.min++
		if nre.max != -1 {
			nre.max++
		}
	case nLiteralString:
		r := r1.sub[0].runes[0]
		k := 1
		for k < len(r2.runes) && r2.runes[k] == r {
			k++
		}
		nre.min += k
		if nre.max != -1 {
			nre.max += k
		}
		if k == len(r2.runes) {
			return empty, nre
		}
		rest := &node{op: nLiteralString, runes: r2.runes[k:], fold: r2.fold}
		if len(rest.runes) == 1 {
			rest.op = nLiteral
		}
		return nre, rest
	}
	return empty, nre
}
