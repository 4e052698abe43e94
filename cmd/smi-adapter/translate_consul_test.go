package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestConsulFilesAreAcceptedByConsulConfigWrite: `translate --backend consul
// -o json --output-dir` writes files that a real agent's `consul config
// write` accepts, applied in the files' order, for every Consul fixture.
func TestConsulFilesAreAcceptedByConsulConfigWrite(t *testing.T) {
	agent, err := harness.StartConsul()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = agent.Stop() }()
	bin, err := harness.ConsulBinary()
	if err != nil {
		t.Fatal(err)
	}
	inputs, _ := filepath.Glob("../../adapters/consul/testdata/*.in.yaml")
	if len(inputs) == 0 {
		t.Fatal("no Consul fixtures")
	}
	for _, in := range inputs {
		t.Run(strings.TrimSuffix(filepath.Base(in), ".in.yaml"), func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			err := translate([]string{"--backend", "consul", "-o", "json", "--output-dir", dir, "-f", in}, nil, &stdout, &stderr)
			if err != nil && err != errInvalid {
				t.Fatalf("translate: %v\n%s", err, stderr.String())
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			golden, err := os.ReadFile(strings.TrimSuffix(in, ".in.yaml") + ".out.json")
			if err != nil {
				t.Fatal(err)
			}
			if none := bytes.Contains(golden, []byte(`"entries": null`)); none != (len(files) == 0) {
				t.Fatalf("%d files written, the golden file has entries: %v (%s)", len(files), !none, stderr.String())
			}
			for _, f := range files { // Glob sorts: the numbered apply order
				out, err := exec.Command(bin, "config", "write", "-http-addr="+agent.Addr, f).CombinedOutput()
				if err != nil {
					b, _ := os.ReadFile(f)
					t.Errorf("consul config write %s: %v\n%s\n%s", filepath.Base(f), err, out, b)
				}
			}
		})
	}
}
