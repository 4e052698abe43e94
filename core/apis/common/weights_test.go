package common

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func qs(ss ...string) []resource.Quantity {
	out := make([]resource.Quantity, len(ss))
	for i, s := range ss {
		out[i] = resource.MustParse(s)
	}
	return out
}

func TestQuantitiesToWeightsKeepsRatios(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []int
	}{
		{[]string{"1", "500m"}, []int{1000, 500}},       // 2:1, the spec's example
		{[]string{"90", "10"}, []int{90, 10}},           // Flagger's integers unchanged
		{[]string{"0.5", "0.25"}, []int{50, 25}},        // decimal fractions
		{[]string{"1k", "1"}, []int{1000, 1}},           // SI suffixes
		{[]string{"0", "0"}, []int{0, 0}},               // all zero stays all zero
		{[]string{"1", "1n"}, []int{1000000000, 1}},     // nano
		{[]string{"3G", "1"}, []int{3000000000 / 1, 1}}, // above MaxWeight with gcd 1
		{[]string{"4G", "2G"}, []int{2, 1}},             // reduced by the gcd
	} {
		got, err := QuantitiesToWeights(qs(tc.in...))
		if tc.in[0] == "3G" {
			if err == nil {
				t.Errorf("%v: want an error, got %v", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.in, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestQuantitiesToWeightsRejectsNegative(t *testing.T) {
	if _, err := QuantitiesToWeights(qs("1", "-1")); err == nil {
		t.Fatal("negative weight accepted")
	}
}

func TestWeightMemo(t *testing.T) {
	q := qs("1", "500m")
	memo := EncodeWeightMemo([]int{1000, 500}, q)
	if memo != "1000=1,500=500m" {
		t.Fatalf("memo %q", memo)
	}
	if got := DecodeWeightMemo(memo, []int{1000, 500}); got == nil || got[1].String() != "500m" {
		t.Fatalf("decode %v", got)
	}
	if got := DecodeWeightMemo(memo, []int{900, 100}); got != nil {
		t.Fatal("stale memo used after the weights changed")
	}
	if EncodeWeightMemo([]int{90, 10}, qs("90", "10")) != "" {
		t.Fatal("memo written for plain integers")
	}
}
