package neutralregex

import (
	"errors"
	"regexp"
	"testing"
)

func TestPrint(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`/api/v1/.*`, `/api/v1/.*`},
		{`/users/[^/]+`, `/users/[^/]+`},
		{`/admin[x[^y]]`, `/admin[\x{5B}\x{5E}xy]\]`}, // RE2: one of x [ ^ y, then ]
		{`/api\>`, `/api>`},
		{`[a-z&&b]`, `[\x{26}a-z]`},
		{`\141`, `a`},
		{`\Q.*\E`, `\.\*`},
		{`a{,5}`, `a\{,5\}`},
		{`\d+`, `[0-9]+`},
		{`\w`, `[0-9A-Z_a-z]`},
		{`(?i)k`, `[Kk\x{212A}]`},
		{`(GET|PUT)`, `(?:GET|PUT)`},
		{`^/x$`, `^/x$`},
		{`(?s).`, `(?s:.)`},
		{`x{2,}?`, `x{2,}?`},
		{`[^\x00-\x{10FFFF}]`, `(?:a^)`},
		{`é`, `\x{E9}`},
		{`a.b|c`, `a.b|c`},
		{`[\x{D7FF}-\x{E000}]`, `[\x{D7FF}-\x{E000}]`}, // scalar bounds: Rust reads the scalars between
	} {
		got, err := Print(c.in)
		if err != nil || got != c.out {
			t.Errorf("Print(%q) = %q, %v; want %q", c.in, got, err, c.out)
		}
	}
}

func TestUnsupported(t *testing.T) {
	for _, in := range []string{`\bfoo`, `a\B`, `\pL`, `(?m)^/x`, `(?:^/a)+`, `/a\x{D800}b|/c`, `(?i)\x{DFFF}`} {
		_, err := Print(in)
		var u *UnsupportedError
		if !errors.As(err, &u) || u.Regex != in {
			t.Errorf("Print(%q): %v, want an UnsupportedError quoting it", in, err)
		}
		if len(err.Error()) > 300 {
			t.Errorf("Print(%q): message of %d bytes", in, len(err.Error()))
		}
	}
	if _, err := Print(`a(`); err == nil || errors.As(err, new(*UnsupportedError)) {
		t.Errorf("invalid RE2 must be a syntax error, got %v", err)
	}
}

// TestSameLanguageInGo: RE2 (Go's reading) matches the same inputs with the
// written form as with the SMI regex; the Rust half of this property is in
// integration/conformance (TestNeutralRegexAgreesWithRust).
func TestSameLanguageInGo(t *testing.T) {
	inputs := []string{"", "a", "A", "/api/v1/x", "/admin/secret", "/adminx]", "k", "K", "\u212a", "\n", "é", "0123", "x{,5}"}
	for _, re := range []string{`/api/v1/.*`, `/admin[x[^y]]`, `(?i)k+`, `\d{2,3}`, `[^a-z]*`, `.|\n`, `a{,5}`} {
		w, err := Print(re)
		if err != nil {
			t.Fatal(err)
		}
		a, b := regexp.MustCompile(`^(?:`+re+`)$`), regexp.MustCompile(`^(?:`+w+`)$`)
		for _, in := range inputs {
			if a.MatchString(in) != b.MatchString(in) {
				t.Errorf("%q vs written %q on %q", re, w, in)
			}
		}
	}
}
