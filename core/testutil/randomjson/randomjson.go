// Package randomjson makes random JSON-shaped values for tests that compare a
// fast path with its reference on values of every shape.
package randomjson

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
)

// Value is a random JSON-shaped value (nil, bool, string, json.Number,
// float64, []any, map[string]any) nested a few levels, its strings made of up
// to three atoms: for comparing a fast path with a reference on values of
// every shape.
func Value(r *rand.Rand, atoms []string) any { return randomValue(r, atoms, 0) }

func randomString(r *rand.Rand, atoms []string) string {
	var s strings.Builder
	for range r.IntN(4) {
		s.WriteString(atoms[r.IntN(len(atoms))])
	}
	return s.String()
}

func randomValue(r *rand.Rand, atoms []string, depth int) any {
	k := r.IntN(9)
	if depth > 4 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return randomString(r, atoms)
	case 3:
		b, _ := json.Marshal(r.Int64N(1<<40) - 1<<39)
		return json.Number(b)
	case 4:
		return r.Float64() * 1000
	case 5, 6:
		m := map[string]any{}
		for range r.IntN(5) {
			m[randomString(r, atoms)] = randomValue(r, atoms, depth+1)
		}
		return m
	default:
		s := []any{}
		for range r.IntN(4) {
			s = append(s, randomValue(r, atoms, depth+1))
		}
		return s
	}
}
