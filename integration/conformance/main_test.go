package conformance_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

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
