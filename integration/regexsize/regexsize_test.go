package regexsize_test

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/neutralregex"
	"github.com/smi-adapter/smi-adapter/core/regexsize"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

func rounds(t *testing.T, def int) int {
	if s := os.Getenv("SMI_REGEX_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return def
}

// TestRE2Oracle: the oracle is RE2 2022-06-01 and answers as Envoy's RE2
// does: program sizes, refusals, full matches on any bytes.
func TestRE2Oracle(t *testing.T) {
	if v, err := re2.Version(); err != nil || !strings.HasPrefix(v, harness.RE2Version) {
		t.Fatalf("oracle version %q (%v), want %s", v, err, harness.RE2Version)
	}
	if size, err := re2.Compile(strings.Repeat(`/[^/]{1000}`, 5)); err != nil || size != 40009 {
		t.Errorf(`/[^/]{1000} x5: size %d, %v; want 40009`, size, err)
	}
	var refusal *harness.RE2Refusal
	if _, err := re2.Compile(`(a{100}){100}`); !errors.As(err, &refusal) || !strings.Contains(refusal.Message, "repetition") {
		t.Errorf("(a{100}){100}: %v, want a repetition refusal", err)
	}
	if _, err := re2.Compile(`\pL{1000}`); !errors.As(err, &refusal) || refusal.Message != "pattern too large - compile failed" {
		t.Errorf(`\pL{1000}: %v, want "pattern too large - compile failed"`, err)
	}
	for _, c := range []struct {
		re, in string
		want   bool
	}{
		{"a+", "aa", true}, {"a+", "aab", false}, {"a|ab", "ab", true}, {"", "", true},
		{".", "\xff", false}, {".", "é", true}, {"(?s:.)", "\n", true}, {".", "\n", false},
	} {
		if got, err := re2.FullMatch(c.re, c.in); err != nil || got != c.want {
			t.Errorf("FullMatch(%q, %q) = %v, %v; want %v", c.re, c.in, got, err, c.want)
		}
	}
}

// TestRE2ProgramSizeNeverBelowRE2: for generated regexes (counted and
// nested repetition, Unicode classes, case folding, alternation, anchors,
// captures) and what neutralregex.Print writes for them, RE2ProgramSize
// is never below RE2's ProgramSize(); Check(limit) == nil means RE2
// compiles the regex within the limit; a regex RE2 refuses as too large is
// refused by Check. Logs how tight the bound is. SMI_REGEX_ROUNDS sets the
// number of generated regexes.
func TestRE2ProgramSizeNeverBelowRE2(t *testing.T) {
	g := &gen{r: rand.New(rand.NewSource(1))}
	n := rounds(t, 1500)
	var pats []string
	for i := 0; i < n; i++ {
		p := g.regex()
		pats = append(pats, p)
		if w, err := neutralregex.Print(p); err == nil && w != p {
			pats = append(pats, w)
		}
	}
	var ratios, bigRatios []float64
	exact, tooLarge, syntaxRefused, overBudget, checked := 0, 0, 0, 0, map[int]int{}
	for _, p := range pats {
		e, err := regexsize.RE2ProgramSize(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		ok, refusal, size, _, err := re2.Ask(p)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if refusal != "pattern too large - compile failed" {
				// A syntax RE2 refuses and Go accepts: not about size.
				if syntaxRefused++; syntaxRefused <= 3 {
					t.Logf("RE2 refuses %q: %s", p, refusal)
				}
				continue
			}
			tooLarge++
			for _, limit := range []int{regexsize.IstioProgramLimit, regexsize.ConsulProgramLimit} {
				if err := regexsize.Check(p, limit); err == nil {
					t.Errorf("%q: RE2 refuses it (%s), Check(%d) passes it (estimate %+v)", p, refusal, limit, e)
				}
			}
			continue
		}
		for _, limit := range []int{regexsize.IstioProgramLimit, regexsize.ConsulProgramLimit} {
			if err := regexsize.Check(p, limit); err == nil {
				checked[limit]++
				if size > limit {
					t.Errorf("%q: Check(%d) passes it, RE2's program size is %d", p, limit, size)
				}
			}
		}
		if e.OverBudget {
			overBudget++ // past RE2InstructionBudget: Check refuses, the size is where counting stopped
			continue
		}
		if e.ProgramSize < size {
			t.Errorf("%q: estimate %d below RE2's program size %d", p, e.ProgramSize, size)
			continue
		}
		if e.ProgramSize == size {
			exact++
		}
		r := float64(e.ProgramSize) / float64(size)
		ratios = append(ratios, r)
		if size >= 1000 {
			bigRatios = append(bigRatios, r)
		}
	}
	if len(ratios) < len(pats)/2 || tooLarge == 0 || checked[regexsize.IstioProgramLimit] == 0 {
		t.Errorf("the generated set does not cover: %d compared, %d too large for RE2, %d passed by Check(Istio)", len(ratios), tooLarge, checked[regexsize.IstioProgramLimit])
	}
	t.Logf("%d regexes: %d compared with RE2 (%d exact), %d too large for RE2, %d within RE2's budget but not Check's, %d refused by RE2's parser; Check passed %d (Istio) and %d (Consul)",
		len(pats), len(ratios), exact, tooLarge, overBudget, syntaxRefused, checked[regexsize.IstioProgramLimit], checked[regexsize.ConsulProgramLimit])
	t.Logf("estimate/RE2: %s; programs of 1000 or more: %s", summary(ratios), summary(bigRatios))
}

func summary(rs []float64) string {
	if len(rs) == 0 {
		return "none"
	}
	sort.Float64s(rs)
	return fmt.Sprintf("median %.4f, p90 %.4f, max %.4f (%d)", rs[len(rs)/2], rs[len(rs)*9/10], rs[len(rs)-1], len(rs))
}

// TestCheckRefusesKnownTooLarge: short regexes whose programs are over the
// limits are refused by Check, and RE2 confirms they are over (program size
// past the limit, or "pattern too large").
func TestCheckRefusesKnownTooLarge(t *testing.T) {
	for _, c := range []struct {
		re    string
		limit int
	}{
		{strings.Repeat(`/[^/]{1000}`, 5), regexsize.IstioProgramLimit},               // 60 characters, 40,009 instructions
		{`\pL{28}`, regexsize.IstioProgramLimit},                                      // 33,408
		{strings.Repeat(`[\x{80}-\x{10FFFF}]{1000}`, 6), regexsize.IstioProgramLimit}, // 36,004
		{strings.Repeat(`[^/]{1000}`, 20), regexsize.IstioProgramLimit},               // 160,004
		{strings.Repeat(`[^/]{1000}`, 90), regexsize.ConsulProgramLimit},              // "pattern too large": past RE2's budget
		{`\pL{1000}`, regexsize.ConsulProgramLimit},                                   // "pattern too large"
		{`(?i)\pL{1000}`, regexsize.ConsulProgramLimit},
	} {
		err := regexsize.Check(c.re, c.limit)
		var tl *regexsize.TooLargeError
		if !errors.As(err, &tl) {
			t.Errorf("%q: Check(%d) = %v, want a *TooLargeError", c.re, c.limit, err)
			continue
		}
		if !tl.Over && !strings.Contains(err.Error(), strconv.Itoa(tl.Size)) || !strings.Contains(err.Error(), strconv.Itoa(tl.Limit)) {
			t.Errorf("%q: %q does not name the size and the limit", c.re, err)
		}
		ok, refusal, size, _, err := re2.Ask(c.re)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case !ok && refusal == "pattern too large - compile failed":
		case !ok:
			t.Errorf("%q: RE2 refuses it for another reason: %s", c.re, refusal)
		case size <= c.limit && tl.Limit == c.limit:
			t.Errorf("%q: Check says %v, RE2's program size is %d", c.re, err, size)
		default:
			t.Logf("%q: %v (RE2: %d)", c.re, tl, size)
		}
	}
	// Nested counts past 1000 are refused by both parsers.
	for _, re := range []string{`(a{100}){100}`, `(?:/[^/]{1000}){5}`} {
		if err := regexsize.Check(re, regexsize.ConsulProgramLimit); err == nil {
			t.Errorf("%q: Check passes it", re)
		}
		if _, err := re2.Compile(re); err == nil {
			t.Errorf("%q: RE2 compiles it", re)
		}
	}
}

