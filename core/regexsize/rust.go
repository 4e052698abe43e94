package regexsize

import (
	"regexp/syntax"
	"unicode"
)

// Rust's regex crate (1.x before regex-automata, Linkerd's 1.7 and the
// like) compiles a regex into three programs (a Unicode one for its NFA
// engines, a byte one and a reversed byte one for its lazy DFA), and
// refuses the regex when one of them exceeds the size limit, counted as
// instructions times their size plus the bytes of class ranges. The bound
// here counts every program as large as the largest can be:
//   - a class is one instruction and its ranges (Unicode program), or one
//     byte instruction per byte of each UTF-8 sequence plus one split per
//     sequence (byte programs, with no credit for shared suffixes);
//   - a literal rune is one instruction per UTF-8 byte; x* x+ x? one split
//     more than x; x{n,m} is n copies of x and m-n of x? (Rust's own
//     expansion); an alternation of k one split per branch but the last;
//   - rustInstBytes per instruction (the crate counts size_of::<Inst>(),
//     32 bytes on a 64-bit machine: its largest variant is a pointer and a
//     boxed slice), and rustRangeBytes per class range (a pair of chars).
const (
	rustInstBytes  = 32
	rustRangeBytes = 8
	// rustOverhead: the capture of the whole match, the match instruction
	// and the unanchored .*? the byte programs start with.
	rustOverhead = 64
)

// rustCost is a regex's share of the largest program: instructions of the
// byte programs, instructions of the Unicode program and class range bytes.
type rustCost struct{ bytes, unicode, ranges int64 }

func (a rustCost) add(b rustCost) rustCost {
	return rustCost{a.bytes + b.bytes, a.unicode + b.unicode, a.ranges + b.ranges}
}

func (a rustCost) times(k int64) rustCost {
	return rustCost{a.bytes * k, a.unicode * k, a.ranges * k}
}

// RustProgramSize returns an upper bound of the size Rust's regex crate
// checks against its size limit (RustSizeLimit by default) for re. A
// regex Go's parser refuses is a *syntax.Error.
func RustProgramSize(re string) (int64, error) {
	t, err := parse(re)
	if err != nil {
		return 0, err
	}
	c := rustCostOf(t)
	size := max(c.bytes*rustInstBytes, c.unicode*rustInstBytes+c.ranges*rustRangeBytes)
	return size + rustOverhead*rustInstBytes, nil
}

// CheckRust returns nil when Rust's regex crate compiles re within its
// default size limit; otherwise a *TooLargeError naming the size and the
// limit, or the parse error.
func CheckRust(re string) error {
	size, err := RustProgramSize(re)
	if err != nil {
		return err
	}
	if size > RustSizeLimit {
		return &TooLargeError{Regex: re, Engine: "Rust regex", What: "its compiled size in bytes", Size: int(min(size, 1<<62)), Limit: RustSizeLimit}
	}
	return nil
}

func rustCostOf(re *syntax.Regexp) rustCost {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return rustCost{}
	case syntax.OpNoMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return rustCost{1, 1, 0}
	case syntax.OpLiteral:
		var c rustCost
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 {
				orbit := []rune{r}
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					orbit = append(orbit, f)
				}
				c = c.add(rustClass(runeSet(orbit)))
				continue
			}
			c = c.add(rustClass([]rune{r, r}))
		}
		return c
	case syntax.OpCharClass:
		return rustClass(re.Rune)
	case syntax.OpAnyCharNotNL:
		return rustClass([]rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune})
	case syntax.OpAnyChar:
		return rustClass([]rune{0, unicode.MaxRune})
	case syntax.OpCapture:
		return rustCostOf(re.Sub[0]).add(rustCost{2, 2, 0})
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return rustCostOf(re.Sub[0]).add(rustCost{1, 1, 0})
	case syntax.OpRepeat:
		x := rustCostOf(re.Sub[0])
		lo := int64(re.Min)
		if re.Max == -1 {
			return x.times(lo + 1).add(rustCost{1, 1, 0})
		}
		opt := int64(re.Max) - lo
		return x.times(lo).add(x.add(rustCost{1, 1, 0}).times(opt))
	case syntax.OpConcat, syntax.OpAlternate:
		var c rustCost
		for _, s := range re.Sub {
			c = c.add(rustCostOf(s))
		}
		if re.Op == syntax.OpAlternate {
			k := int64(len(re.Sub) - 1)
			c = c.add(rustCost{k, k, 0})
		}
		return c
	}
	// Nothing else parses; count it as a large class.
	return rustClass([]rune{0, unicode.MaxRune}).times(4)
}

func rustClass(ranges []rune) rustCost {
	var c rustCost
	nranges := int64(0)
	for i := 0; i+1 < len(ranges); i += 2 {
		nranges++
		for _, n := range rustUTF8Sequences(ranges[i], ranges[i+1]) {
			c.bytes += int64(n) + 1 // its bytes and a split
		}
	}
	c.unicode = 1
	c.ranges = nranges + 1 // a range across the surrogates is two in Rust
	return c
}

// rustUTF8Sequences returns the byte lengths of the UTF-8 sequences Rust's
// Utf8Sequences splits lo-hi into (surrogates left out).
func rustUTF8Sequences(lo, hi rune) []int {
	var out []int
	type rng struct{ lo, hi rune }
	stack := []rng{{lo, hi}}
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
	inner:
		for {
			if r.lo < 0xE000 && r.hi > 0xD7FF && !(r.lo > 0xDFFF || r.hi < 0xD800) {
				// Split around the surrogates.
				if r.hi >= 0xE000 {
					stack = append(stack, rng{0xE000, r.hi})
				}
				r.hi = 0xD7FF
				if r.lo > r.hi {
					break
				}
				continue
			}
			if r.lo > r.hi {
				break
			}
			for i := 1; i < 4; i++ {
				if m := maxRune(i); r.lo <= m && m < r.hi {
					stack = append(stack, rng{m + 1, r.hi})
					r.hi = m
					continue inner
				}
			}
			if r.hi < 0x80 {
				out = append(out, 1)
				break
			}
			for i := 1; i < 4; i++ {
				m := rune(1)<<(6*i) - 1
				if r.lo&^m != r.hi&^m {
					if r.lo&m != 0 {
						stack = append(stack, rng{(r.lo | m) + 1, r.hi})
						r.hi = r.lo | m
						continue inner
					}
					if r.hi&m != m {
						stack = append(stack, rng{r.hi &^ m, r.hi})
						r.hi = r.hi&^m - 1
						continue inner
					}
				}
			}
			out = append(out, len(encode(r.lo)))
			break
		}
	}
	return out
}
