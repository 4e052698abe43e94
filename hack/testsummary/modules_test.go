package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryModuleCounted: make test-modules runs and counts the tests of
// every module even when an earlier module's fail (they used to vanish from
// the summary: the shell stopped at the first failing go test), and still
// exits non-zero.
func TestEveryModuleCounted(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "testsummary"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build testsummary: %v\n%s", err, out)
	}
	// A go that fails the first module's test and passes the second's.
	fake := filepath.Join(bin, "fakego")
	script := `#!/bin/sh
case "$(basename "$PWD")" in
first) echo '{"Action":"fail","Package":"m/first","Test":"TestA"}'; echo '{"Action":"fail","Package":"m/first"}'; exit 1;;
second) echo '{"Action":"pass","Package":"m/second","Test":"TestB"}'; echo '{"Action":"pass","Package":"m/second"}';;
esac
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	mods := t.TempDir()
	for _, m := range []string{"first", "second"} {
		if err := os.Mkdir(filepath.Join(mods, m), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("make", "-s", "-C", "../..", "test-modules", "GO="+fake, "BIN="+bin,
		"TEST_MODULES="+filepath.Join(mods, "first")+" "+filepath.Join(mods, "second"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("make test-modules exited 0 with a failing test:\n%s", out)
	}
	if !strings.Contains(string(out), "tests: 1 passed, 1 failed, 0 skipped") {
		t.Errorf("the summary does not count both modules:\n%s", out)
	}
}
