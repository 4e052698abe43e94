package regexsize_test

import (
	"fmt"
	"math/rand"
	"regexp/syntax"
	"strings"
)

// The grammar of generated regexes: RE2 syntax with what makes programs
// large (counted and nested repetition, Unicode classes, case folding,
// negated classes, any character) and what changes their shape
// (alternation, anchors, captures, lazy quantifiers, empty groups).
var atoms = []string{
	"a", "b", "x", "/", "-", "_", "0", `\.`, `\$`, "é", `\x{212A}`, `\x{1F600}`, `\x{7FF}`, `\x{800}`, `\x{FFFF}`,
	"[a-z]", "[^/]", "[^a-c/]", "[0-9a-f]", "[A-Za-z]", "[a-zA-Z0-9_-]", `[\x{80}-\x{10FFFF}]`, `[\x{100}-\x{2FF}]`,
	`[\x{E000}-\x{F8FF}]`, `[^\x{0}-\x{7F}]`, `[\x{0}-\x{10FFFF}]`, `[^\n]`, `[é-ü]`, `[\x{10000}-\x{10FFFF}]`,
	`\d`, `\w`, `\s`, `\D`, `\W`, `\pL`, `\p{Greek}`, `\p{Han}`, `\pN`, `\p{Lu}`, `[[:alpha:]]`, `[[:^space:]]`,
	".", "(?s:.)", "(?i)k", "(?i)s", "(?i)a", "(?i:é)", "(?i)[a-f]", "(?i)[k-s]", "(?i)ǅ",
	"^", "$", `\A`, `\z`, "(?:)", "(?m:^)", "(?m:$)", `\b`,
}

var quantifiers = []string{"", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{3,5}", "{0,4}", "{2,}", "{7}", "{1,20}", "{0,30}?", "{10,}"}

type gen struct {
	r     *rand.Rand
	depth int
}

func (g *gen) quant() string {
	q := quantifiers[g.r.Intn(len(quantifiers))]
	if g.r.Intn(8) == 0 {
		// A large count: programs grow with it.
		n := 1 + g.r.Intn(300)
		switch g.r.Intn(3) {
		case 0:
			q = fmt.Sprintf("{%d}", n)
		case 1:
			q = fmt.Sprintf("{%d,%d}", n/2, n)
		default:
			q = fmt.Sprintf("{%d,}", n)
		}
	}
	return q
}

// expr is a random regex of up to depth nested groups.
func (g *gen) expr(depth int) string {
	n := 1 + g.r.Intn(4)
	var parts []string
	for i := 0; i < n; i++ {
		var p string
		switch k := g.r.Intn(10); {
		case k < 6 || depth == 0:
			p = atoms[g.r.Intn(len(atoms))]
			if strings.HasPrefix(p, "(?i)") {
				p = "(?:" + p + ")"
			}
		case k < 8:
			p = "(?:" + g.expr(depth-1) + ")"
		case k < 9:
			p = "(" + g.expr(depth-1) + ")"
		default:
			p = "(?:" + g.expr(depth-1) + "|" + g.expr(depth-1) + ")"
			if g.r.Intn(2) == 0 {
				p = g.alternation(depth - 1)
			}
		}
		parts = append(parts, p+g.quant())
	}
	s := strings.Join(parts, "")
	if depth > 0 && g.r.Intn(5) == 0 {
		s += "|" + g.expr(depth-1)
	}
	return s
}

func (g *gen) anchored(s string) string {
	switch g.r.Intn(6) {
	case 0, 1:
		s = "^" + s
	case 2:
		s = `\A` + s
	case 3:
		s = "(?m:^)" + s
	}
	switch g.r.Intn(4) {
	case 0:
		s += "$"
	case 1:
		s += `\z`
	}
	return s
}

// branches are alternatives that the parsers merge and factor: repeated,
// sharing prefixes, single characters and classes, anchors, empty.
var branches = []string{"a", "a", "b", "ab", "ac", "abc", "[ab]", "[ab]c", "[a-z]", ".", "(?s:.)", "^a", "^b", "\\Ax",
	"$", "", "(?i)a", "é", "éa", "x{3}", "x{3}y", "[0-9]{2}", "a*", "a+b", "\\b"}

// alternation is a group of 2 to 6 branches.
func (g *gen) alternation(depth int) string {
	n := 2 + g.r.Intn(5)
	var bs []string
	for i := 0; i < n; i++ {
		b := branches[g.r.Intn(len(branches))]
		if depth > 0 && g.r.Intn(4) == 0 {
			b = g.expr(depth - 1)
		}
		if strings.HasPrefix(b, "(?i)") {
			b = "(?:" + b + ")"
		}
		bs = append(bs, b)
	}
	return "(?:" + strings.Join(bs, "|") + ")"
}

// regex is a random regex Go's parser accepts.
func (g *gen) regex() string {
	for {
		s := g.anchored(g.expr(2 + g.r.Intn(2)))
		if g.r.Intn(5) == 0 {
			// Branches with their own anchors: ^a|^b, RE2 factors the ^.
			for k := 1 + g.r.Intn(3); k > 0; k-- {
				s += "|" + g.anchored(g.expr(1+g.r.Intn(2)))
			}
		}
		if g.r.Intn(6) == 0 {
			s = "(" + s + ")" + g.quant()
		}
		if _, err := syntax.Parse(s, syntax.Perl); err == nil {
			return s
		}
	}
}
