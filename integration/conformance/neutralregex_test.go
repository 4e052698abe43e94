package conformance_test

import (
	"fmt"
	"math/rand"
	"os"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/neutralregex"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// regexTokens are pieces of SMI (RE2) regexes, many of them read otherwise
// by Rust's regex crate or refused by it: nested classes, class set
// operations, \< \>, octal, \Q…\E, {,n}, Unicode-aware \d \w \s \b, case
// folding.
var regexTokens = []string{
	"a", "b", "x", "y", "k", "/", "-", "_", "~", ".", `\.`, "&", "<", ">", "{", "}", ",", "5", "é",
	"[x[^y]]", "[a-z&&b]", `[a\-z]`, "[~~]", "[&&]", `\>`, `\<`, `\141`, `\Q.*\E`, "a{,5}",
	`\d`, `\w`, `\s`, `\D`, `\W`, "[[:alpha:]]", "[[:^digit:]]", `\pN`, `\p{Greek}`,
	"(?i)k", "(?i:é)", "[^/]", "[a-c]", "[^a-c/]", "(a|b)", "(?:x|)", "^", "$", `\b`, `\B`, `\A`, `\z`,
	"(?s:.)", "(?m:^)", "(?m:$)", `[\x00-\x{10FFFF}]`, `[^\x00-\x{10FFFF}]`, `\x{212A}`, "[.]", "[$]", "[{]",
	`\x{D800}`, `\x{DBFF}\x{DC00}`, `[\x{D7FF}-\x{E000}]`, `(?i:\x{DFFF})`,
}

var regexQuantifiers = []string{"", "", "", "*", "+", "?", "{2}", "{1,3}", "{2,}", "*?", "+?"}

// randomRegex is a random RE2 regex built from regexTokens.
func randomRegex(r *rand.Rand) string {
	for {
		n := 1 + r.Intn(5)
		var b strings.Builder
		for i := 0; i < n; i++ {
			tok := regexTokens[r.Intn(len(regexTokens))]
			if r.Intn(6) == 0 {
				tok = "(" + tok + "|" + regexTokens[r.Intn(len(regexTokens))] + ")"
			}
			if q := regexQuantifiers[r.Intn(len(regexQuantifiers))]; q != "" {
				if len([]rune(tok)) > 1 {
					tok = "(?:" + tok + ")"
				}
				tok += q
			}
			b.WriteString(tok)
		}
		if _, err := regexp.Compile(b.String()); err == nil {
			return b.String()
		}
	}
}

// sample is a random string the parsed regex t is likely to match.
func sample(r *rand.Rand, t *syntax.Regexp, b *strings.Builder) {
	switch t.Op {
	case syntax.OpLiteral:
		for _, c := range t.Rune {
			if t.Flags&syntax.FoldCase != 0 && r.Intn(2) == 0 {
				c = rune(strings.ToUpper(string(c))[0])
			}
			b.WriteRune(c)
		}
	case syntax.OpCharClass:
		if len(t.Rune) > 0 {
			i := 2 * r.Intn(len(t.Rune)/2)
			lo, hi := t.Rune[i], t.Rune[i+1]
			if hi-lo > 300 {
				hi = lo + 300
			}
			b.WriteRune(lo + rune(r.Intn(int(hi-lo)+1)))
		}
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		b.WriteRune([]rune("az/.\u212aé")[r.Intn(6)])
	case syntax.OpCapture:
		sample(r, t.Sub[0], b)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, 3
		switch t.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = t.Min, t.Max
			if hi < 0 || hi > lo+3 {
				hi = lo + 3
			}
		}
		for n := lo + r.Intn(hi-lo+1); n > 0; n-- {
			sample(r, t.Sub[0], b)
		}
	case syntax.OpConcat:
		for _, s := range t.Sub {
			sample(r, s, b)
		}
	case syntax.OpAlternate:
		sample(r, t.Sub[r.Intn(len(t.Sub))], b)
	}
}

// inputs for re: strings sampled from it, their neighbours, and random
// strings over the characters the tokens are about.
func inputs(r *rand.Rand, re string) []string {
	t, _ := syntax.Parse(re, syntax.Perl)
	const alphabet = "abxyk/-_.<>{},5&~é\u212aK1 \n[]^aA"
	letters := []rune(alphabet)
	var out []string
	for i := 0; i < 6; i++ {
		var b strings.Builder
		sample(r, t, &b)
		s := b.String()
		out = append(out, s, s+string(letters[r.Intn(len(letters))]))
		if rs := []rune(s); len(rs) > 0 {
			out = append(out, string(rs[:len(rs)-1]))
		}
	}
	for i := 0; i < 6; i++ {
		n := r.Intn(7)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteRune(letters[r.Intn(len(letters))])
		}
		out = append(out, b.String())
	}
	return out
}

