package consul

import "testing"

// TestRepresentable: the agent's own conversion (float32(h)/100 stored,
// int(weight*100) in float32 for Envoy) loses a hundredth for some weights;
// Representable names exactly those that survive.
func TestRepresentable(t *testing.T) {
	lost := 0
	for h := int64(0); h <= 10000; h++ {
		stored := float32(h) / 100.0 // NormalizeServiceSplitWeight
		envoy := int(stored * 100)   // agent/xds/routes.go
		if (int64(envoy) == h) != Representable(h) {
			t.Fatalf("Representable(%d) = %v, the agent gives Envoy %d", h, Representable(h), envoy)
		}
		if int64(envoy) != h {
			lost++
		}
	}
	if lost == 0 || Representable(7059) {
		t.Fatal("no weight loses a hundredth: the test checks nothing")
	}
	t.Logf("%d of 10001 weights reach Envoy one hundredth short", lost)
}

// TestHundredthsAreRepresentable: every split's hundredths sum to 10000 and
// each reaches Envoy as written.
func TestHundredthsAreRepresentable(t *testing.T) {
	for a := int64(0); a <= 400; a++ {
		for _, b := range []int64{1, 3, 7, 100, 2941, 7059, 9999} {
			for _, ws := range [][]int64{{a, b}, {a, b, 1}, {b, a, 0, 5}} {
				hs := Hundredths(ws)
				var sum int64
				for i, h := range hs {
					sum += h
					if !Representable(h) {
						t.Fatalf("Hundredths(%v) = %v: %d reaches Envoy as %d", ws, hs, h, h-1)
					}
					if ws[i] > 0 && h == 0 {
						t.Fatalf("Hundredths(%v) = %v: a positive weight gets nothing", ws, hs)
					}
				}
				if sum != 10000 && (a > 0 || b > 0) {
					t.Fatalf("Hundredths(%v) = %v sums to %d", ws, hs, sum)
				}
			}
		}
	}
}
