package linkerd

import (
	"regexp"
	"strings"
	"testing"
)

// TestRelateAgainstEnumeration: relate's exact answers agree with Go's
// regexp on every string of up to five characters over an alphabet that
// tells the regexes apart (a relation it decides must hold on them all).
func TestRelateAgainstEnumeration(t *testing.T) {
	res := []string{
		`^(?:/a/).*$`, `^(?:/a/b).*$`, `^(?:/a).*$`, `^(?:/[ab]+).*$`, `^(?:/a|/b).*$`, `^(?:.*b).*$`,
		`^(?:/a/)(?:|[^\nb].*|b(?:|[^\n/].*))$`, `^(?:/(?i:A)).*$`, `^(?:/a$).*$`, `^(?:)$`, `^(?:a?)$`,
		`^(?s:.*)$`, `^(?s:.)$`, `^(?:[^/]{2}).*$`,
	}
	alphabet := []string{"/", "a", "b", "A", "x"}
	var inputs []string
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		inputs = append(inputs, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			grow(prefix+c, n-1)
		}
	}
	grow("", 5)
	for _, a := range res {
		for _, b := range res {
			rel, ok := relate(a, b, pathText)
			if !ok {
				t.Errorf("relate(%q, %q) undecided", a, b)
				continue
			}
			ra, rb := regexp.MustCompile(a), regexp.MustCompile(b)
			for _, in := range inputs {
				ma, mb := ra.MatchString(in), rb.MatchString(in)
				switch {
				case ma && mb && !rel.Overlap && !strings.Contains(in, "\n"):
					t.Errorf("relate(%q, %q): no overlap, yet both match %q", a, b, in)
				case ma && !mb && rel.AInB:
					t.Errorf("relate(%q, %q): a in b, yet only a matches %q", a, b, in)
				case mb && !ma && rel.BInA:
					t.Errorf("relate(%q, %q): b in a, yet only b matches %q", a, b, in)
				}
			}
		}
	}
	for _, c := range []struct {
		a, b          string
		overlap, aInB bool
	}{
		{`^(?:/api/v1/).*$`, `^(?:/api/).*$`, true, true},
		{`^(?:/api/).*$`, `^(?:/api/v1/).*$`, true, false},
		{`^(?:/api/v[0-9]+/).*$`, `^(?:/api/).*$`, true, true},
		{`^(?:/admin).*$`, `^(?:/api/).*$`, false, false},
		{anyPath, `^(?:.*).*$`, true, true},
		{anyPath, `^(?:/).*$`, true, false}, // a request path need not start with /
	} {
		rel, ok := relate(c.a, c.b, pathText)
		if !ok || rel.Overlap != c.overlap || rel.AInB != c.aInB {
			t.Errorf("relate(%q, %q) = %+v, %v; want overlap %v, a in b %v", c.a, c.b, rel, ok, c.overlap, c.aInB)
		}
	}
}

// TestExcludingPrefixes: the narrowed path matches what the outer literal
// matches and none of the inner literals do.
func TestExcludingPrefixes(t *testing.T) {
	re, ok := excludingPrefixes("/api/", []string{"/api/v1/", "/api/v2", "/api/v1/x"})
	if !ok {
		t.Fatal("not written")
	}
	r := regexp.MustCompile(re)
	for path, want := range map[string]bool{
		"/api/": true, "/api/v": true, "/api/v1": true, "/api/v3/x": true, "/api/x": true,
		"/api/v1/": false, "/api/v1/x/y": false, "/api/v2": false, "/api/v2x": false, "/api": false, "/apix": false,
	} {
		if got := r.MatchString(path); got != want {
			t.Errorf("%s matches %q: %v, want %v", re, path, got, want)
		}
	}
	if lit, ok := literalPath(`^(?:/api/).*$`); !ok || lit != "/api/" {
		t.Errorf("literalPath = %q, %v", lit, ok)
	}
	if _, ok := literalPath(`^(?:/api/[0-9]).*$`); ok {
		t.Error("a class is not a literal")
	}
}
