package istio

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/normalize"
)

func TestPathPatterns(t *testing.T) {
	for _, tc := range []struct {
		smi  string
		want []string // nil: unsupported (fail closed)
	}{
		{"/api", []string{"/api*"}},
		{"/metrics", []string{"/metrics*"}},
		{"/healthz$", []string{"/healthz"}},
		{"/api.*$", []string{"/api*"}},
		{"/api$$", []string{"/api"}},
		{"^/api", []string{"/api*"}},
		{".*", []string{"*"}},
		{"/", []string{"/*"}},
		{"/api/v[0-9]+", []string{"/api/v0*", "/api/v1*", "/api/v2*", "/api/v3*", "/api/v4*", "/api/v5*", "/api/v6*", "/api/v7*", "/api/v8*", "/api/v9*"}},
		{"/(a|b)/x", []string{"/a/x*", "/b/x*"}},
		{"/(a|b)/[0-9]$", nil}, // 20 exact paths: allowed? see below
		{"/users/[^/]+/profile", nil},
		{"/x.y", nil},
		{"(?i)/ab", []string{"/AB*", "/Ab*", "/aB*", "/ab*"}},
		{"/a(/b)?$", []string{"/a", "/a/b"}},
		{"/v[12]/items/?$", []string{"/v1/items", "/v1/items/", "/v2/items", "/v2/items/"}},
		{"/.*/admin", nil},
		{"/api|/static", []string{"/api*", "/static*"}},
		{"/a*", []string{"/*"}}, // "/" then "a*": /a* = "/" + anything-prefixed... is nullable
		{"/ab+", []string{"/ab*"}},
		{"/ab+c", nil},
	} {
		got, err := PathPatterns(normalize.AnchorPath(tc.smi))
		if tc.smi == "/(a|b)/[0-9]$" {
			if err != nil || len(got) != 20 {
				t.Errorf("%q: want 20 exact paths, got %v %v", tc.smi, got, err)
			}
			continue
		}
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q: want unsupported, got %v", tc.smi, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v (%v), want %v", tc.smi, got, err, tc.want)
		}
	}
}

// TestPathPatternsNeverWiden checks, on many paths, that what the Istio
// patterns accept is exactly what the start-anchored regex accepts.
func TestPathPatternsNeverWiden(t *testing.T) {
	regexes := []string{"/api", "/healthz$", "/api/v[0-9]+", "/(a|b)/x", "(?i)/ab", "/a(/b)?$", "/v[12]/items/?$", "/api|/static", "/a*", "/ab+", "/"}
	paths := []string{"/", "/a", "/a/", "/a/b", "/a/x", "/b/x/y", "/api", "/api/v1", "/api/vx", "/apiv2", "/AB", "/Ab/c", "/healthz", "/healthz/", "/v1/items", "/v1/items/", "/v3/items", "/static/x", "/ab", "/abb", "/x", "/abc"}
	for _, smi := range regexes {
		anchored := normalize.AnchorPath(smi)
		pats, err := PathPatterns(anchored)
		if err != nil {
			t.Fatalf("%q: %v", smi, err)
		}
		re := regexp.MustCompile(anchored)
		for _, p := range paths {
			if want, got := re.MatchString(p), istioPathMatch(pats, p); want != got {
				t.Errorf("%q on %q: regex says %v, Istio patterns %v say %v", smi, p, want, pats, got)
			}
		}
	}
}

func istioPathMatch(pats []string, p string) bool {
	for _, x := range pats {
		switch {
		case x == "*":
			return true
		case strings.HasSuffix(x, "*") && strings.HasPrefix(p, strings.TrimSuffix(x, "*")):
			return true
		case strings.HasPrefix(x, "*") && strings.HasSuffix(p, strings.TrimPrefix(x, "*")):
			return true
		case x == p:
			return true
		}
	}
	return false
}

func TestValuePatterns(t *testing.T) {
	for _, tc := range []struct {
		re   string
		want []string
	}{
		{"prod", []string{"prod"}},
		{"yes|true", []string{"true", "yes"}},
		{".*Firefox.*", nil},
		{"Mozilla.*", []string{"Mozilla*"}},
		{".*-canary", []string{"*-canary"}},
		{".*", []string{"*"}},
		{"[0-9]+", nil},
		{"v[12]", []string{"v1", "v2"}},
	} {
		got, err := ValuePatterns(tc.re)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q: want unsupported, got %v", tc.re, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v (%v), want %v", tc.re, got, err, tc.want)
		}
	}
}

// TestMatchesNothing: a regex that matches no path or value is an error, never
// an empty list (an empty Istio list means "any"; found by FuzzAccessNeverWider).
func TestMatchesNothing(t *testing.T) {
	for _, re := range []string{"0^\u07ba", "/a^b", "/x$y", "/a\\bb", "0^", "/api^", "(?m)/a^", "/a$^", "/a(^)"} {
		if got, err := PathPatterns(normalize.AnchorPath(re)); !errors.Is(err, ErrMatchesNothing) && !errors.Is(err, errUnsupported) {
			t.Errorf("path %q: %v, %v; want no pattern", re, got, err)
		}
	}
	for _, re := range []string{"a^b", "x$y"} {
		if got, err := ValuePatterns(re); !errors.Is(err, ErrMatchesNothing) && !errors.Is(err, errUnsupported) {
			t.Errorf("value %q: %v, %v; want no pattern", re, got, err)
		}
	}
}
