package regexsize

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
)

var (
	// dotNLFlag finds a flag group that turns on s (. matches \n).
	dotNLFlag = regexp.MustCompile(`\(\?[a-zA-Z]*s`)
	// flagGroup finds a group that sets flags: (?i) (?s:…) (?-m).
	flagGroup = regexp.MustCompile(`\(\?[a-zA-Z]*-?[a-zA-Z]+[:)]`)
)

// This file replays RE2's compiler (re2/compile.cc, re2/prog.cc: Optimize
// and Flatten) instruction by instruction, so that the count is RE2's own
// where the tree it compiles is RE2's. Go's parse is rewritten into RE2's
// first (tree.go, factor.go): case folding as RE2's parser expands it, the
// squashing of nested repetitions, RE2's factoring of alternations (Go's
// parser merges and factors them otherwise), RE2's coalescing of adjacent
// repetitions (which can make a program larger as well as smaller), its
// required literal prefix and its anchors. Where Go's parse cannot tell
// what RE2 saw, both readings are counted and the larger kept, or a bound
// that does not depend on it is taken.

// RE2 instruction opcodes (re2/prog.h).
const (
	opFail uint8 = iota
	opAlt
	opAltMatch
	opByteRange
	opCapture
	opEmptyWidth
	opMatch
	opNop
)

type inst struct {
	op     uint8
	lo, hi uint8
	fold   bool
	out    uint32
	out1   uint32
}

// patchList is RE2's list of instruction outputs to fill in, threaded
// through the unfilled fields themselves: p>>1 is the instruction, p&1
// says out1 (1) or out (0); 0 ends the list.
type patchList struct{ head, tail uint32 }

type frag struct {
	begin    uint32
	end      patchList
	nullable bool
}

// re2MaxInst is RE2's instruction budget for the forward program with the
// default options: (max_mem*2/3 - sizeof(Prog)) / sizeof(Prog::Inst) for
// max_mem = 8 MiB, measured with libre2 2022-06-01 (698,996 compiles,
// 698,997 is "pattern too large - compile failed").
const re2MaxInst = 698996

type cacheKey struct {
	lo, hi uint8
	fold   bool
	next   uint32
}

type compiler struct {
	inst      []inst
	maxInst   int
	peak      int
	failed    bool
	visits    int
	uncertain bool // a step where the replay may not follow RE2 exactly
	cache     map[cacheKey]uint32
	rr        frag // the rune range being built (rune_range_)
}

func (c *compiler) alloc(n int) int {
	if c.failed || len(c.inst)+n > c.maxInst {
		c.failed = true
		return -1
	}
	id := len(c.inst)
	for i := 0; i < n; i++ {
		c.inst = append(c.inst, inst{})
	}
	if len(c.inst) > c.peak {
		c.peak = len(c.inst)
	}
	return id
}

func (c *compiler) setField(p uint32, v uint32) {
	ip := &c.inst[p>>1]
	if p&1 != 0 {
		ip.out1 = v
	} else {
		ip.out = v
	}
}

func (c *compiler) patch(l patchList, v uint32) {
	for p := l.head; p != 0; {
		ip := &c.inst[p>>1]
		if p&1 != 0 {
			p, ip.out1 = ip.out1, v
		} else {
			p, ip.out = ip.out, v
		}
	}
}

func (c *compiler) appendList(l1, l2 patchList) patchList {
	if l1.head == 0 {
		return l2
	}
	if l2.head == 0 {
		return l1
	}
	c.setField(l1.tail, l2.head)
	return patchList{l1.head, l2.tail}
}

func mk(p uint32) patchList { return patchList{p, p} }

var noMatch = frag{}

func isNoMatch(f frag) bool { return f.begin == 0 }

func (c *compiler) cat(a, b frag) frag {
	if isNoMatch(a) || isNoMatch(b) {
		return noMatch
	}
	if ip := &c.inst[a.begin]; ip.op == opNop && a.end.head == a.begin<<1 && ip.out == 0 {
		c.patch(a.end, b.begin)
		return b
	}
	c.patch(a.end, b.begin)
	return frag{a.begin, b.end, a.nullable && b.nullable}
}

