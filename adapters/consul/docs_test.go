package consul_test

import (
	"path/filepath"
	"testing"

	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// TestDocs renders docs/consul.md from docs.md.tmpl and the golden fixtures,
// so every example in it is output the code produced (-update rewrites it).
func TestDocs(t *testing.T) {
	testutil.Docs(t, "docs.md.tmpl", filepath.Join("..", "..", "docs", "consul.md"), func(file string) []byte { return render(t, file) })
}
