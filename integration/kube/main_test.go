// Package kube_test runs smi-adapter against a real kube-apiserver and etcd:
// every SMI version through the conversion webhook, schema validation, and
// the controller's status conditions and Events.
package kube_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	smibackend "github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// recorder is a backend that remembers the last slice of every key and can
// be told to fail, to exercise Programmed=False.
type recorder struct {
	mu     sync.Mutex
	slices map[model.Key]*model.Slice
	syncs  map[model.Key]int
	fail   map[model.Key]error
}

var _ smibackend.Backend = (*recorder)(nil)

func (r *recorder) Name() string { return "recorder" }

func (r *recorder) Sync(_ context.Context, s *model.Slice) (model.Problems, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slices[s.Key] = s
	r.syncs[s.Key]++
	return nil, r.fail[s.Key]
}

func (r *recorder) last(k model.Key) (*model.Slice, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.slices[k], r.syncs[k]
}

func (r *recorder) setFail(k model.Key, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.fail, k)
	} else {
		r.fail[k] = err
	}
}

var (
	env     *harness.Env
	backend = &recorder{slices: map[model.Key]*model.Slice{}, syncs: map[model.Key]int{}, fail: map[model.Key]error{}}
)

func TestMain(m *testing.M) {
	var err error
	env, err = harness.Start(harness.Options{Backend: backend})
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		_ = env.Stop()
		os.Exit(1)
	}
	fmt.Printf("envtest: control plane with smi-adapter CRDs started in %s\n", env.StartTime.Round(1e6))
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