func (c *compiler) alt(a, b frag) frag {
	if isNoMatch(a) {
		return b
	}
	if isNoMatch(b) {
		return a
	}
	id := c.alloc(1)
	if id < 0 {
		return noMatch
	}
	c.inst[id] = inst{op: opAlt, out: a.begin, out1: b.begin}
	return frag{uint32(id), c.appendList(a.end, b.end), a.nullable || b.nullable}
}

func (c *compiler) plus(a frag, nongreedy bool) frag {
	id := c.alloc(1)
	if id < 0 {
		return noMatch
	}
	u := uint32(id)
	var pl patchList
	if nongreedy {
		c.inst[id] = inst{op: opAlt, out1: a.begin}
		pl = mk(u << 1)
	} else {
		c.inst[id] = inst{op: opAlt, out: a.begin}
		pl = mk(u<<1 | 1)
	}
	c.patch(a.end, u)
	return frag{a.begin, pl, a.nullable}
}

func (c *compiler) star(a frag, nongreedy bool) frag {
	// RE2 compiles the star of a nullable fragment as (a+)? to keep
	// priorities right.
	if a.nullable {
		return c.quest(c.plus(a, nongreedy), nongreedy)
	}
	id := c.alloc(1)
	if id < 0 {
		return noMatch
	}
	u := uint32(id)
	c.inst[id] = inst{op: opAlt}
	c.patch(a.end, u)
	if nongreedy {
		c.inst[id].out1 = a.begin
		return frag{u, mk(u << 1), true}
	}
	c.inst[id].out = a.begin
	return frag{u, mk(u<<1 | 1), true}
}

func (c *compiler) quest(a frag, nongreedy bool) frag {
	if isNoMatch(a) {
		return c.nop()
	}
	id := c.alloc(1)
	if id < 0 {
		return noMatch
	}
	u := uint32(id)
	var pl patchList
	if nongreedy {
		c.inst[id] = inst{op: opAlt, out1: a.begin}
		pl = mk(u << 1)
	} else {
		c.inst[id] = inst{op: opAlt, out: a.begin}
		pl = mk(u<<1 | 1)
	}
	return frag{u, c.appendList(pl, a.end), true}
}

func (c *compiler) byteRange(lo, hi uint8, fold bool) frag {
	id := c.alloc(1)
	if id < 0 {
		return noMatch
	}
	c.inst[id] = inst{op: opByteRange, lo: lo, hi: hi, fold: fold}
	return frag{uint32(id), mk(uint32(id) << 1), false}
}

func (c *compiler) nop() frag {
	id := c.alloc(1)
	if id < 0 {
		return noMatch
	}
	c.inst[id] = inst{op: opNop}
	return frag{uint32(id), mk(uint32(id) << 1), true}
}

func (c *compiler) match() frag {
	id := c.alloc(1)
	if id < 0 {
		return noMatch
	}
	c.inst[id] = inst{op: opMatch}
	return frag{uint32(id), patchList{}, false}
}

func (c *compiler) emptyWidth() frag {
	id := c.alloc(1)
	if id < 0 {
		return noMatch
	}
	c.inst[id] = inst{op: opEmptyWidth}
	return frag{uint32(id), mk(uint32(id) << 1), true}
}

func (c *compiler) capture(a frag) frag {
	if isNoMatch(a) {
		return noMatch
	}
	id := c.alloc(2)
	if id < 0 {
		return noMatch
	}
	u := uint32(id)
	c.inst[id] = inst{op: opCapture, out: a.begin}
	c.inst[id+1] = inst{op: opCapture}
	c.patch(a.end, u+1)
	return frag{u, mk((u + 1) << 1), a.nullable}
}

// The rune range compiler: a class as a trie of UTF-8 byte ranges with
// cached common suffixes (Compiler::BeginRange … EndRange).

func (c *compiler) beginRange() {
	clear(c.cache)
	c.rr = frag{}
}

