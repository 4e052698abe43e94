package controller

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// TestSetMemoryLimit: the soft limit is MemoryLimitRatio of the container's
// limit; GOMEMLIMIT in the environment wins; no container limit, no soft limit.
func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const mi = 1 << 20
	t.Setenv("GOMEMLIMIT", "")
	got, err := SetMemoryLimit(logr.Discard(), memlimit.Limit(512*mi))
	if err != nil {
		t.Fatal(err)
	}
	ratio := MemoryLimitRatio
	if want := int64(float64(512*mi) * ratio); got != want || debug.SetMemoryLimit(-1) != want {
		t.Fatalf("512Mi container: GOMEMLIMIT %d (runtime %d), want %d", got, debug.SetMemoryLimit(-1), want)
	}
	if got, err := SetMemoryLimit(logr.Discard(), func() (uint64, error) { return 0, memlimit.ErrNoLimit }); err != nil || got != math.MaxInt64 {
		t.Fatalf("no container limit: GOMEMLIMIT %d, %v; want none (MaxInt64)", got, err)
	}
	debug.SetMemoryLimit(300 * mi)
	t.Setenv("GOMEMLIMIT", "300MiB")
	if got, _ := SetMemoryLimit(logr.Discard(), memlimit.Limit(512*mi)); got != 300*mi {
		t.Fatalf("GOMEMLIMIT=300MiB set: limit %d, want it kept (%d)", got, 300*mi)
	}
}
