package v1alpha4

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
)

// LostHTTP is what an HTTPRouteGroup version without header matches cannot
// hold; it travels in common.AnnotationHubSpec while such a client has the object.
type LostHTTP struct {
	Matches []HTTPMatch `json:"matches"`
}

// LostTCP is what a TCPRoute version without port matches cannot hold.
type LostTCP struct {
	Matches PortMatch `json:"matches"`
}

// HasHeaders reports whether any match carries header matches.
func HasHeaders(ms []HTTPMatch) bool {
	for _, m := range ms {
		if len(m.Headers) > 0 {
			return true
		}
	}
	return false
}

// RestoreHeaders gives each match in ms the headers of the first unused saved
// match with the same name, path and methods. A match the client changed gets
// nothing back: its new meaning is the client's.
func RestoreHeaders(ms []HTTPMatch, saved []HTTPMatch) {
	used := make([]bool, len(saved))
	for i := range ms {
		for j := range saved {
			if used[j] || saved[j].Name != ms[i].Name || saved[j].PathRegex != ms[i].PathRegex ||
				!slices.Equal(saved[j].Methods, ms[i].Methods) {
				continue
			}
			used[j] = true
			if len(saved[j].Headers) > 0 {
				ms[i].Headers = saved[j].Headers.DeepCopy()
			}
			break
		}
	}
}

// TCPToHub fills a hub TCPRoute from an older version's metadata and status:
// those versions have no ports, so the ports of an object the client read come
// back from common.AnnotationHubSpec.
func TCPToHub(meta *metav1.ObjectMeta, status *common.Status, dst *TCPRoute) {
	dst.ObjectMeta = *meta.DeepCopy()
	dst.Status = *status.DeepCopy()
	dst.Spec = TCPRouteSpec{}
	var lost LostTCP
	if common.TakeHubSpec(&dst.Annotations, &lost) {
		dst.Spec.Matches = lost.Matches
	}
}

// TCPFromHub gives an older version's metadata and status for a hub TCPRoute,
// keeping its port matches in common.AnnotationHubSpec.
func TCPFromHub(src *TCPRoute, meta *metav1.ObjectMeta, status *common.Status) error {
	*meta = *src.ObjectMeta.DeepCopy()
	*status = *src.Status.DeepCopy()
	m := src.Spec.Matches
	return common.SaveHubSpec(&meta.Annotations, m.Name != "" || len(m.Ports) > 0, LostTCP{Matches: *m.DeepCopy()})
}
