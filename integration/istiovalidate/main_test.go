package istiovalidate

import (
	"fmt"
	"os"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/regexsize"
	"github.com/smi-adapter/smi-adapter/integration/conformance/envoyjudge"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// re2 is RE2 itself (Envoy's engine), one oracle process for the run:
// envoyjudge asks it every safe_regex question, with the program size
// limit of the bootstrap istiod writes for its sidecars.
var re2 *harness.RE2

func TestMain(m *testing.M) {
	var err error
	if re2, err = harness.StartRE2(); err != nil {
		fmt.Fprintln(os.Stderr, "istiovalidate:", err)
		os.Exit(1)
	}
	envoyjudge.UseRE2(re2, regexsize.IstioProgramLimit)
	code := m.Run()
	_ = re2.Stop()
	os.Exit(code)
}
