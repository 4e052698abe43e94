package kubesink

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxNameLength is the longest object name Kubernetes accepts for the
// objects smi-adapter writes (a DNS subdomain).
const MaxNameLength = 253

// ShortName returns name unchanged when it is short enough for an object,
// otherwise its first characters, a hyphen and 8 hexadecimal digits of its
// SHA-256: deterministic, distinct for distinct long names (up to the hash),
// and at most MaxNameLength long. Generated names grow from user names (a
// ServiceAccount's may be 253 characters long) and a suffix.
func ShortName(name string) string {
	if len(name) <= MaxNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	// A DNS label may not end with '.' or '-': trim them before the hash.
	return strings.TrimRight(name[:MaxNameLength-9], ".-") + "-" + hex.EncodeToString(sum[:4])
}