func (c *compiler) uncachedSuffix(lo, hi uint8, fold bool, next uint32) uint32 {
	f := c.byteRange(lo, hi, fold)
	if c.failed {
		return 0
	}
	if next != 0 {
		c.patch(f.end, next)
	} else {
		c.rr.end = c.appendList(c.rr.end, f.end)
	}
	return f.begin
}

func (c *compiler) cachedSuffix(lo, hi uint8, fold bool, next uint32) uint32 {
	k := cacheKey{lo, hi, fold, next}
	if id, ok := c.cache[k]; ok {
		return id
	}
	id := c.uncachedSuffix(lo, hi, fold, next)
	c.cache[k] = id
	return id
}

func (c *compiler) isCachedSuffix(id uint32) bool {
	ip := &c.inst[id]
	_, ok := c.cache[cacheKey{ip.lo, ip.hi, ip.fold, ip.out}]
	return ok
}

func (c *compiler) addSuffix(id uint32) {
	if c.failed {
		return
	}
	if c.rr.begin == 0 {
		c.rr.begin = id
		return
	}
	c.rr.begin = c.addSuffixRecursive(c.rr.begin, id)
}

func (c *compiler) byteRangeEqual(a, b uint32) bool {
	x, y := &c.inst[a], &c.inst[b]
	if x.op != opByteRange || y.op != opByteRange {
		c.uncertain = true
		return false
	}
	return x.lo == y.lo && x.hi == y.hi && x.fold == y.fold
}

// findByteRange is Compiler::FindByteRange in forward mode: the trie node
// for the suffix id, as (the Alt or node, patch position, found).
func (c *compiler) findByteRange(root, id uint32) (uint32, uint32, bool) {
	switch c.inst[root].op {
	case opByteRange:
		if c.byteRangeEqual(root, id) {
			return root, 0, true
		}
		return 0, 0, false
	case opAlt:
		if out1 := c.inst[root].out1; c.byteRangeEqual(out1, id) {
			return root, root<<1 | 1, true
		}
		return 0, 0, false
	}
	c.uncertain = true
	return 0, 0, false
}

func (c *compiler) addSuffixRecursive(root, id uint32) uint32 {
	fb, fp, found := c.findByteRange(root, id)
	if !found {
		alt := c.alloc(1)
		if alt < 0 {
			return 0
		}
		c.inst[alt] = inst{op: opAlt, out: root, out1: id}
		return uint32(alt)
	}
	var br uint32
	switch {
	case fp == 0:
		br = root
	case fp&1 != 0:
		br = c.inst[fb].out1
	default:
		br = c.inst[fb].out
	}
	if c.isCachedSuffix(br) {
		// A cached suffix is shared: clone the head before changing it.
		clone := c.alloc(1)
		if clone < 0 {
			return 0
		}
		b := c.inst[br]
		c.inst[clone] = inst{op: opByteRange, lo: b.lo, hi: b.hi, fold: b.fold, out: b.out}
		br = uint32(clone)
		switch {
		case fp == 0:
			root = br
		case fp&1 != 0:
			c.inst[fb].out1 = br
		default:
			c.inst[fb].out = br
		}
	}
	out := c.inst[id].out
	if !c.isCachedSuffix(id) {
		// RE2 frees the head, the instruction it allocated last.
		if int(id) != len(c.inst)-1 {
			c.uncertain = true
		}
		c.inst[id] = inst{}
		c.inst = c.inst[:len(c.inst)-1]
	}
	out = c.addSuffixRecursive(c.inst[br].out, out)
	if out == 0 {
		return 0
	}
	c.inst[br].out = out
	return root
}

func maxRune(n int) rune {
	if n == 1 {
		return 0x7F
	}
	return 1<<(8-(n+1)+6*(n-1)) - 1
}

// encode is RE2's runetochar: UTF-8, surrogates encoded like any other
// code point.
func encode(r rune) []byte {
	switch {
	case r < 0x80:
		return []byte{byte(r)}
	case r < 0x800:
		return []byte{0xC0 | byte(r>>6), 0x80 | byte(r)&0x3F}
	case r < 0x10000:
		return []byte{0xE0 | byte(r>>12), 0x80 | byte(r>>6)&0x3F, 0x80 | byte(r)&0x3F}
	default:
		return []byte{0xF0 | byte(r>>18), 0x80 | byte(r>>12)&0x3F, 0x80 | byte(r>>6)&0x3F, 0x80 | byte(r)&0x3F}
	}
}

