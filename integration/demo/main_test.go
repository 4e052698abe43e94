package main

import "testing"

// TestDemo runs `make demo` for every backend, so the first thing a platform
// team runs keeps working.
func TestDemo(t *testing.T) {
	for _, b := range []string{"istio", "linkerd", "consul"} {
		t.Run(b, func(t *testing.T) {
			if err := run(b); err != nil {
				t.Fatal(err)
			}
		})
	}
}
