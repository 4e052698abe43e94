package conformance

import "testing"

// TestClosestOnGrid: a split on a grid of 10000 (Consul) is the closest one
// or fails, however near.
func TestClosestOnGrid(t *testing.T) {
	thirds := map[string]int64{"a": 1, "b": 1, "c": 1}
	for _, c := range []struct {
		got, want map[string]int64
		ok        bool
	}{
		{map[string]int64{"a": 3334, "b": 3333, "c": 3333}, thirds, true},
		{map[string]int64{"a": 3333, "b": 3333, "c": 3334}, thirds, true}, // a tie either way
		{map[string]int64{"a": 3335, "b": 3332, "c": 3333}, thirds, false},
		{map[string]int64{"a": 3334, "b": 3333, "c": 3332}, thirds, false}, // sums to 9999
		{map[string]int64{"a": 6667, "b": 3333}, map[string]int64{"a": 2, "b": 1}, true},
		{map[string]int64{"a": 6666, "b": 3334}, map[string]int64{"a": 2, "b": 1}, false},   // b's remainder is smaller
		{map[string]int64{"a": 9999, "b": 1}, map[string]int64{"a": 1000000, "b": 1}, true}, // a positive weight keeps traffic
		{map[string]int64{"a": 10000}, map[string]int64{"a": 1000000, "b": 1}, false},
		{map[string]int64{"a": 10000, "z": 0}, map[string]int64{"a": 1, "z": 0}, true},
		{map[string]int64{"a": 9999, "z": 1}, map[string]int64{"a": 1, "z": 0}, false},
	} {
		if ok, why := ClosestOnGrid(c.got, c.want, 10000); ok != c.ok {
			t.Errorf("%v for %v: %v (%s), want %v", c.got, c.want, ok, why, c.ok)
		}
	}
}