func (c *compiler) add80to10FFFF() {
	// RE2 2022: overlong E0/F0 sequences and code points past 10FFFF are
	// allowed here, for a smaller program.
	cont1 := c.uncachedSuffix(0x80, 0xBF, false, 0)
	c.addSuffix(c.uncachedSuffix(0xC2, 0xDF, false, cont1))
	cont2 := c.uncachedSuffix(0x80, 0xBF, false, cont1)
	c.addSuffix(c.uncachedSuffix(0xE0, 0xEF, false, cont2))
	cont3 := c.uncachedSuffix(0x80, 0xBF, false, cont2)
	c.addSuffix(c.uncachedSuffix(0xF0, 0xF4, false, cont3))
}

func (c *compiler) addRuneRange(lo, hi rune, fold bool) {
	if lo > hi || c.failed {
		return
	}
	if lo == 0x80 && hi == 0x10FFFF {
		c.add80to10FFFF()
		return
	}
	for i := 1; i < 4; i++ {
		if m := maxRune(i); lo <= m && m < hi {
			c.addRuneRange(lo, m, fold)
			c.addRuneRange(m+1, hi, fold)
			return
		}
	}
	if hi < 0x80 {
		c.addSuffix(c.uncachedSuffix(byte(lo), byte(hi), fold, 0))
		return
	}
	for i := 1; i < 4; i++ {
		m := rune(1)<<(6*i) - 1
		if lo&^m != hi&^m {
			if lo&m != 0 {
				c.addRuneRange(lo, lo|m, fold)
				c.addRuneRange((lo|m)+1, hi, fold)
				return
			}
			if hi&m != m {
				c.addRuneRange(lo, (hi&^m)-1, fold)
				c.addRuneRange(hi&^m, hi, fold)
				return
			}
		}
	}
	ulo, uhi := encode(lo), encode(hi)
	n := len(ulo)
	if len(uhi) != n {
		c.uncertain = true
	}
	var id uint32
	for i := n - 1; i >= 0; i-- {
		// Forward mode: cache the last byte, and a middle byte range.
		if i == n-1 || (ulo[i] < uhi[i] && i != 0) {
			id = c.cachedSuffix(ulo[i], uhi[i], false, id)
		} else {
			id = c.uncachedSuffix(ulo[i], uhi[i], false, id)
		}
	}
	c.addSuffix(id)
}

// class compiles a character class (ranges as Go's parser gives them:
// sorted, disjoint, not adjacent), as kRegexpCharClass.
func (c *compiler) class(ranges []rune) frag {
	if len(ranges) == 0 {
		return noMatch // RE2's simplifier: an empty class matches nothing
	}
	foldASCII := foldsASCII(ranges)
	c.beginRange()
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if foldASCII && 'A' <= lo && hi <= 'Z' {
			continue
		}
		fold := foldASCII
		if (lo <= 'A' && 'z' <= hi) || hi < 'A' || 'z' < lo || ('Z' < lo && hi < 'a') {
			fold = false
		}
		c.addRuneRange(lo, hi, fold)
	}
	return c.rr
}

// foldsASCII: the class holds an ASCII upper-case letter exactly when it
// holds the lower-case one (CharClassBuilder::FoldsASCII).
func foldsASCII(ranges []rune) bool {
	var upper, lower uint32
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		for r := max(lo, 'A'); r <= min(hi, 'Z'); r++ {
			upper |= 1 << (r - 'A')
		}
		for r := max(lo, 'a'); r <= min(hi, 'z'); r++ {
			lower |= 1 << (r - 'a')
		}
	}
	return upper == lower
}

