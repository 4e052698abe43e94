package conformance_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// rust is Rust's regex crate (Linkerd's engine), one oracle process for the
// whole run: the Linkerd judges ask it every regex question.
var rust *harness.RustRegex

func TestMain(m *testing.M) {
	var err error
	if rust, err = harness.StartRustRegex(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = rust.Stop()
	os.Exit(code)
}
