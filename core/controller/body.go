package controller

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/smi-adapter/smi-adapter/core/backend"
)

// ownedDigest is the cached form of an object smi-adapter owns: its
// metadata and the digest of its body (backend.BodyDigestField).
func ownedDigest(u *unstructured.Unstructured) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion":            u.Object["apiVersion"],
		"kind":                  u.Object["kind"],
		"metadata":              u.Object["metadata"],
		backend.BodyDigestField: backend.BodyDigest(u.Object),
	}}
}
