// Package neutralregex writes an SMI regular expression in a form that every
// engine a mesh runs reads the same way: RE2 (Envoy, under Istio and Consul),
// Go's regexp, and Rust's regex crate (Linkerd's proxy and policy
// controller, 1.x). SMI regexes are RE2; the meshes are not all RE2, and the
// same text can mean different things to them: `[x[^y]]` is a nested class
// in Rust, `\>` an assertion, `[a-z&&b]` an intersection, `\d` and `\w`
// Unicode classes, while RE2 reads all of them otherwise (or refuses what
// Rust accepts, and the other way round).
//
// Print parses the SMI text with Go's regexp/syntax (RE2's syntax, Perl
// flags) and prints the parsed tree with only constructs whose meaning the
// engines share: literals outside a small set of plain characters as
// \x{…}, every class as explicit ranges (so \d, \w, \s, POSIX and Unicode
// classes and case folding mean exactly what RE2 says), (?:…) groups, plain
// and lazy quantifiers, ^ and $ (of the text), . and (?s:.). What has no
// such form is an *UnsupportedError and the caller fails closed: word
// boundaries (ASCII in RE2, Unicode in Rust), line anchors and anchors
// inside repetitions (where Rust's regex 1.7 and RE2 disagree), surrogate
// code points as literals (each engine reads them otherwise; in a class they
// are trimmed, as no UTF-8 text holds them), and classes too large to write
// out.
package neutralregex

import (
	"fmt"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen bounds the printed form. A Unicode class such as \pL prints as
// hundreds of ranges; past this size a mesh's limits (CRD field lengths,
// Envoy's RE2 program size) come first, so it is refused instead.
const MaxLen = 1000

// UnsupportedError says which construct of an SMI regex has no form every
// engine reads the same way.
type UnsupportedError struct {
	Regex     string // the SMI regex, as written
	Construct string // what cannot be written
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%q: %s", e.Regex, e.Construct)
}

// Print returns the dialect-neutral form of re, an RE2 regex. The result
// matches exactly the strings re matches, in RE2, Go and Rust's regex crate,
// with search and full-match semantics alike (anchoring is kept as written).
// A regex RE2 refuses is a *syntax.Error; one with no neutral form an
// *UnsupportedError.
func Print(re string) (string, error) {
	t, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := write(&b, t, false); err != nil {
		return "", &UnsupportedError{Regex: re, Construct: err.Error()}
	}
	if b.Len() > MaxLen {
		return "", &UnsupportedError{Regex: re, Construct: fmt.Sprintf("written out so that every engine reads it the same, it is %d characters long (at most %d): its classes are too large", b.Len(), MaxLen)}
	}
	return b.String(), nil
}

// write prints t; rep says t is inside a repetition.
func write(b *strings.Builder, t *syntax.Regexp, rep bool) error {
	switch t.Op {
	case syntax.OpNoMatch:
		// An empty class is refused by some engines; a character before the
		// start of the text never matches in any.
		b.WriteString(`(?:a^)`)
	case syntax.OpEmptyMatch:
		b.WriteString(`(?:)`)
	case syntax.OpLiteral:
		for _, r := range t.Rune {
			if t.Flags&syntax.FoldCase != 0 {
				if orbit := fold(r); len(orbit) > 1 {
					writeClass(b, orbit)
					continue
				}
			}
			if r >= surrogateMin && r <= surrogateMax {
				// The engines disagree (measured): RE2 matches the
				// three bytes of its CESU-8 form, Go's regexp matches
				// U+FFFD, Rust refuses the regex. No form reads the same.
				return fmt.Errorf("the surrogate code point %U as a literal: RE2 matches its 3-byte encoding (not UTF-8), Go U+FFFD, and Rust's regex refuses it", r)
			}
			writeLiteral(b, r)
		}
	case syntax.OpCharClass:
		writeClass(b, t.Rune)
	case syntax.OpAnyCharNotNL:
		b.WriteString(`.`)
	case syntax.OpAnyChar:
		b.WriteString(`(?s:.)`)
	case syntax.OpBeginLine, syntax.OpEndLine:
		// Rust's regex 1.7 does not match (?m:^) after a newline that ends
		// the text; RE2 does. Paths and header values hold no newlines.
		return fmt.Errorf("a line anchor ((?m)^ or (?m)$) is read differently by RE2 and Rust's regex")
	case syntax.OpBeginText, syntax.OpEndText:
		if rep {
			// Rust's regex 1.7 misses matches of repeated empty assertions
			// that RE2 finds ((?m:$)(?:^|x){1,3} on "\n").
			return fmt.Errorf("an anchor inside a repetition is read differently by RE2 and Rust's regex")
		}
		writeAnchor(b, t.Op)
	case syntax.OpWordBoundary:
		return fmt.Errorf(`\b (word boundary) is ASCII in RE2 and Unicode in Rust's regex`)
	case syntax.OpNoWordBoundary:
		return fmt.Errorf(`\B (not a word boundary) is ASCII in RE2 and Unicode in Rust's regex`)
	case syntax.OpCapture:
		return group(b, t.Sub[0], rep)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		if err := group(b, t.Sub[0], true); err != nil {
			return err
		}
		switch t.Op {
		case syntax.OpStar:
			b.WriteString(`*`)
		case syntax.OpPlus:
			b.WriteString(`+`)
		case syntax.OpQuest:
			b.WriteString(`?`)
		default:
			b.WriteString(`{` + strconv.Itoa(t.Min))
			if t.Max != t.Min {
				b.WriteString(`,`)
				if t.Max >= 0 {
					b.WriteString(strconv.Itoa(t.Max))
				}
			}
			b.WriteString(`}`)
		}
		if t.Flags&syntax.NonGreedy != 0 {
			b.WriteString(`?`)
		}
	case syntax.OpConcat:
		for _, s := range t.Sub {
			if s.Op == syntax.OpAlternate {
				if err := group(b, s, rep); err != nil {
					return err
				}
				continue
			}
			if err := write(b, s, rep); err != nil {
				return err
			}
		}
	case syntax.OpAlternate:
		for i, s := range t.Sub {
			if i > 0 {
				b.WriteString(`|`)
			}
			if err := write(b, s, rep); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown construct %v", t.Op)
	}
	return nil
}

func writeAnchor(b *strings.Builder, op syntax.Op) {
	switch op {
	case syntax.OpBeginText:
		b.WriteString(`^`)
	case syntax.OpEndText:
		b.WriteString(`$`)
	}
}

// group writes t as one atom: (?:…) unless it is one already.
func group(b *strings.Builder, t *syntax.Regexp, rep bool) error {
	atom := t.Op == syntax.OpCharClass || t.Op == syntax.OpAnyCharNotNL ||
		(t.Op == syntax.OpLiteral && len(t.Rune) == 1)
	if atom {
		return write(b, t, rep)
	}
	b.WriteString(`(?:`)
	if err := write(b, t, rep); err != nil {
		return err
	}
	b.WriteString(`)`)
	return nil
}

// fold is the case-folding orbit of r (r included), sorted, as pairs of
// ranges.
func fold(r rune) []rune {
	set := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		set = append(set, f)
	}
	if len(set) == 1 {
		return nil
	}
	for i := 1; i < len(set); i++ {
		for j := i; j > 0 && set[j] < set[j-1]; j-- {
			set[j], set[j-1] = set[j-1], set[j]
		}
	}
	out := make([]rune, 0, 2*len(set))
	for _, x := range set {
		out = append(out, x, x)
	}
	return out
}

// plain outside a class: characters that are literal in every engine
// without an escape (an escape of a non-metacharacter is an error in Rust's
// regex 1.7).
func plain(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("/_-,=:@%!;'\"<>~&# ", r))
}

