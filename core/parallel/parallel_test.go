package parallel

import (
	"errors"
	"fmt"
	"testing"
)

func TestMapKeepsOrder(t *testing.T) {
	in := make([]int, 1000)
	for i := range in {
		in[i] = i
	}
	out, errs := Map(in, func(i, v int) (string, error) {
		if v == 500 {
			return "", errors.New("five hundred")
		}
		return fmt.Sprint(v * 2), nil
	})
	for i := range in {
		if i == 500 {
			if errs[i] == nil {
				t.Error("error lost")
			}
			continue
		}
		if out[i] != fmt.Sprint(i*2) || errs[i] != nil {
			t.Fatalf("%d: %q %v", i, out[i], errs[i])
		}
	}
}
