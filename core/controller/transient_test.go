package controller

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/go-multierror"

	"github.com/smi-adapter/smi-adapter/core/backend"
)

func TestTransient(t *testing.T) {
	stale := fmt.Errorf("%w: update VirtualService a/b: the object has been modified", backend.ErrTransient)
	real := errors.New("admission webhook denied the request")
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"none":               {nil, false},
		"one transient":      {stale, true},
		"wrapped":            {fmt.Errorf("istio: %w", stale), true},
		"all transient":      {multierror.Append(nil, stale, stale), true},
		"one real among":     {multierror.Append(nil, stale, real), false},
		"real":               {real, false},
		"wrapped multierror": {fmt.Errorf("sync: %w", multierror.Append(nil, stale, real)), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("%s: transient = %v, want %v", name, got, c.want)
		}
	}
}
