package weights

import (
	"fmt"
	"math/rand"
	"testing"
)

func TestScale(t *testing.T) {
	for _, c := range []struct {
		in    []int64
		total int64
		want  string
	}{
		{[]int64{1, 1, 1, 0}, 100, "[34 33 33 0]"},
		{[]int64{0, 0}, 100, "[0 0]"},
		{[]int64{1, 1000000}, 100, "[1 99]"},
		{[]int64{429497, 1}, 429496, "[429495 1]"},
	} {
		if got := fmt.Sprint(Scale(c.in, c.total)); got != c.want {
			t.Errorf("Scale(%v, %d) = %s, want %s", c.in, c.total, got, c.want)
		}
	}
}

func TestBounded(t *testing.T) {
	if got, exact := Bounded([]int64{90, 10}, 429496); fmt.Sprint(got) != "[9 1]" || !exact {
		t.Fatalf("%v %v", got, exact)
	}
	if got, exact := Bounded([]int64{429497, 1}, 429496); fmt.Sprint(got) != "[429495 1]" || exact {
		t.Fatalf("%v %v", got, exact)
	}
}

// TestBoundedProperties: on random weights the result never exceeds the
// bound, keeps zeros zero and positives positive, and sums to the bound
// whenever it is not exact.
func TestBoundedProperties(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		n := 1 + r.Intn(20)
		ws := make([]int64, n)
		for j := range ws {
			switch r.Intn(4) {
			case 0:
				ws[j] = 0
			case 1:
				ws[j] = r.Int63n(1 << 31)
			default:
				ws[j] = r.Int63n(1000)
			}
		}
		max := []int64{100, 10000, 429496, 1000000, 1<<31 - 1}[r.Intn(5)]
		out, exact := Bounded(ws, max)
		var sum int64
		for j, w := range out {
			sum += w
			if (ws[j] == 0) != (w == 0) && int64(n) <= max {
				t.Fatalf("Bounded(%v, %d) = %v: zero/positive not kept", ws, max, out)
			}
		}
		if sum > max || (!exact && sum != max && sum != 0) {
			t.Fatalf("Bounded(%v, %d) = %v (sum %d, exact %v)", ws, max, out, sum, exact)
		}
	}
}
