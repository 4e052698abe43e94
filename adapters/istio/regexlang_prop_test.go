package istio

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// regexGen writes random regexes from a grammar that reaches what the
// expansion must get right: start and end anchors (also after a leading
// ".*" and inside alternations, single- and multi-line), ".*", alternation,
// classes, case folding and counted repetition.
type regexGen struct {
	rng   *rand.Rand
	lits  []string
	depth int
}

func (g *regexGen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }

func (g *regexGen) alt() string {
	n := 1 + g.rng.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.seq()
	}
	return strings.Join(parts, "|")
}

func (g *regexGen) seq() string {
	var b strings.Builder
	for n := 1 + g.rng.IntN(4); n > 0; n-- {
		b.WriteString(g.item())
	}
	return b.String()
}

func (g *regexGen) item() string {
	atom, quantifiable := g.atom()
	if !quantifiable || g.rng.IntN(4) != 0 {
		return atom
	}
	return atom + g.pick("?", "*", "+", "{1,2}", "{2}", "{0,3}", "{2,}")
}

func (g *regexGen) atom() (string, bool) {
	if g.depth < 3 && g.rng.IntN(6) == 0 {
		g.depth++
		defer func() { g.depth-- }()
		return g.pick("(", "(?:") + g.alt() + ")", true
	}
	switch g.rng.IntN(12) {
	case 0:
		return ".", true
	case 1:
		return ".*", false
	case 2:
		return g.pick("^", `\A`, "(?m:^)"), false
	case 3:
		return g.pick("$", `\z`, "(?m:$)"), false
	case 4:
		return g.pick("[a-c]", "[^a]", "[,;]", "[dm]", "[A-Z]"), true
	case 5:
		return "(?i:" + regexp.QuoteMeta(g.lits[g.rng.IntN(len(g.lits))]) + ")", true
	case 6:
		return g.pick("(^|,)", "(,|^)", "(?:^|.*,)", "($|,)"), true
	}
	return regexp.QuoteMeta(g.lits[g.rng.IntN(len(g.lits))]), true
}

// sample writes strings the regex may match, walking its syntax tree with
// random choices (anchors are ignored: the probe is judged by the regex
// itself, so a sample need not match).
func sample(rng *rand.Rand, re *syntax.Regexp, alphabet []rune, b *strings.Builder) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && rng.IntN(2) == 0 {
				r = []rune(strings.ToUpper(string(r)))[0]
			}
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		if len(re.Rune) > 0 {
			i := 2 * rng.IntN(len(re.Rune)/2)
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi-lo > 30 {
				hi = lo + 30
			}
			b.WriteRune(lo + rune(rng.IntN(int(hi-lo)+1)))
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteRune(alphabet[rng.IntN(len(alphabet))])
	case syntax.OpCapture, syntax.OpConcat:
		for _, s := range re.Sub {
			sample(rng, s, alphabet, b)
		}
	case syntax.OpAlternate:
		sample(rng, re.Sub[rng.IntN(len(re.Sub))], alphabet, b)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, 3
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 {
				hi = lo + 2
			}
		}
		for n := lo + rng.IntN(hi-lo+1); n > 0; n-- {
			sample(rng, re.Sub[0], alphabet, b)
		}
	}
}

// probes are strings to judge a regex and its patterns on: samples of the
// regex, the same behind and before other text (a role after a comma, a
// longer word ending in the role), the patterns' own literal parts, and every
// short string over a small alphabet.
func probes(rng *rand.Rand, re *syntax.Regexp, pats []string, alphabet []rune) []string {
	var out []string
	for range 24 {
		var b strings.Builder
		sample(rng, re, alphabet, &b)
		out = append(out, b.String())
	}
	for _, p := range pats {
		out = append(out, strings.Trim(p, "*"))
	}
	n := len(out)
	for _, s := range out[:n] {
		for _, pre := range []string{"x", "super", ",", "a,", "/"} {
			out = append(out, pre+s, s+pre)
		}
	}
	short := []string{""}
	for range 3 {
		var next []string
		for _, s := range short {
			for _, r := range []rune{'a', ',', '/'} {
				next = append(next, s+string(r))
			}
		}
		out = append(out, next...)
		short = next
	}
	out = append(out, "")
	// No request path or header value holds a newline (HTTP forbids it),
	// and "." is read without one.
	return slices.DeleteFunc(out, func(s string) bool { return strings.ContainsAny(s, "\n\r") })
}

