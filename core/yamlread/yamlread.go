// Package yamlread converts the block-style YAML that Kubernetes manifests are
// written in (mappings, sequences, plain and quoted one-line scalars) to JSON
// without a general YAML parser. It accepts only what it reads exactly as
// sigs.k8s.io/yaml's YAMLToJSONStrict does and says so; for anything else
// (anchors, tags, flow collections, block or multi-line scalars, YAML 1.1's
// other booleans, floats, duplicate keys, ...) it declines and the caller uses
// YAMLToJSONStrict, so the result never differs.
package yamlread

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// ToJSON returns the JSON of one YAML document and true, or false when the
// document is not in the subset it reads exactly.
func ToJSON(doc []byte) ([]byte, bool) {
	if !printable(doc) {
		return nil, false
	}
	r := reader{out: make([]byte, 0, len(doc)+len(doc)/4)}
	for raw := range bytes.SplitSeq(doc, []byte("\n")) {
		ind := 0
		for ind < len(raw) && raw[ind] == ' ' {
			ind++
		}
		text := raw[ind:]
		if len(text) > 0 && text[len(text)-1] == '\r' {
			text = text[:len(text)-1]
		}
		text = bytes.TrimRight(text, " ")
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		if bytes.IndexByte(text, '\t') >= 0 || bytes.IndexByte(text, '\r') >= 0 {
			return nil, false
		}
		if ind == 0 && string(text) == "---" && len(r.lines) == 0 {
			continue // the document's own start marker
		}
		if ind == 0 && (text[0] == '%' || bytes.HasPrefix(text, []byte("---")) || bytes.HasPrefix(text, []byte("..."))) {
			return nil, false // directives, document markers
		}
		r.lines = append(r.lines, line{ind, text})
	}
	if len(r.lines) == 0 {
		return nil, false
	}
	r.node(r.lines[0].ind)
	if r.bad || r.i != len(r.lines) {
		return nil, false
	}
	return r.out, true
}

type line struct {
	ind  int
	text []byte
}

type reader struct {
	lines []line
	i     int
	out   []byte
	bad   bool
}

// node reads the block node starting at line i, which is at column ind.
func (r *reader) node(ind int) {
	l := r.lines[r.i]
	if l.ind != ind {
		r.bad = true
		return
	}
	if isItem(l.text) {
		r.sequence(ind)
		return
	}
	r.mapping(ind)
}

func isItem(t []byte) bool { return t[0] == '-' && (len(t) == 1 || t[1] == ' ') }

// enter rewrites line i, "- rest", as "rest" at the column rest starts in:
// the item's own node begins there (compact nested mappings and sequences).
func (r *reader) enter(ind int) (rest bool) {
	l := &r.lines[r.i]
	t := l.text[1:]
	n := 0
	for n < len(t) && t[n] == ' ' {
		n++
	}
	if n == len(t) {
		return false
	}
	l.ind, l.text = ind+1+n, t[n:]
	return true
}

func (r *reader) sequence(ind int) {
	r.out = append(r.out, '[')
	first := true
	for !r.bad && r.i < len(r.lines) && r.lines[r.i].ind == ind && isItem(r.lines[r.i].text) {
		if !first {
			r.out = append(r.out, ',')
		}
		first = false
		if !r.enter(ind) {
			// "-" alone: the item is the block below it, or null.
			r.i++
			r.below(ind)
			continue
		}
		l := r.lines[r.i]
		if isItem(l.text) || keyEnd(l.text) >= 0 {
			r.node(l.ind)
			continue
		}
		r.scalarLine(l.text, ind)
	}
	r.out = append(r.out, ']')
}

// below reads the value of "key:" or "-" at column ind: a more indented
// block, or null.
func (r *reader) below(ind int) {
	if r.i < len(r.lines) && r.lines[r.i].ind > ind {
		r.node(r.lines[r.i].ind)
		return
	}
	r.out = append(r.out, "null"...)
}

func (r *reader) mapping(ind int) {
	r.out = append(r.out, '{')
	var keys [][]byte
	for !r.bad && r.i < len(r.lines) && r.lines[r.i].ind == ind && !isItem(r.lines[r.i].text) {
		l := r.lines[r.i]
		end := keyEnd(l.text)
		if end <= 0 {
			r.bad = true
			return
		}
		key, ok := keyString(l.text[:end])
		if !ok {
			r.bad = true
			return
		}
		for _, k := range keys {
			if bytes.Equal(k, key) {
				r.bad = true // duplicate: YAMLToJSONStrict says so
				return
			}
		}
		keys = append(keys, key)
		if len(keys) > 1 {
			r.out = append(r.out, ',')
		}
		r.out = appendString(r.out, key)
		r.out = append(r.out, ':')
		value := bytes.TrimLeft(l.text[end+1:], " ")
		if len(value) > 0 {
			r.scalarLine(value, ind)
			continue
		}
		r.i++
		// A sequence may sit at the key's own column.
		if r.i < len(r.lines) && r.lines[r.i].ind == ind && isItem(r.lines[r.i].text) {
			r.sequence(ind)
			continue
		}
		r.below(ind)
	}
	r.out = append(r.out, '}')
}