// regexDisagreement checks one SMI regex: what is written for it (write)
// must compile in Rust and match, whole-value and searched, exactly what
// Go's reading of the SMI regex matches. It returns "" when they agree (or
// write refused the regex: fail closed).
func regexDisagreement(rust *harness.RustRegex, r *rand.Rand, smi string, write func(string) (string, error)) (string, error) {
	written, err := write(smi)
	if err != nil {
		return "", nil
	}
	ins := inputs(r, smi)
	goWhole := regexp.MustCompile(`^(?:` + smi + `)$`)
	goSearch := regexp.MustCompile(smi)
	for _, anchored := range []bool{true, false} {
		pattern := written
		if anchored {
			pattern = `^(?:` + written + `)$`
		}
		ok, refusal, ms, err := rust.Match(pattern, ins...)
		if err != nil {
			return "", err
		}
		if !ok {
			return fmt.Sprintf("SMI %q written as %q: Rust's regex refuses it: %s", smi, pattern, refusal), nil
		}
		for i, in := range ins {
			want := goSearch.MatchString(in)
			if anchored {
				want = goWhole.MatchString(in)
			}
			if ms[i].Found != want || (anchored && ms[i].Whole != want) {
				return fmt.Sprintf("SMI %q on %q: RE2 says %v, Rust reads %q as %+v", smi, in, want, pattern, ms[i]), nil
			}
		}
		// And RE2 reads what was written as it reads the SMI regex.
		goWritten, err := regexp.Compile(pattern)
		if err != nil {
			return fmt.Sprintf("SMI %q written as %q: RE2 refuses it: %v", smi, pattern, err), nil
		}
		for _, in := range ins {
			want := goSearch.MatchString(in)
			if anchored {
				want = goWhole.MatchString(in)
			}
			if goWritten.MatchString(in) != want {
				return fmt.Sprintf("SMI %q on %q: RE2 reads the SMI regex as %v, what was written (%q) as %v", smi, in, want, pattern, !want), nil
			}
		}
	}
	return "", nil
}

func regexRounds(t *testing.T) int {
	if s := os.Getenv("SMI_REGEX_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return 3000
}

// TestNeutralRegexAgreesWithRust: for random SMI regexes and inputs, Rust's
// regex crate (Linkerd's engine, as the oracle) reads what
// neutralregex.Print writes exactly as RE2 (Go's reading) reads the SMI
// regex, whole-value and searched; RE2 reads the written form the same too.
// SMI_REGEX_ROUNDS sets the number of regexes.
func TestNeutralRegexAgreesWithRust(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	refused := 0
	n := regexRounds(t)
	for i := 0; i < n; i++ {
		smi := randomRegex(r)
		if _, err := neutralregex.Print(smi); err != nil {
			refused++
		}
		msg, err := regexDisagreement(rust, r, smi, neutralregex.Print)
		if err != nil {
			t.Fatal(err)
		}
		if msg != "" {
			t.Fatal(msg)
		}
	}
	t.Logf("%d random SMI regexes: %d written and agreeing, %d refused (fail closed)", n, n-refused, refused)
}

// TestVerbatimRegexIsCaught: the property above finds the bug it exists
// for. Writing the SMI text verbatim (what smi-adapter's Linkerd backend
// did) disagrees with Rust on the random regexes within the CI budget.
func TestVerbatimRegexIsCaught(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < regexRounds(t); i++ {
		msg, err := regexDisagreement(rust, r, randomRegex(r), func(s string) (string, error) { return s, nil })
		if err != nil {
			t.Fatal(err)
		}
		if msg != "" {
			t.Logf("found after %d regexes: %s", i+1, msg)
			return
		}
	}
	t.Fatal("writing SMI regexes verbatim was never caught")
}

// TestRustRegexOracle: the oracle is the crate version pinned, and reads
// the examples as Rust does (not as RE2).
func TestRustRegexOracle(t *testing.T) {
	if v, err := rust.Version(); err != nil || v != harness.RustRegexVersion {
		t.Fatalf("oracle version %q (%v), want %s", v, err, harness.RustRegexVersion)
	}
	for _, c := range []struct {
		pattern, input  string
		compiles, match bool
	}{
		{`^(?:/admin[x[^y]]).*$`, "/admin/secret", true, true}, // nested class: any char but y
		{`[a-z&&b]`, "a", true, false},                         // intersection
		{`[a-z&&b]`, "b", true, true},
		{`\>`, ">", false, false}, // refused by 1.7 (an assertion in 1.13)
		{`a{,5}`, "a{,5}", false, false},
		{`\141`, "a", false, false},
		{`\Q.\E`, ".", false, false},
		{`\d`, "٣", true, true}, // Unicode digit
	} {
		ok, refusal, ms, err := rust.Match(c.pattern, c.input)
		if err != nil {
			t.Fatal(err)
		}
		if ok != c.compiles || (ok && ms[0].Found != c.match) {
			t.Errorf("Rust on %q / %q: compiles=%v (%s) %+v, want compiles=%v match=%v", c.pattern, c.input, ok, refusal, ms, c.compiles, c.match)
		}
	}
}