func (c *compiler) literal(r rune, fold bool) frag {
	if r < 0x80 {
		return c.byteRange(byte(r), byte(r), fold)
	}
	b := encode(r)
	f := c.byteRange(b[0], b[0], false)
	for _, x := range b[1:] {
		f = c.cat(f, c.byteRange(x, x, false))
	}
	return f
}

// simplify is RE2's SimplifyWalker: counted repetitions become copies (the
// copies share one node, compiled once per occurrence), empty and full
// classes become no match and any character.
func simplify(n *node) *node {
	changed := false
	subs := make([]*node, len(n.sub))
	for i, s := range n.sub {
		subs[i] = simplify(s)
		changed = changed || subs[i] != s
	}
	switch n.op {
	case nClass:
		if len(n.ranges) == 0 {
			return &node{op: nNoMatch}
		}
		if len(n.ranges) == 2 && n.ranges[0] == 0 && n.ranges[1] == unicode.MaxRune {
			return &node{op: nAnyChar}
		}
		return n
	case nStar, nPlus, nQuest:
		sub := subs[0]
		if sub.op == nEmptyMatch {
			return sub
		}
		if !changed {
			return n
		}
		if sub.op == n.op && sub.flags == n.flags {
			return sub
		}
		return &node{op: n.op, nongreedy: n.nongreedy, flags: n.flags, sub: []*node{sub}}
	case nRepeat:
		if subs[0].op == nEmptyMatch {
			return subs[0]
		}
		return simplifyRepeat(subs[0], n.min, n.max, n)
	}
	if !changed {
		return n
	}
	c := *n
	c.sub = subs
	return &c
}

// starPlusOrQuest is Regexp::StarPlusOrQuest, which squashes a repetition
// of a repetition with the same flags.
func starPlusOrQuest(op nodeOp, sub *node, rep *node) *node {
	if sub.flags == rep.flags && (sub.op == nStar || sub.op == nPlus || sub.op == nQuest) {
		if sub.op == op || sub.op == nStar {
			return sub
		}
		return &node{op: nStar, nongreedy: rep.nongreedy, flags: rep.flags, sub: sub.sub}
	}
	return &node{op: op, nongreedy: rep.nongreedy, flags: rep.flags, sub: []*node{sub}}
}

// simplifyRepeat is SimplifyWalker::SimplifyRepeat: x{n,} is n-1 copies of
// x then x+; x{n,m} is n copies of x then (x(x(x)?)?)? for the m-n others.
func simplifyRepeat(x *node, lo, hi int, rep *node) *node {
	mk := func(op nodeOp, subs ...*node) *node {
		if op != nConcat {
			return starPlusOrQuest(op, subs[0], rep)
		}
		return &node{op: op, nongreedy: rep.nongreedy, flags: rep.flags, sub: subs}
	}
	copies := func(k int) []*node {
		out := make([]*node, k)
		for i := range out {
			out[i] = x
		}
		return out
	}
	if hi == -1 {
		switch lo {
		case 0:
			return mk(nStar, x)
		case 1:
			return mk(nPlus, x)
		}
		return mk(nConcat, append(copies(lo-1), mk(nPlus, x))...)
	}
	if lo == 0 && hi == 0 {
		return &node{op: nEmptyMatch}
	}
	if lo == 1 && hi == 1 {
		return x
	}
	var nre *node
	if lo > 0 {
		if lo == 1 {
			nre = x
		} else {
			nre = mk(nConcat, copies(lo)...)
		}
	}
	if hi > lo {
		suf := mk(nQuest, x)
		for i := lo + 1; i < hi; i++ {
			suf = mk(nQuest, mk(nConcat, x, suf))
		}
		if nre == nil {
			nre = suf
		} else {
			nre = mk(nConcat, nre, suf)
		}
	}
	return nre
}

