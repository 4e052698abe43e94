package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// BodyDigestField holds, in the informer cache, the digest of the body of a
// mesh object smi-adapter owns: the cache keeps such an object's metadata and
// this field in place of its spec (and every other top-level field but
// status). Deciding whether the object is up to date needs nothing more, and
// ten thousand VirtualServices then cost their metadata alone.
const BodyDigestField = "smi-adapter.io/body-digest"

// BodyDigest is the digest of obj's body: every top-level field but
// apiVersion, kind, metadata and status, as canonical JSON. An object as
// cached (with BodyDigestField) gives the digest it was cached with.
func BodyDigest(obj map[string]any) string {
	if d, ok := obj[BodyDigestField].(string); ok {
		return d
	}
	body := make(map[string]any, len(obj))
	for k, v := range obj {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
		default:
			body[k] = v
		}
	}
	b, err := json.Marshal(body) // sorted keys: canonical
	if err != nil {
		return "unencodable: " + err.Error() // never equal to a digest
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// ownedDigest is the cached form of an object smi-adapter owns: its
// metadata and the digest of its body.
func ownedDigest(u *unstructured.Unstructured) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion":    u.Object["apiVersion"],
		"kind":          u.Object["kind"],
		"metadata":      u.Object["metadata"],
		BodyDigestField: BodyDigest(u.Object),
	}}
}