// TestCheckRustJudgedByRust: for what neutralregex.Print writes (what
// Linkerd is given: Rust reads raw \d \w \s (?i) as Unicode, far larger),
// what CheckRust passes Rust's regex crate (Linkerd's engine, the
// rustregex oracle) compiles within its default size limit; regexes far
// past it are refused by both.
func TestCheckRustJudgedByRust(t *testing.T) {
	rust, err := harness.StartRustRegex()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rust.Stop() }()
	g := &gen{r: rand.New(rand.NewSource(2))}
	passed, refusedBoth := 0, 0
	for i, n := 0, rounds(t, 1000); i < n; i++ {
		p, err := neutralregex.Print(g.regex())
		if err != nil {
			i-- // no neutral form: never written
			continue
		}
		compiled, refusal, _, err := rust.Match(p)
		if err != nil {
			t.Fatal(err)
		}
		if regexsize.CheckRust(p) == nil {
			passed++
			if !compiled && strings.Contains(refusal, "size limit") {
				t.Errorf("%q: CheckRust passes it, Rust refuses it: %s", p, refusal)
			}
		} else if !compiled && strings.Contains(refusal, "size limit") {
			refusedBoth++
		}
	}
	t.Logf("CheckRust passed %d generated regexes, both refused %d", passed, refusedBoth)
	for _, re := range []string{strings.Repeat(`\pL{1000}`, 3), strings.Repeat(`[\x{80}-\x{10FFFF}]{1000}`, 60)} {
		if err := regexsize.CheckRust(re); err == nil {
			t.Errorf("%q: CheckRust passes it", re)
		}
		compiled, refusal, _, err := rust.Match(re)
		if err != nil {
			t.Fatal(err)
		}
		if compiled || !strings.Contains(refusal, "size limit") {
			t.Errorf("%q: Rust compiles it (%v, %q)", re, compiled, refusal)
		}
	}
}

