package conformance_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/smi-adapter/smi-adapter/integration/conformance/linkerdjudge"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// rust is Rust's regex crate (Linkerd's engine), one oracle process for the
// whole run: the Linkerd judges ask it every regex question.
var rust *harness.RustRegex

// destination is Linkerd's own destination service on a control plane with
// Linkerd's CRDs, one for the whole run, started by the first test that
// needs it (linkerdDestination) and stopped when the run ends: the Linkerd
// judges ask it every ServiceProfile split. Fuzzing (access only) never
// starts it, so fuzz workers stay quick.
var (
	destination     *linkerdjudge.Destination
	destinationErr  error
	destinationOnce sync.Once
)

// linkerdDestination starts the run's destination service on first use.
// Failing to start fails the test: `make tools` builds the driver.
func linkerdDestination(t testing.TB) *linkerdjudge.Destination {
	t.Helper()
	destinationOnce.Do(func() {
		destination, destinationErr = linkerdjudge.StartDestination()
		if destinationErr == nil {
			fmt.Printf("linkerd: control plane with Linkerd's CRDs and Linkerd's destination service (linkerd2 %s) started in %s\n",
				harness.LinkerdDestinationVersion, destination.StartTime.Round(time.Millisecond))
		}
	})
	if destinationErr != nil {
		t.Fatal(destinationErr)
	}
	return destination
}

// lazyDestination is the run's destination service, started by the first
// GetProfile question rather than when a test is set up: under go test
// -fuzz the coordinator sets the fuzz target up but never runs its body, so
// only the worker that judges a world starts a control plane.
type lazyDestination struct{}

func (lazyDestination) start() (*linkerdjudge.Destination, error) {
	destinationOnce.Do(func() { destination, destinationErr = linkerdjudge.StartDestination() })
	return destination, destinationErr
}

// Apply implements linkerdjudge.ProfileSource.
func (l lazyDestination) Apply(objs []*unstructured.Unstructured) (int64, error) {
	d, err := l.start()
	if err != nil {
		return 0, err
	}
	return d.Apply(objs)
}

// GetProfile implements linkerdjudge.ProfileSource.
func (l lazyDestination) GetProfile(gen int64, path, token string) (*harness.LinkerdProfile, error) {
	d, err := l.start()
	if err != nil {
		return nil, err
	}
	return d.GetProfile(gen, path, token)
}

func TestMain(m *testing.M) {
	var err error
	if rust, err = harness.StartRustRegex(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = rust.Stop()
	if destination != nil {
		s := destination.Stats()
		fmt.Printf("linkerd: %d scenario states applied (%d objects), %d GetProfile answers judged, %d barrier polls (%s waiting for the destination service)\n",
			s.Applies, s.Objects, s.Profiles, s.BarrierPolls, s.BarrierTime.Round(time.Millisecond))
		if err := destination.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "conformance: stop linkerd destination:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
