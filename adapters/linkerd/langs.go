package linkerd

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Relations between the languages of full-match regexes, decided exactly:
// both are compiled (Go's regexp/syntax, which reads the model's
// dialect-neutral regexes as RE2 and Rust's regex crate do) and run
// together over every class of characters their instructions distinguish
// (a product of their subset automata). Past maxLangStates product states,
// or with an assertion other than ^ and $ of the text, the relation is not
// decided (ok false) and callers assume the worst.

// maxLangStates bounds the product automaton.
const maxLangStates = 4096

// langRel relates the languages of two regexes a and b.
type langRel struct {
	Overlap bool // some string matches both
	AInB    bool // every string a matches, b matches
	BInA    bool // every string b matches, a matches
}

// rangeOf is a range of characters, both ends included.
type rangeOf struct{ lo, hi rune }

// relate decides langRel for full-match regexes a and b, on the strings
// without a character of excluded (those no request carries).
func relate(a, b string, excluded []rangeOf) (langRel, bool) {
	key := fmt.Sprintf("%q|%q|%v", a, b, excluded)
	relations.Lock()
	r, cached := relations.m[key]
	relations.Unlock()
	if !cached {
		r.rel, r.ok = decide(a, b, excluded)
		relations.Lock()
		if len(relations.m) >= maxRelations {
			relations.m = map[string]decided{}
		}
		relations.m[key] = r
		relations.Unlock()
	}
	return r.rel, r.ok
}

// relations remembers what relate decided (the routes of a Server are
// related pairwise, again at every reconcile): at most maxRelations.
var relations = struct {
	sync.Mutex
	m map[string]decided
}{m: map[string]decided{}}

const maxRelations = 10000

type decided struct {
	rel langRel
	ok  bool
}

// decide is relate, uncached.
func decide(a, b string, excluded []rangeOf) (langRel, bool) {
	pa, ok := compileLang(a)
	if !ok {
		return langRel{}, false
	}
	pb, ok := compileLang(b)
	if !ok {
		return langRel{}, false
	}
	alphabet := representatives(excluded, pa, pb)
	type state struct {
		a, b  []uint32
		start bool
	}
	key := func(s state) string { return pcsKey(s.a) + "|" + pcsKey(s.b) + "|" + strconv.FormatBool(s.start) }
	first := state{closure(pa, []uint32{uint32(pa.Start)}, syntax.EmptyBeginText|syntax.EmptyBeginLine), closure(pb, []uint32{uint32(pb.Start)}, syntax.EmptyBeginText|syntax.EmptyBeginLine), true}
	seen := map[string]bool{key(first): true}
	queue := []state{first}
	rel := langRel{AInB: true, BInA: true}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		accA, accB := accepts(pa, s.a, s.start), accepts(pb, s.b, s.start)
		rel.Overlap = rel.Overlap || (accA && accB)
		rel.AInB = rel.AInB && !(accA && !accB)
		rel.BInA = rel.BInA && !(accB && !accA)
		if rel.Overlap && !rel.AInB && !rel.BInA {
			return rel, true // nothing left to learn
		}
		if len(s.a) == 0 && len(s.b) == 0 {
			continue
		}
		for _, r := range alphabet {
			next := state{a: step(pa, s.a, r), b: step(pb, s.b, r)}
			k := key(next)
			if seen[k] {
				continue
			}
			if len(seen) >= maxLangStates {
				return langRel{}, false
			}
			seen[k] = true
			queue = append(queue, next)
		}
	}
	return rel, true
}

// compileLang compiles a regex whose only assertions are ^ and $ of the
// text (what the neutral form allows outside repetitions).
func compileLang(re string) (*syntax.Prog, bool) {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil, false
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, false
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg)&^(syntax.EmptyBeginText|syntax.EmptyEndText) != 0 {
			return nil, false
		}
	}
	return prog, true
}

// closure: the instructions reachable from pcs without consuming input
// when the assertions in flag hold. It keeps the instructions that consume
// a character, the matches, and the assertions that do not hold here (an
// end-of-text assertion may still hold if the input ends here).
func closure(p *syntax.Prog, pcs []uint32, flag syntax.EmptyOp) []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	var visit func(pc uint32)
	visit = func(pc uint32) {
		if seen[pc] {
			return
		}
		seen[pc] = true
		in := &p.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			visit(in.Out)
			visit(in.Arg)
		case syntax.InstCapture, syntax.InstNop:
			visit(in.Out)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^flag == 0 {
				visit(in.Out)
			} else {
				out = append(out, pc)
			}
		case syntax.InstFail:
		default: // runes, match
			out = append(out, pc)
		}
	}
	for _, pc := range pcs {
		visit(pc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// accepts says whether the input may end in state pcs.
func accepts(p *syntax.Prog, pcs []uint32, start bool) bool {
	flag := syntax.EmptyEndText | syntax.EmptyEndLine
	if start {
		flag |= syntax.EmptyBeginText | syntax.EmptyBeginLine
	}
	for _, pc := range closure(p, pcs, flag) {
		if p.Inst[pc].Op == syntax.InstMatch {
			return true
		}
	}
	return false
}

// step consumes r (never at the start of the input any more).
func step(p *syntax.Prog, pcs []uint32, r rune) []uint32 {
	var next []uint32
	for _, pc := range pcs {
		in := &p.Inst[pc]
		ok := false
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1:
			ok = in.MatchRune(r)
		case syntax.InstRuneAny:
			ok = true
		case syntax.InstRuneAnyNotNL:
			ok = r != '\n'
		}
		if ok {
			next = append(next, in.Out)
		}
	}
	return closure(p, next, 0)
}

// representatives: one character of every class that no instruction of
// the programs tells apart, but none of excluded (nor surrogates, which no
// UTF-8 text holds).
func representatives(excluded []rangeOf, progs ...*syntax.Prog) []rune {
	bounds := map[rune]bool{0: true}
	add := func(lo, hi rune) {
		bounds[lo] = true
		if hi < unicode.MaxRune {
			bounds[hi+1] = true
		}
	}
	excluded = append(slices.Clone(excluded), rangeOf{0xD800, 0xDFFF})
	for _, x := range excluded {
		add(x.lo, x.hi)
	}
	for _, p := range progs {
		for _, in := range p.Inst {
			switch in.Op {
			case syntax.InstRune, syntax.InstRune1:
				if len(in.Rune) == 1 {
					// A single rune may fold case: every rune of its orbit.
					r := in.Rune[0]
					for f := r; ; {
						add(f, f)
						if f = unicode.SimpleFold(f); f == r {
							break
						}
					}
					continue
				}
				for i := 0; i+1 < len(in.Rune); i += 2 {
					add(in.Rune[i], in.Rune[i+1])
				}
			case syntax.InstRuneAnyNotNL:
				add('\n', '\n')
			}
		}
	}
	out := make([]rune, 0, len(bounds))
	for r := range bounds {
		if !slices.ContainsFunc(excluded, func(x rangeOf) bool { return x.lo <= r && r <= x.hi }) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func pcsKey(pcs []uint32) string {
	var b strings.Builder
	for _, pc := range pcs {
		b.WriteString(strconv.FormatUint(uint64(pc), 36))
		b.WriteByte(',')
	}
	return b.String()
}
