package common

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// MaxWeight is the largest integer weight smi-adapter stores. Meshes take
// int32 weights, so anything above would need rounding downstream.
const MaxWeight = math.MaxInt32

// QuantitiesToWeights converts v1alpha1 Quantity weights to integers with
// exactly the same ratios: every value is scaled by the same power of ten, the
// smallest that makes all of them whole ("1" and "500m" become 1000 and 500).
// Whole numbers keep their value, so Flagger's 90/10 stays 90/10. If the scaled
// values would exceed MaxWeight they are divided by their greatest common
// divisor; if that is not enough the ratio cannot be kept and it is an error.
func QuantitiesToWeights(qs []resource.Quantity) ([]int, error) {
	maxScale := int32(0)
	decs := make([]*big.Int, len(qs))
	scales := make([]int32, len(qs))
	for i := range qs {
		d := qs[i].AsDec()
		if d.Sign() < 0 {
			return nil, fmt.Errorf("backends[%d].weight: %s is negative", i, qs[i].String())
		}
		decs[i] = new(big.Int).Set(d.UnscaledBig())
		scales[i] = int32(d.Scale())
		if scales[i] > maxScale {
			maxScale = scales[i]
		}
		if maxScale > 18 {
			return nil, fmt.Errorf("backends[%d].weight: %s is finer than 1e-18", i, qs[i].String())
		}
	}
	ten := big.NewInt(10)
	ints := make([]*big.Int, len(qs))
	gcd := new(big.Int)
	for i, u := range decs {
		exp := int64(maxScale - scales[i])
		if exp > 60 {
			return nil, fmt.Errorf("backends[%d].weight: %s cannot be kept in ratio with the others", i, qs[i].String())
		}
		v := new(big.Int).Mul(u, new(big.Int).Exp(ten, big.NewInt(exp), nil))
		ints[i] = v
		gcd.GCD(nil, nil, gcd, v)
	}
	limit := big.NewInt(MaxWeight)
	tooBig := false
	for _, v := range ints {
		if v.Cmp(limit) > 0 {
			tooBig = true
		}
	}
	out := make([]int, len(qs))
	for i, v := range ints {
		if tooBig && gcd.Sign() > 0 {
			v = new(big.Int).Quo(v, gcd)
		}
		if v.Cmp(limit) > 0 {
			return nil, fmt.Errorf("backends[%d].weight: the weights' ratio needs integers above %d", i, MaxWeight)
		}
		out[i] = int(v.Int64())
	}
	return out, nil
}

// EncodeWeightMemo records the exact Quantity strings next to the integers
// they were stored as, for AnnotationV1alpha1Weights. It returns "" when every
// Quantity reads back the same from its integer alone, so nothing needs remembering.
func EncodeWeightMemo(ints []int, qs []resource.Quantity) string {
	needed := false
	parts := make([]string, len(ints))
	for i := range ints {
		s := qs[i].String()
		if s != resource.NewQuantity(int64(ints[i]), resource.DecimalSI).String() {
			needed = true
		}
		parts[i] = strconv.Itoa(ints[i]) + "=" + s
	}
	if !needed {
		return ""
	}
	return strings.Join(parts, ",")
}

// DecodeWeightMemo returns the remembered Quantities if the memo still
// describes exactly these integer weights (nobody changed them since), else nil.
func DecodeWeightMemo(memo string, ints []int) []resource.Quantity {
	if memo == "" {
		return nil
	}
	parts := strings.Split(memo, ",")
	if len(parts) != len(ints) {
		return nil
	}
	out := make([]resource.Quantity, len(ints))
	for i, p := range parts {
		w, q, ok := strings.Cut(p, "=")
		if !ok || w != strconv.Itoa(ints[i]) {
			return nil
		}
		parsed, err := resource.ParseQuantity(q)
		if err != nil {
			return nil
		}
		out[i] = parsed
	}
	return out
}