// keyEnd is the index of the ':' ending a plain or quoted key, or -1.
func keyEnd(t []byte) int {
	if t[0] == '"' || t[0] == '\'' {
		q := bytes.IndexByte(t[1:], t[0])
		if q < 0 {
			return -1
		}
		e := q + 2
		if e < len(t) && t[e] == ':' && (e+1 == len(t) || t[e+1] == ' ') {
			return e
		}
		return -1
	}
	for i := 0; i < len(t); i++ {
		if t[i] == ':' && (i+1 == len(t) || t[i+1] == ' ') {
			return i
		}
	}
	return -1
}

// keyString is the string a key means, when it surely means a string.
// YAML allows implicit keys of up to 1024 characters: longer ones are
// declined.
func keyString(k []byte) ([]byte, bool) {
	if len(k) > 1000 {
		return nil, false
	}
	if k[0] == '"' || k[0] == '\'' {
		return quoted(k)
	}
	if !plainWord(k) {
		return nil, false
	}
	return k, true
}

// scalarLine reads the one-line scalar of line i, written after "key: " or
// "- " at column owner, and moves past it. A line right of owner after it
// would continue the scalar (or be an error): not read here.
func (r *reader) scalarLine(v []byte, owner int) {
	r.i++
	if r.i < len(r.lines) && r.lines[r.i].ind > owner {
		r.bad = true
		return
	}
	r.scalar(v)
}

func (r *reader) scalar(v []byte) {
	switch {
	case v[0] == '"' || v[0] == '\'':
		s, ok := quoted(v)
		if !ok {
			r.bad = true
			return
		}
		r.out = appendString(r.out, s)
	case v[0] == '[' || v[0] == '{':
		f := flow{in: v, out: r.out}
		if !f.node() || f.pos != len(v) {
			r.bad = true
			return
		}
		r.out = f.out
	case string(v) == "true" || string(v) == "false" || string(v) == "null":
		r.out = append(r.out, v...)
	case string(v) == "~":
		r.out = append(r.out, "null"...)
	case plainInt(v):
		r.out = append(r.out, v...)
	case plainText(v):
		r.out = appendString(r.out, v)
	default:
		r.bad = true
	}
}

// quoted reads a whole one-line quoted scalar: single quotes with ”
// escapes, or double quotes without escapes.
func quoted(v []byte) ([]byte, bool) {
	q := v[0]
	if len(v) < 2 || v[len(v)-1] != q {
		return nil, false
	}
	body := v[1 : len(v)-1]
	if q == '"' {
		if bytes.IndexByte(body, '\\') >= 0 || bytes.IndexByte(body, '"') >= 0 {
			return nil, false
		}
		return body, true
	}
	if bytes.IndexByte(body, '\'') < 0 {
		return body, true
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		if body[i] == '\'' {
			if i+1 < len(body) && body[i+1] == '\'' {
				i++
			} else {
				return nil, false
			}
		}
		out = append(out, body[i])
	}
	return out, true
}

