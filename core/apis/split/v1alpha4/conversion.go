package v1alpha4

// LostMatches is what a TrafficSplit version without matches (v1alpha1,
// v1alpha2) cannot hold; it travels in common.AnnotationHubSpec.
type LostMatches struct {
	Matches []TrafficSplitMatch `json:"matches"`
}

// CopyMatches deep-copies a match list, keeping nil as nil.
func CopyMatches(in []TrafficSplitMatch) []TrafficSplitMatch {
	if in == nil {
		return nil
	}
	out := make([]TrafficSplitMatch, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}