// walk compiles RE2's simplified tree as RE2's compiler does: children
// first, left to right, every occurrence of a shared node anew.
func (c *compiler) walk(n *node) frag {
	c.visits++
	if c.failed {
		return noMatch
	}
	switch n.op {
	case nNoMatch:
		return noMatch
	case nEmptyMatch:
		return c.nop()
	case nLiteral, nLiteralString:
		var f frag
		for i, r := range n.runes {
			g := c.literal(r, n.fold)
			if i == 0 {
				f = g
			} else {
				f = c.cat(f, g)
			}
		}
		if len(n.runes) == 0 {
			return c.nop()
		}
		return f
	case nClass:
		return c.class(n.ranges)
	case nAnyChar:
		return c.class([]rune{0, unicode.MaxRune})
	case nEmptyWidth:
		return c.emptyWidth()
	case nCapture:
		return c.capture(c.walk(n.sub[0]))
	case nStar:
		return c.star(c.walk(n.sub[0]), n.nongreedy)
	case nPlus:
		return c.plus(c.walk(n.sub[0]), n.nongreedy)
	case nQuest:
		return c.quest(c.walk(n.sub[0]), n.nongreedy)
	case nConcat:
		if len(n.sub) == 0 {
			return c.nop()
		}
		f := c.walk(n.sub[0])
		for _, s := range n.sub[1:] {
			f = c.cat(f, c.walk(s))
		}
		return f
	case nAlternate:
		frags := make([]frag, len(n.sub))
		for i, s := range n.sub {
			frags[i] = c.walk(s)
		}
		f := frags[0]
		for _, g := range frags[1:] {
			f = c.alt(f, g)
		}
		return f
	}
	c.uncertain = true
	return noMatch
}

// re2Program is the outcome of replaying RE2's compiler.
type re2Program struct {
	size      int  // flattened instructions: RE2::ProgramSize()
	peak      int  // instructions before flattening, at most
	visits    int  // nodes the compiler's walk visits, at least RE2's
	failed    bool // over RE2's instruction budget
	uncertain bool
}

// compileRE2 replays RE2 on re; where Go's parse cannot tell a class of
// every character from (?s:.) and that changes coalescing, it replays both
// readings and keeps the larger program.
func compileRE2(re *syntax.Regexp, src string, maxInst int) re2Program {
	co := &coalescer{anyCharEqual: true}
	flags := flagGroup.MatchString(src)
	p := compileTree(co, re, flags, maxInst)
	// Only a class written where (?s) is on reads as (?s:.) in Go's parse.
	if co.sawAnyChar && strings.Contains(src, "[") && dotNLFlag.MatchString(src) {
		q := compileTree(&coalescer{}, re, flags, maxInst)
		p = re2Program{size: max(p.size, q.size), peak: max(p.peak, q.peak), visits: max(p.visits, q.visits),
			failed: p.failed || q.failed, uncertain: p.uncertain || q.uncertain}
	}
	return p
}

// compileTree is RE2::Init and Compiler::Compile: the required prefix
// taken off, simplified, anchors at either end taken off (the program
// anchored instead), compiled, the unanchored .*? loop added unless
// anchored at the start, then optimized and flattened.
func compileTree(co *coalescer, re *syntax.Regexp, flagGroups bool, maxInst int) re2Program {
	cv := &converter{}
	tree := cv.fromGo(re)
	if suffix := requiredPrefix(tree, flagGroups); suffix != nil {
		tree = suffix
	}
	sre := simplify(co.coalesce(tree))
	anchorStart := isAnchor(&sre, 0, true)
	isAnchor(&sre, 0, false)
	c := &compiler{maxInst: maxInst, cache: map[cacheKey]uint32{}}
	c.inst = append(c.inst, inst{op: opFail})
	all := c.walk(sre)
	all = c.cat(all, c.match())
	start := all.begin
	if !anchorStart {
		all = c.cat(c.star(c.byteRange(0x00, 0xFF, false), true), all)
	}
	startUnanchored := all.begin
	p := re2Program{peak: c.peak, visits: c.visits, failed: c.failed, uncertain: c.uncertain || cv.unmarked}
	if c.failed {
		return p
	}
	if start == 0 && startUnanchored == 0 {
		p.size = 1 // no possible match: the Fail instruction only
		return p
	}
	pr := &prog{inst: c.inst, start: start, startUnanchored: startUnanchored}
	pr.optimize()
	p.size = pr.flatten()
	return p
}