// TestValuePatternsExactOnGeneratedRegexes: on generated header regexes,
// the Istio values written accept exactly the values the regex accepts as a
// whole-value match (Go's regexp decides), or the regex fails closed.
func TestValuePatternsExactOnGeneratedRegexes(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 1))
	g := &regexGen{rng: rng, lits: []string{"admin", "a", "d", "min", ",", "ad", "x", "-canary", "v1"}}
	alphabet := []rune("admin,xAD-;/")
	var supported, anchoredAfterStar int
	for i := 0; i < 30000; i++ {
		src := g.alt()
		if rng.IntN(2) == 0 {
			src = ".*" + src
		}
		if _, err := regexp.Compile(src); err != nil {
			continue
		}
		pats, err := ValuePatterns(src)
		if err != nil {
			continue
		}
		supported++
		if strings.HasPrefix(src, ".*") && strings.ContainsAny(src[2:], `^A`) {
			anchoredAfterStar++
		}
		whole := regexp.MustCompile("^(?:" + src + ")$")
		parsed, _ := syntax.Parse(src, syntax.Perl)
		for _, p := range probes(rng, parsed, pats, alphabet) {
			if want, got := whole.MatchString(p), istioPathMatch(pats, p); want != got {
				t.Fatalf("header regex %q on value %q: the regex says %v, the Istio values %q say %v", src, p, want, pats, got)
			}
		}
	}
	t.Logf("%d generated regexes written as Istio values (%d with a start anchor after a leading .*)", supported, anchoredAfterStar)
	if supported < 3000 || anchoredAfterStar < 100 {
		t.Fatalf("the generator reaches too little: %d written, %d anchored after .*", supported, anchoredAfterStar)
	}
}

// TestPathPatternsExactOnGeneratedRegexes: the same for SMI path regexes
// (anchored at the start only) and Istio paths.
func TestPathPatternsExactOnGeneratedRegexes(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 2))
	g := &regexGen{rng: rng, lits: []string{"/api", "/", "v1", "/a", "b", "x", "/admin"}}
	alphabet := []rune("/apiv1bx,")
	var supported int
	for i := 0; i < 30000; i++ {
		src := g.alt()
		if _, err := regexp.Compile(src); err != nil {
			continue
		}
		anchored := normalize.AnchorPath(src)
		pats, err := PathPatterns(anchored)
		if err != nil {
			continue
		}
		supported++
		re := regexp.MustCompile(anchored)
		parsed, _ := syntax.Parse(src, syntax.Perl)
		for _, p := range probes(rng, parsed, pats, alphabet) {
			if p == "" {
				continue // no request has an empty path
			}
			if want, got := re.MatchString(p), istioPathMatch(pats, p); want != got {
				t.Fatalf("path regex %q on path %q: the regex says %v, the Istio paths %q say %v", src, p, want, pats, got)
			}
		}
	}
	t.Logf("%d generated path regexes written as Istio paths", supported)
	if supported < 3000 {
		t.Fatalf("the generator reaches too little: %d written", supported)
	}
}

func TestValuePatternsAnchorAfterStar(t *testing.T) {
	for re, want := range map[string]string{
		`.*(^|,)admin`:    "[*,admin admin]",
		`.*^admin`:        "[admin]",
		`.*\Aadmin`:       "[admin]",
		`.*(,|^)admin$`:   "[*,admin admin]",
		`.*(?:,|\A)a(b)?`: "[*,a *,ab a ab]",
		`.*-canary`:       "[*-canary]",
	} {
		got, err := ValuePatterns(re)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("%q: got %v (%v), want %s", re, got, err, want)
		}
	}
	for _, re := range []string{`.*(?m:^)admin`, `(?m:a$)(?:\n|b)`} {
		if got, err := ValuePatterns(re); err == nil {
			t.Errorf("%q: got %v, want unsupported (the character before the suffix decides)", re, got)
		}
	}
}
