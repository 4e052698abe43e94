// Package weights turns a split's relative weights into what a mesh can
// carry: exact when it fits the mesh's bounds, otherwise the closest
// integers that do, by the largest-remainder method. Backends share it so
// that every mesh rounds the same way, and every approximation is reported.
package weights

import (
	"math/big"
	"sort"
)

// Reduce divides the weights by their greatest common divisor (all zero
// stays all zero).
func Reduce(ws []int64) []int64 {
	g := new(big.Int)
	for _, w := range ws {
		g.GCD(nil, nil, g, big.NewInt(w))
	}
	d := g.Int64()
	if d == 0 {
		d = 1
	}
	out := make([]int64, len(ws))
	for i, w := range ws {
		out[i] = w / d
	}
	return out
}

// Scale turns relative weights into integers that sum to exactly total, by
// the largest-remainder method, with two guarantees: a weight of 0 gets 0,
// and a positive weight gets at least 1 when there are no more positive
// weights than total (so 1,1,1,0 over 100 is 34,33,33,0, never 33,33,33,1).
// All zero stays all zero.
func Scale(ws []int64, total int64) []int64 {
	out := make([]int64, len(ws))
	sumIn := new(big.Int)
	positive := int64(0)
	for _, w := range ws {
		sumIn.Add(sumIn, big.NewInt(w))
		if w > 0 {
			positive++
		}
	}
	if sumIn.Sign() == 0 {
		return out
	}
	type rem struct {
		i int
		r *big.Rat
	}
	var rems []rem
	var sum int64
	for i, w := range ws {
		if w == 0 {
			continue
		}
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(w), big.NewInt(total)), sumIn)
		fl := new(big.Int).Quo(exact.Num(), exact.Denom())
		out[i] = fl.Int64()
		sum += out[i]
		rems = append(rems, rem{i, new(big.Rat).Sub(exact, new(big.Rat).SetInt(fl))})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r.Cmp(rems[b].r) > 0 })
	for k := 0; sum < total; k = (k + 1) % len(rems) {
		out[rems[k].i]++
		sum++
	}
	if positive > total {
		return out
	}
	// Every positive weight gets at least 1, taken from the largest shares.
	for i, w := range ws {
		if w > 0 && out[i] == 0 {
			out[i] = 1
			out[largest(out, i)]--
		}
	}
	return out
}

func largest(v []int64, except int) int {
	best := -1
	for i := range v {
		if i != except && (best < 0 || v[i] > v[best]) {
			best = i
		}
	}
	return best
}

// Bounded gives the weights a mesh can carry when each weight and their sum
// must stay at or below maxSum: the exact ratio (reduced by the gcd) when it
// fits, exact=true; otherwise the closest weights summing to maxSum, where a
// positive weight keeps at least 1.
func Bounded(ws []int64, maxSum int64) (out []int64, exact bool) {
	r := Reduce(ws)
	sum := new(big.Int)
	for _, w := range r {
		sum.Add(sum, big.NewInt(w))
	}
	if sum.Cmp(big.NewInt(maxSum)) <= 0 {
		return r, true
	}
	return Scale(r, maxSum), false
}
