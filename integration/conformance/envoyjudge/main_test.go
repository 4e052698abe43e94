package envoyjudge

import (
	"fmt"
	"os"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/regexsize"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// re2 is RE2 itself (Envoy's engine), one oracle process for the run: the
// judge asks it every regex question, with istiod's program size limit.
var re2 *harness.RE2

var _ RegexEngine = (*harness.RE2)(nil)

func TestMain(m *testing.M) {
	var err error
	if re2, err = harness.StartRE2(); err != nil {
		// No oracle fails the run: a regex decided by anything else would
		// not be Envoy's answer.
		fmt.Fprintln(os.Stderr, "envoyjudge:", err)
		os.Exit(1)
	}
	UseRE2(re2, regexsize.IstioProgramLimit)
	code := m.Run()
	_ = re2.Stop()
	os.Exit(code)
}
