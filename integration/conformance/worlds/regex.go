package worlds

import (
	"math/rand/v2"
	"strings"
)

// piece is one regex fragment and a sampler of strings it matches (as a
// part of a whole match: an anchored piece's sample keeps its anchor true).
type piece struct {
	re     string
	sample func(r *rand.Rand) string
	// end: the piece ends the match ($); nothing may follow it.
	end bool
}

func lit(s string) piece {
	return piece{re: quoteMeta(s), sample: func(*rand.Rand) string { return s }}
}

func quoteMeta(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func oneOf(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }

func word(r *rand.Rand, alphabet string, min, max int) string {
	n := min + r.IntN(max-min+1)
	runes := []rune(alphabet)
	var b strings.Builder
	for range n {
		b.WriteRune(runes[r.IntN(len(runes))])
	}
	return b.String()
}

// pathPieces are the grammar of path regexes: literals, classes, counted
// and unbounded repetition, alternation, flags, Unicode, anchors after .*,
// and an explicit end.
var pathPieces = []piece{
	lit("/api"), lit("/v1"), lit("/v2"), lit("/admin"), lit("/users"), lit("/static"), lit("/metrics"),
	{re: `/[0-9]+`, sample: func(r *rand.Rand) string { return "/" + word(r, "0123456789", 1, 3) }},
	{re: `/[a-z]{2,3}`, sample: func(r *rand.Rand) string { return "/" + word(r, "abcxyz", 2, 3) }},
	{re: `/[^/]+`, sample: func(r *rand.Rand) string { return "/" + word(r, "ab-1é", 1, 4) }},
	{re: `(/a|/b)`, sample: func(r *rand.Rand) string { return oneOf(r, "/a", "/b") }},
	{re: `(/v1)?`, sample: func(r *rand.Rand) string { return oneOf(r, "", "/v1") }},
	{re: `.*`, sample: func(r *rand.Rand) string { return oneOf(r, "", "/x", "/a/b") }},
	{re: `\.css`, sample: func(*rand.Rand) string { return ".css" }},
	{re: `(?i)/beta`, sample: func(r *rand.Rand) string { return oneOf(r, "/beta", "/BETA", "/Beta") }},
	{re: `/é+`, sample: func(r *rand.Rand) string { return "/" + strings.Repeat("é", 1+r.IntN(2)) }},
	{re: `/\d{2}`, sample: func(r *rand.Rand) string { return "/" + word(r, "0123456789", 2, 2) }},
	{re: `.*(^|/)admin`, sample: func(r *rand.Rand) string { return oneOf(r, "/admin", "/x/admin") }},
	{re: `(?:/x){1,2}`, sample: func(r *rand.Rand) string { return strings.Repeat("/x", 1+r.IntN(2)) }},
	{re: `$`, sample: func(*rand.Rand) string { return "" }, end: true},
}

// headerPieces are the grammar of header value regexes (matched against
// the whole value).
var headerPieces = []piece{
	lit("prod"), lit("1"), lit("beta"),
	{re: `prod-(eu|us)`, sample: func(r *rand.Rand) string { return "prod-" + oneOf(r, "eu", "us") }},
	{re: `[a-z]+`, sample: func(r *rand.Rand) string { return word(r, "abz", 1, 3) }},
	{re: `.*Firefox.*`, sample: func(r *rand.Rand) string { return oneOf(r, "Firefox", "Mozilla Firefox/120") }},
	{re: `(?i)beta`, sample: func(r *rand.Rand) string { return oneOf(r, "beta", "BETA") }},
	{re: `x{2}`, sample: func(*rand.Rand) string { return "xx" }},
	{re: `.*`, sample: func(r *rand.Rand) string { return oneOf(r, "", "any") }},
	{re: `v[0-9]`, sample: func(r *rand.Rand) string { return "v" + word(r, "0129", 1, 1) }},
	{re: `(^|,)canary`, sample: func(*rand.Rand) string { return "canary" }},
}

// genRegex is a regex of 1..max pieces and samples of it.
func genRegex(r *rand.Rand, pieces []piece, max int) (string, func(*rand.Rand) string) {
	var ps []piece
	for range 1 + r.IntN(max) {
		p := pieces[r.IntN(len(pieces))]
		ps = append(ps, p)
		if p.end {
			break
		}
	}
	var re strings.Builder
	for _, p := range ps {
		re.WriteString(p.re)
	}
	return re.String(), func(r *rand.Rand) string {
		var b strings.Builder
		for _, p := range ps {
			b.WriteString(p.sample(r))
		}
		return b.String()
	}
}
