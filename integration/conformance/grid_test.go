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

// TestClosestOnSparseGrid: on a grid with holes the closest split avoids
// them at the least distance; on a full grid it is the largest remainder.
func TestClosestOnSparseGrid(t *testing.T) {
	all := func(int64) bool { return true }
	noOdd := func(w int64) bool { return w%2 == 0 }
	for _, c := range []struct {
		got, want map[string]int64
		rep       func(int64) bool
		ok        bool
	}{
		{map[string]int64{"a": 34, "b": 33, "c": 33}, map[string]int64{"a": 1, "b": 1, "c": 1}, all, true},
		{map[string]int64{"a": 35, "b": 33, "c": 32}, map[string]int64{"a": 1, "b": 1, "c": 1}, all, false},
		{map[string]int64{"a": 34, "b": 34, "c": 32}, map[string]int64{"a": 1, "b": 1, "c": 1}, noOdd, true},
		{map[string]int64{"a": 33, "b": 33, "c": 34}, map[string]int64{"a": 1, "b": 1, "c": 1}, noOdd, false}, // holes
		{map[string]int64{"a": 36, "b": 32, "c": 32}, map[string]int64{"a": 1, "b": 1, "c": 1}, noOdd, false}, // farther
		{map[string]int64{"a": 30, "b": 69}, map[string]int64{"a": 3, "b": 7}, all, false},                    // sums to 99
	} {
		if ok, why := ClosestOnSparseGrid(c.got, c.want, 100, c.rep); ok != c.ok {
			t.Errorf("ClosestOnSparseGrid(%v, %v) = %v (%s), want %v", c.got, c.want, ok, why, c.ok)
		}
	}
}
