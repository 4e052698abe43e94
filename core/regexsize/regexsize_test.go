package regexsize_test

import (
	"errors"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/regexsize"
)

// re2Sizes are RE2::ProgramSize() values measured with libre2 2022-06-01
// (the RE2 oracle, integration/tools/re2). The estimate must not be below
// them, and here is at most 5 over (anchors, a literal prefix after ^).
var re2Sizes = []struct {
	re   string
	size int
}{
	{"", 4}, {"a", 5}, {"^a$", 4}, {".", 12}, {"(?s:.)", 11}, {"[^/]", 12}, {"[a-z]{1,3}", 9},
	{"/api/v[0-9]+/items", 18}, {"(?:a^)", 6}, {`[Kk\x{212A}]`, 8}, {"(?i)k", 8}, {"()", 6},
	{`(?:a|)*`, 10}, {`\pL`, 1197}, {`\pL{27}`, 32215}, {`\pL{28}`, 33408}, {"/[^/]{1000}", 8005},
	{strings.Repeat("/[^/]{1000}", 5), 40009}, {`(?:[^/]*/){100}`, 904}, {`\A|x*x`, 9}, {`x(?:a?a?){2,}`, 14},
	{`(?:[\x{0}-\x{10FFFF}]){1,20}(?s:.)*`, 170}, {`(?s:.){1,20}(?s:.)*`, 12}, {`(?:\A*){3,}`, 19},
}

func TestRE2ProgramSizeMeasured(t *testing.T) {
	for _, c := range re2Sizes {
		e, err := regexsize.RE2ProgramSize(c.re)
		if err != nil {
			t.Fatalf("%q: %v", c.re, err)
		}
		if e.ProgramSize < c.size || e.ProgramSize > c.size+5 || e.OverBudget {
			t.Errorf("%q: estimate %+v, RE2 %d", c.re, e, c.size)
		}
	}
}

func TestCheck(t *testing.T) {
	five := strings.Repeat("/[^/]{1000}", 5)
	if err := regexsize.Check(five, regexsize.ConsulProgramLimit); err != nil {
		t.Errorf("Consul: %v", err)
	}
	err := regexsize.Check(five, regexsize.IstioProgramLimit)
	var tl *regexsize.TooLargeError
	if !errors.As(err, &tl) || tl.Size != 40009 || tl.Limit != 32768 || tl.Engine != "RE2" {
		t.Fatalf("Istio: %v", err)
	}
	if !strings.Contains(err.Error(), "40009") || !strings.Contains(err.Error(), "32768") {
		t.Errorf("the error names neither size nor limit: %v", err)
	}
	// Past RE2's own budget: refused whatever the limit.
	if err := regexsize.Check(`\pL{1000}`, 1<<30); !errors.As(err, &tl) || tl.Limit != regexsize.RE2InstructionBudget {
		t.Errorf(`\pL{1000}: %v`, err)
	}
	// Refused by the parser (nested counts past 1000, as RE2's).
	var se *syntax.Error
	if err := regexsize.Check(`(a{100}){100}`, regexsize.ConsulProgramLimit); !errors.As(err, &se) {
		t.Errorf("(a{100}){100}: %v", err)
	}
	if err := regexsize.Check("/api/v[0-9]+/items", regexsize.IstioProgramLimit); err != nil {
		t.Error(err)
	}
}

func TestCheckRust(t *testing.T) {
	for _, re := range []string{"/api/v[0-9]+/items", strings.Repeat("/[^/]{1000}", 5), `\pL{20}`} {
		if err := regexsize.CheckRust(re); err != nil {
			t.Errorf("%q: %v", re, err)
		}
	}
	err := regexsize.CheckRust(strings.Repeat(`\pL{1000}`, 3))
	var tl *regexsize.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != regexsize.RustSizeLimit || !strings.Contains(err.Error(), "10485760") {
		t.Errorf("3000 letters: %v", err)
	}
}

func BenchmarkRE2ProgramSize(b *testing.B) {
	for _, re := range []string{"/api/v[0-9]+/items", strings.Repeat("/[^/]{1000}", 5), `\pL{1000}`} {
		b.Run(re[:min(len(re), 20)], func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := regexsize.RE2ProgramSize(re); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
