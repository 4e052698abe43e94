package regexsize_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// re2 is RE2 itself (Envoy's engine), one oracle process for the run.
var re2 *harness.RE2

func TestMain(m *testing.M) {
	var err error
	if re2, err = harness.StartRE2(); err != nil {
		fmt.Fprintln(os.Stderr, "regexsize:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = re2.Stop()
	os.Exit(code)
}
