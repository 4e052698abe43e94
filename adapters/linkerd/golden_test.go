package linkerd_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// render translates a fixture with the options its first line names, through
// the backend's own constructor (the settings users pass with --backend-opt).
func render(t *testing.T, file string) []byte {
	t.Helper()
	b, err := linkerd.New(backend.Options{Settings: testutil.FixtureOptions(t, file)})
	if err != nil {
		t.Fatal(err)
	}
	return testutil.Render(t, testutil.LoadMemory(t, file), b.(backend.Translator).Translate)
}

// TestGolden: testdata/<case>.in.yaml (SMI, Services, Pods) ->
// testdata/<case>.out.yaml (Linkerd objects and problems). -update rewrites.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.in.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			testutil.Golden(t, strings.TrimSuffix(file, ".in.yaml")+".out.yaml", render(t, file))
		})
	}
}
