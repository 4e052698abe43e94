// Command crdconversion declares the conversion webhook on every generated CRD
// that serves more than one version. controller-gen writes the schemas; this
// adds `spec.conversion` (strategy Webhook, served by smi-adapter at /convert).
// It is idempotent: running it twice changes nothing.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const conversionBlock = `  conversion:
    strategy: Webhook
    webhook:
      clientConfig:
        service:
          name: smi-adapter-webhook
          namespace: smi-adapter-system
          path: /convert
          port: 443
      conversionReviewVersions:
      - v1
`

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: crdconversion DIR")
		os.Exit(2)
	}
	files, err := filepath.Glob(filepath.Join(os.Args[1], "*.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, f := range files {
		if err := process(f); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			os.Exit(1)
		}
	}
}

func process(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := string(raw)
	if strings.Contains(text, "\n  conversion:\n") {
		return nil
	}
	// controller-gen writes each version as "  - additionalPrinterColumns" or "  - name:" items
	// under "  versions:"; count the "    served: true" lines instead, one per version.
	if strings.Count(text, "\n    served: true\n") < 2 {
		return nil
	}
	const anchor = "\nspec:\n"
	i := strings.Index(text, anchor)
	if i < 0 {
		return fmt.Errorf("no top-level spec")
	}
	i += len(anchor)
	text = text[:i] + conversionBlock + text[i:]
	return os.WriteFile(path, []byte(text), 0o644)
}
