package harness

import (
	"fmt"
	"os"
	"path/filepath"
)

// HelmVersion is the Helm client the chart's tests run (built by `make tools`).
const HelmVersion = "4.3.2"

// HelmBinary finds the helm client: $SMI_ADAPTER_HELM, else bin/ of the
// repository. Missing is an error that says how to build it.
func HelmBinary() (string, error) {
	path := os.Getenv("SMI_ADAPTER_HELM")
	if path == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		path = filepath.Join(root, "bin", "helm-"+HelmVersion, "helm")
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("helm missing at %s: run `make tools` (builds Helm %s from source): %w", path, HelmVersion, err)
	}
	return path, nil
}