// plainInt: an integer YAML and JSON write alike.
func plainInt(v []byte) bool {
	d := v
	if d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 18 || d[0] == '0' && (len(d) > 1 || len(v) > 1) {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// plainWord: a plain scalar that is surely a string: an ASCII letter or a
// slash first, then printable ASCII without spaces, quotes, '#' or ':', and
// not one of YAML 1.1's boolean or null words.
func plainWord(v []byte) bool {
	if !startsString(v) {
		return false
	}
	for _, c := range v[1:] {
		if c <= ' ' || c >= 0x7f || c == '#' || c == '\'' || c == '"' || c == ':' {
			return false
		}
	}
	return !reserved(v)
}

// plainText is plainWord for values: single spaces may separate words and
// a ':' may appear when no space follows it.
func plainText(v []byte) bool {
	if !startsString(v) {
		return false
	}
	for i, c := range v[1:] {
		i++
		switch {
		case c == ' ':
			if v[i-1] == ' ' || i+1 < len(v) && v[i+1] == '#' {
				return false
			}
		case c == ':':
			if i+1 == len(v) || v[i+1] == ' ' {
				return false
			}
		case c < ' ' || c >= 0x7f:
			return false
		}
	}
	return !reserved(v)
}

// startsString: v's first character can start a plain scalar and, in
// YAML's resolver, hints at nothing but a string (letters are checked
// against the reserved words, a '.' against floats).
func startsString(v []byte) bool {
	switch c := v[0]; {
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return true
	case c == '.':
		// ".*" is a string; ".5", ".inf" and ".e1" are not, whatever
		// ParseFloat says: a character no float has makes it one.
		l := string(bytes.ToLower(v))
		return l != ".inf" && l != ".nan" && bytes.ContainsFunc(v[1:], func(r rune) bool { return !strings.ContainsRune("0123456789eE+-_.xXpPabcdefABCDEFinfINF", r) })
	default:
		return strings.IndexByte("/^()$\\_=;", c) >= 0
	}
}

// flow reads a one-line flow collection: [a, b] and {k: v} nested, with
// plain words, integers and quoted strings.
type flow struct {
	in  []byte
	pos int
	out []byte
}

func (f *flow) space() {
	for f.pos < len(f.in) && f.in[f.pos] == ' ' {
		f.pos++
	}
}

func (f *flow) node() bool {
	f.space()
	if f.pos == len(f.in) {
		return false
	}
	switch f.in[f.pos] {
	case '[':
		return f.collection(']')
	case '{':
		return f.collection('}')
	}
	tok, ok := f.token()
	if !ok {
		return false
	}
	switch {
	case tok[0] == '"' || tok[0] == '\'':
		q, ok := quoted(tok)
		if !ok {
			return false
		}
		f.out = appendString(f.out, q)
	case string(tok) == "true" || string(tok) == "false" || string(tok) == "null":
		f.out = append(f.out, tok...)
	case plainInt(tok):
		f.out = append(f.out, tok...)
	case plainWord(tok):
		f.out = appendString(f.out, tok)
	default:
		return false
	}
	return true
}

// token is the scalar at pos: quoted, or plain up to a flow indicator.
func (f *flow) token() ([]byte, bool) {
	start := f.pos
	if f.pos == len(f.in) {
		return nil, false
	}
	if c := f.in[f.pos]; c == '"' || c == '\'' {
		end := bytes.IndexByte(f.in[f.pos+1:], c)
		if end < 0 {
			return nil, false
		}
		f.pos += end + 2
		if c == '\'' && f.pos < len(f.in) && f.in[f.pos] == '\'' {
			return nil, false // an escaped quote: not read here
		}
		return f.in[start:f.pos], true
	}
	for f.pos < len(f.in) && strings.IndexByte(",[]{}: ", f.in[f.pos]) < 0 {
		f.pos++
	}
	return f.in[start:f.pos], f.pos > start
}

func (f *flow) collection(closer byte) bool {
	f.pos++
	f.out = append(f.out, f.in[f.pos-1])
	var keys [][]byte
	for n := 0; ; n++ {
		f.space()
		if f.pos < len(f.in) && f.in[f.pos] == closer {
			if n > 0 {
				return false // a trailing comma
			}
			break
		}
		if n > 0 {
			f.out = append(f.out, ',')
		}
		if closer == '}' {
			tok, ok := f.token()
			if !ok {
				return false
			}
			key, ok := keyString(tok)
			if !ok || f.pos+1 >= len(f.in) || f.in[f.pos] != ':' || f.in[f.pos+1] != ' ' {
				return false
			}
			for _, k := range keys {
				if bytes.Equal(k, key) {
					return false
				}
			}
			keys = append(keys, key)
			f.pos++
			f.out = append(appendString(f.out, key), ':')
		}
		if !f.node() {
			return false
		}
		f.space()
		if f.pos < len(f.in) && f.in[f.pos] == ',' {
			f.pos++
			continue
		}
		if f.pos < len(f.in) && f.in[f.pos] == closer {
			break
		}
		return false
	}
	f.pos++
	f.out = append(f.out, closer)
	return true
}

func reserved(v []byte) bool {
	if len(v) > 5 {
		return false
	}
	switch string(bytes.ToLower(v)) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return true
	}
	return false
}

// appendString appends s as a JSON string.
func appendString(out, s []byte) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c < ' ':
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}

// printable: valid UTF-8 of YAML's printable characters, without tabs
// (whose meaning depends on where they are) and with '\r' only before '\n'.
// YAML refuses the others even in comments.
func printable(doc []byte) bool {
	for i, c := range doc {
		if c < ' ' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
		if c == '\r' && (i+1 == len(doc) || doc[i+1] != '\n') {
			return false // a line break of its own
		}
	}
	if !utf8.Valid(doc) {
		return false
	}
	for _, r := range string(doc) {
		if r >= 0x80 && r <= 0x9f || r == 0xfeff || r >= 0xfffe && r <= 0xffff {
			return false
		}
	}
	return true
}
