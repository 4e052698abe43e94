package v1alpha4

import "slices"

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