// TestRustBoundAtTheLimit: for atoms the printer writes, n copies of X
// (written X{1000}X{1000}…X{n mod 1000}) as n grows: the largest n
// CheckRust passes, Rust compiles; the largest n Rust compiles over that
// is how far the bound is from Rust's own measure (logged).
func TestRustBoundAtTheLimit(t *testing.T) {
	rust, err := harness.StartRustRegex()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rust.Stop() }()
	pattern := func(x string, n int) string {
		return strings.Repeat(x+"{1000}", n/1000) + x + "{" + strconv.Itoa(n%1000) + "}"
	}
	rustCompiles := func(p string) bool {
		ok, refusal, _, err := rust.Match(p)
		if err != nil {
			t.Fatal(err)
		}
		if !ok && !strings.Contains(refusal, "size limit") {
			t.Fatalf("%.80q: Rust refuses it: %s", p, refusal)
		}
		return ok
	}
	// largest is the largest k in [0, hi] for which ok holds (ok is
	// monotone: true, then false).
	largest := func(hi int, ok func(int) bool) int {
		lo := 0
		for lo < hi {
			if m := (lo + hi + 1) / 2; ok(m) {
				lo = m
			} else {
				hi = m - 1
			}
		}
		return lo
	}
	var ratios []float64
	for _, x := range []string{"a", "[a-z]", "[^/]", "(?s:.)", `[\x{80}-\x{10FFFF}]`, `[\x{100}-\x{2FF}]`, `\x{1F600}`,
		`[Kk\x{212A}]`, "(?:ab|cd)", "(?:x?)", `[^\x{0}-/:-@\[-\x{60}\{-\x{7F}]`, `\x{7FF}`, "[é-ü]", `[\x{E000}-\x{F8FF}]`,
		`[\x{10000}-\x{10FFFF}]`, ".", `[\x{30}-9A-Z_a-z\x{100}-\x{17F}\x{400}-\x{4FF}\x{4E00}-\x{9FFF}]`, `[^\x{D7FF}-\x{E000}]`} {
		nCheck := largest(4000000, func(n int) bool { return regexsize.CheckRust(pattern(x, n)) == nil })
		if nCheck < 1000 {
			t.Errorf("%q: CheckRust refuses %d copies", x, nCheck+1)
			continue
		}
		if !rustCompiles(pattern(x, nCheck)) {
			t.Errorf("%q: CheckRust passes %d copies, Rust refuses them", x, nCheck)
			continue
		}
		nRust := largest(3*nCheck, func(n int) bool { return n <= nCheck || rustCompiles(pattern(x, n)) })
		ratios = append(ratios, float64(nRust)/float64(nCheck))
		t.Logf("%s: CheckRust passes %d copies, Rust compiles %d (bound %.3fx)", x, nCheck, nRust, float64(nRust)/float64(nCheck))
	}
	t.Logf("Rust bound / Rust's size at the limit: %s", summary(ratios))
}
