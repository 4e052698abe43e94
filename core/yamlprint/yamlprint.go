// Package yamlprint prints JSON-shaped values (what encoding/json decodes into
// an any with UseNumber) as YAML, byte for byte what sigs.k8s.io/yaml's
// JSONToYAML prints, without that function's round trip through a YAML parser
// and the reflection of a YAML encoder. Anything it cannot print exactly on
// its fast path (multi-line or spaced strings, long keys) is printed by
// JSONToYAML itself, so the output never differs.
package yamlprint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// FromJSON prints a JSON document as YAML.
func FromJSON(j []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return Print(v)
}

// Print prints v: nil, bool, string, json.Number, float64, []any and
// map[string]any, nested.
func Print(v any) ([]byte, error) {
	p := printer{buf: make([]byte, 0, 512)}
	p.value(v, 0, false)
	if p.err != nil {
		return nil, p.err
	}
	if p.slow {
		j, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return yaml.JSONToYAML(j)
	}
	return p.buf, nil
}

type printer struct {
	buf  []byte
	slow bool // the document needs JSONToYAML
	err  error
}

const indentStep = 2

func (p *printer) indent(n int) {
	for range n {
		p.buf = append(p.buf, ' ')
	}
}

// value prints v at indentation ind; inline says the cursor is already after
// "- " or "key:" on the current line (a scalar or empty collection follows
// on the same line, after a space for keys).
func (p *printer) value(v any, ind int, inline bool) {
	if p.slow || p.err != nil {
		return
	}
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			p.buf = append(p.buf, "{}\n"...)
			return
		}
		p.mapping(t, ind, inline)
	case []any:
		if len(t) == 0 {
			p.buf = append(p.buf, "[]\n"...)
			return
		}
		p.sequence(t, ind, inline)
	default:
		p.scalar(v)
		p.buf = append(p.buf, '\n')
	}
}

// mapping prints a non-empty mapping whose first key goes on the current line
// when inline (after "- "), every other key at ind.
func (p *printer) mapping(m map[string]any, ind int, inline bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	for i, k := range keys {
		if i > 0 || !inline {
			p.indent(ind)
		}
		if len(k) > 128 {
			p.slow = true // printed as a complex key ("? ...")
			return
		}
		p.str(k)
		p.buf = append(p.buf, ':')
		switch c := m[k].(type) {
		case map[string]any:
			if len(c) > 0 {
				p.buf = append(p.buf, '\n')
				p.mapping(c, ind+indentStep, false)
				continue
			}
		case []any:
			if len(c) > 0 {
				// Sequences in mappings are not indented.
				p.buf = append(p.buf, '\n')
				p.sequence(c, ind, false)
				continue
			}
		}
		p.buf = append(p.buf, ' ')
		p.value(m[k], ind+indentStep, true)
	}
}

// sequence prints a non-empty sequence, its first item on the current line
// when inline (after "- "), every other at ind.
func (p *printer) sequence(s []any, ind int, inline bool) {
	for i, item := range s {
		if i > 0 || !inline {
			p.indent(ind)
		}
		p.buf = append(p.buf, "- "...)
		switch c := item.(type) {
		case map[string]any:
			if len(c) > 0 {
				p.mapping(c, ind+indentStep, true)
				continue
			}
		case []any:
			if len(c) > 0 {
				p.sequence(c, ind+indentStep, true)
				continue
			}
		}
		p.value(item, ind+indentStep, true)
	}
}

func (p *printer) scalar(v any) {
	switch t := v.(type) {
	case nil:
		p.buf = append(p.buf, "null"...)
	case bool:
		if t {
			p.buf = append(p.buf, "true"...)
		} else {
			p.buf = append(p.buf, "false"...)
		}
	case string:
		p.str(t)
	case json.Number:
		if plainInt(string(t)) {
			p.buf = append(p.buf, t...)
			return
		}
		p.fallback(t)
	case float64:
		p.fallback(t)
	default:
		p.err = fmt.Errorf("yamlprint: unsupported %T", v)
	}
}

// str prints a string plain when it is plainly a string to YAML, else as
// JSONToYAML would (quoted), unless that depends on the column.
func (p *printer) str(s string) {
	if plainString(s) {
		p.buf = append(p.buf, s...)
		return
	}
	if digits(s) {
		// Read back as a number: YAML's encoder double-quotes it.
		p.buf = append(append(append(p.buf, '"'), s...), '"')
		return
	}
	if strings.ContainsAny(s, " \n") {
		p.slow = true // folded or a literal block: depends on the column
		return
	}
	p.fallback(s)
}

// fallback prints one scalar exactly as JSONToYAML does.
func (p *printer) fallback(v any) {
	j, err := json.Marshal(v)
	if err != nil {
		p.err = err
		return
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		p.err = err
		return
	}
	y = bytes.TrimSuffix(y, []byte("\n"))
	if bytes.IndexByte(y, '\n') >= 0 {
		p.slow = true
		return
	}
	p.buf = append(p.buf, y...)
}

// plainInt: an integer literal YAML reads back as the same int64.
func plainInt(s string) bool {
	d := strings.TrimPrefix(s, "-")
	if d == "" || len(d) > 18 || (d[0] == '0' && len(d) > 1) || (d == "0" && s != d) {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// plainString: printable ASCII without spaces, quotes, '#' or a final ':',
// starting with a letter, a slash or another character that starts nothing
// else, and no word YAML reads as a bool or null. YAML's encoder prints such a string plain (in block context) and
// never folds it.
func plainString(s string) bool {
	if s == "" {
		return false
	}
	// A first character YAML neither treats as an indicator nor reads as the
	// start of a number, bool or null (regexes start with '^' or '(').
	if c := s[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("/^()$\\_=;", c) >= 0) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '#' || c == '\'' || c == '"' || c == ':' && i == len(s)-1 {
			return false
		}
	}
	if len(s) <= 5 {
		switch strings.ToLower(s) {
		case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
			return false
		}
	}
	return true
}

// compareKeys orders mapping keys as YAML's encoder does: runes compared one
// by one, letters before other runes, runs of digits by their value.
func compareKeys(a, b string) int {
	if a == b {
		return 0
	}
	if keyLess(a, b) {
		return -1
	}
	if keyLess(b, a) {
		return 1
	}
	return strings.Compare(a, b)
}

func keyLess(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	if isASCII(a) && isASCII(b) {
		// Same comparison without the conversion for the common case.
		ar, br = nil, nil
		return lessRunes(len(a), len(b), func(i int) rune { return rune(a[i]) }, func(i int) rune { return rune(b[i]) })
	}
	return lessRunes(len(ar), len(br), func(i int) rune { return ar[i] }, func(i int) rune { return br[i] })
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lessRunes(na, nb int, a, b func(int) rune) bool {
	for i := 0; i < na && i < nb; i++ {
		ai, bi := a(i), b(i)
		if ai == bi {
			continue
		}
		al, bl := unicode.IsLetter(ai), unicode.IsLetter(bi)
		if al && bl {
			return ai < bi
		}
		if al || bl {
			return bl
		}
		var an, bn int64
		if ai == '0' || bi == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(a(j)); j-- {
				if a(j) != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		ae, be := i, i
		for ; ae < na && unicode.IsDigit(a(ae)); ae++ {
			an = an*10 + int64(a(ae)-'0')
		}
		for ; be < nb && unicode.IsDigit(b(be)); be++ {
			bn = bn*10 + int64(b(be)-'0')
		}
		if an != bn {
			return an < bn
		}
		if ae != be {
			return ae < be
		}
		return ai < bi
	}
	return na < nb
}
