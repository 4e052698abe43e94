package linkerd_test

import (
	"path/filepath"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// TestDocs renders docs/linkerd.md from docs.md.tmpl and the golden fixtures, so
// every example in it is output the code produced (-update rewrites it).
func TestDocs(t *testing.T) {
	testutil.Docs(t, "docs.md.tmpl", filepath.Join("..", "..", "docs", "linkerd.md"), func(file string) []byte { return render(t, file) })
}
