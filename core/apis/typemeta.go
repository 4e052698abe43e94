package apis

// typeMeta reads the top-level "apiVersion" and "kind" strings of a JSON
// object without decoding the rest of it. ok is false whenever it is not sure
// to read them as encoding/json would (escapes, keys differing only in case,
// duplicates, a value that is not a string, malformed input): the caller then
// decodes.
func typeMeta(j []byte) (apiVersion, kind string, ok bool) {
	i := skipSpace(j, 0)
	if i >= len(j) || j[i] != '{' {
		return "", "", false
	}
	i++
	var seenVersion, seenKind bool
	for n := 0; ; n++ {
		i = skipSpace(j, i)
		if i < len(j) && j[i] == '}' && n == 0 {
			return apiVersion, kind, true
		}
		key, next, ok := plainJSONString(j, i)
		if !ok {
			return "", "", false
		}
		i = skipSpace(j, next)
		if i >= len(j) || j[i] != ':' {
			return "", "", false
		}
		i = skipSpace(j, i+1)
		switch {
		case key == "apiVersion" || key == "kind":
			v, next, ok := plainJSONString(j, i)
			if !ok || key == "kind" && seenKind || key == "apiVersion" && seenVersion {
				return "", "", false
			}
			if key == "kind" {
				kind, seenKind = v, true
			} else {
				apiVersion, seenVersion = v, true
			}
			i = next
		case equalFoldASCII(key, "apiVersion") || equalFoldASCII(key, "kind"):
			return "", "", false // encoding/json matches field names case-insensitively
		default:
			if i, ok = skipValue(j, i); !ok {
				return "", "", false
			}
		}
		i = skipSpace(j, i)
		if i >= len(j) {
			return "", "", false
		}
		switch j[i] {
		case ',':
			i++
		case '}':
			return apiVersion, kind, true
		default:
			return "", "", false
		}
	}
}

func skipSpace(j []byte, i int) int {
	for i < len(j) && (j[i] == ' ' || j[i] == '\t' || j[i] == '\n' || j[i] == '\r') {
		i++
	}
	return i
}

// plainJSONString reads an ASCII string without escapes at i.
func plainJSONString(j []byte, i int) (string, int, bool) {
	if i >= len(j) || j[i] != '"' {
		return "", i, false
	}
	for k := i + 1; k < len(j); k++ {
		switch c := j[k]; {
		case c == '"':
			return string(j[i+1 : k]), k + 1, true
		case c == '\\' || c < ' ' || c >= 0x80: // escapes, and UTF-8 encoding/json may repair
			return "", i, false
		}
	}
	return "", i, false
}

// skipValue moves past the value at i: a string, an object or array
// (nested, strings inside skipped with their escapes), or a literal.
func skipValue(j []byte, i int) (int, bool) {
	if i >= len(j) {
		return i, false
	}
	switch j[i] {
	case '"':
		return skipString(j, i)
	case '{', '[':
		depth := 0
		for i < len(j) {
			switch j[i] {
			case '"':
				var ok bool
				if i, ok = skipString(j, i); !ok {
					return i, false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	default:
		start := i
		for i < len(j) && j[i] != ',' && j[i] != '}' && j[i] != ']' && j[i] != ' ' && j[i] != '\n' && j[i] != '\t' && j[i] != '\r' {
			i++
		}
		return i, i > start
	}
}

func skipString(j []byte, i int) (int, bool) {
	for k := i + 1; k < len(j); k++ {
		switch j[k] {
		case '\\':
			k++
		case '"':
			return k + 1, true
		}
	}
	return len(j), false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