// meta are the characters every engine reads as literal after a backslash.
const meta = `\.+*?()|[]{}^$`

func writeLiteral(b *strings.Builder, r rune) {
	switch {
	case plain(r):
		b.WriteRune(r)
	case strings.ContainsRune(meta, r):
		b.WriteByte('\\')
		b.WriteRune(r)
	default:
		writeHex(b, r)
	}
}

// plainInClass: characters that are literal inside a class in every engine
// (Rust gives [ ] \ - ^ & ~ : a meaning there).
func plainInClass(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("/_.,=@%!;'\"<>#*+?(){}|$ ", r))
}

func writeClassRune(b *strings.Builder, r rune) {
	if plainInClass(r) {
		b.WriteRune(r)
		return
	}
	writeHex(b, r)
}

func writeHex(b *strings.Builder, r rune) {
	b.WriteString(`\x{`)
	b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
	b.WriteString(`}`)
}

// surrogates are not scalar values: Rust refuses them as class bounds.
const (
	surrogateMin = 0xD800
	surrogateMax = 0xDFFF
)

// writeClass writes the ranges (pairs lo, hi, sorted, as Go's parser gives
// them) as a class, or as the negation of its complement when that is
// shorter. Both read the same in every engine: Go's parser has already
// applied case folding, negation and named classes.
func writeClass(b *strings.Builder, ranges []rune) {
	ranges = scalar(ranges)
	if len(ranges) == 0 {
		b.WriteString(`(?:a^)`) // an empty class matches nothing
		return
	}
	if len(ranges) == 2 && ranges[0] == ranges[1] {
		writeLiteral(b, ranges[0])
		return
	}
	comp := scalar(complement(ranges))
	if len(comp) == 0 {
		// Every character: a class of all of them is not empty in any engine.
		b.WriteString(`(?s:.)`)
		return
	}
	b.WriteByte('[')
	if len(comp) < len(ranges) {
		b.WriteByte('^')
		ranges = comp
	}
	for i := 0; i < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		writeClassRune(b, lo)
		if hi > lo {
			if hi > lo+1 {
				b.WriteByte('-')
			}
			writeClassRune(b, hi)
		}
	}
	b.WriteByte(']')
}

// scalar trims surrogate code points from the ranges (no string holds them).
func scalar(ranges []rune) []rune {
	out := make([]rune, 0, len(ranges))
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		switch {
		case lo >= surrogateMin && hi <= surrogateMax:
			continue
		case lo >= surrogateMin && lo <= surrogateMax:
			lo = surrogateMax + 1
		case hi >= surrogateMin && hi <= surrogateMax:
			hi = surrogateMin - 1
		}
		out = append(out, lo, hi)
	}
	return out
}

func complement(ranges []rune) []rune {
	var out []rune
	next := rune(0)
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] > next {
			out = append(out, next, ranges[i]-1)
		}
		next = ranges[i+1] + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, next, unicode.MaxRune)
	}
	return out
}
