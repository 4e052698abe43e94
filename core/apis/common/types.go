package common

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types written by smi-adapter on SMI objects (Gateway API conventions).
const (
	// ConditionAccepted is True when the object is valid and its references resolve.
	ConditionAccepted = "Accepted"
	// ConditionProgrammed is True once the backend has written the mesh resources.
	ConditionProgrammed = "Programmed"
)

// Status is the status block smi-adapter writes on every SMI object it reads.
type Status struct {
	// Conditions describe the state of the object as seen by smi-adapter.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// HTTPHeaders maps an HTTP header name to a regular expression its value must
// match. Several headers are AND-ed.
//
// Two wire forms exist: a map {name: regex} (the SMI spec text) and an array of
// one-entry maps [{name: regex}] (smi-sdk-go). Both decode; the map form is written.
// A name given twice in the array form is an error: AND-ing two regexes on one
// header cannot be written back as a map without loss.
type HTTPHeaders map[string]string

// UnmarshalJSON accepts the map form, the array-of-maps form, and null.
func (h *HTTPHeaders) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		*h = nil
		return nil
	}
	switch data[0] {
	case '{':
		m := map[string]string{}
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		*h = m
		return nil
	case '[':
		var list []map[string]string
		if err := json.Unmarshal(data, &list); err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		m := map[string]string{}
		for i, entry := range list {
			keys := make([]string, 0, len(entry))
			for k := range entry {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if prev, dup := m[k]; dup && prev != entry[k] {
					return fmt.Errorf("headers[%d]: header %q is given twice with different regexes", i, k)
				}
				m[k] = entry[k]
			}
		}
		*h = m
		return nil
	default:
		return fmt.Errorf("headers: want a map of header name to regex or a list of such maps, got %s", truncate(data))
	}
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// AnnotationDestinationPort keeps the destination port of an access v1alpha1 or
// v1alpha2 TrafficTarget on the stored (v1alpha3) object, which has no such field.
// The port restricts what the TrafficTarget grants, so dropping it on conversion
// would widen access: normalize reads it and confines every rule to that port.
const AnnotationDestinationPort = "conversion.smi-adapter.io/destination-port"

// AnnotationV1alpha1Weights keeps the exact v1alpha1 Quantity weights of a
// TrafficSplit next to the integers they were stored as, so that a v1alpha1
// client reads back the strings it wrote. Format: "<int>=<quantity>,…" in backend order.
const AnnotationV1alpha1Weights = "conversion.smi-adapter.io/v1alpha1-weights"

// AnnotationHubSpec keeps, on an object read in an older version, the parts of
// the stored (hub) spec that the older version cannot express (header matches,
// TCP ports, split matches). When that client writes the object back, they are
// restored, so an old client's round trip never silently widens a rule.
const AnnotationHubSpec = "conversion.smi-adapter.io/hub-spec"
