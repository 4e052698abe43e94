// Command testsummary reads `go test -json` on stdin, prints each package's
// result, the output of failed tests and of test binaries' own setup (e.g. the
// control plane start time), and closes with one line:
//
//	tests: N passed, N failed, N skipped
//
// It exits 1 if any test or package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	var passed, failed, skipped int
	pkgFailed := false
	outputs := map[string][]string{} // package/test -> output lines
	var failures []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	start := time.Now()
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Println(string(line)) // build errors and the like are not JSON
			continue
		}
		id := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if e.Test != "" {
				outputs[id] = append(outputs[id], e.Output)
				continue
			}
			out := strings.TrimRight(e.Output, "\n")
			if out == "" || out == "PASS" || out == "FAIL" || strings.HasPrefix(out, "ok ") || strings.HasPrefix(out, "FAIL\t") ||
				strings.HasPrefix(out, "?") || strings.HasPrefix(out, "testing: warning: no tests to run") {
				continue
			}
			fmt.Printf("%s: %s\n", e.Package, out)
		case "pass":
			if e.Test != "" {
				passed++
				delete(outputs, id)
			} else {
				fmt.Printf("ok   %s %.1fs\n", e.Package, e.Elapsed)
			}
		case "skip":
			if e.Test != "" {
				skipped++
				fmt.Printf("SKIP %s %s\n", e.Package, e.Test)
				delete(outputs, id)
			}
		case "fail":
			if e.Test != "" {
				failed++
				failures = append(failures, id)
			} else {
				pkgFailed = true
				fmt.Printf("FAIL %s %.1fs\n", e.Package, e.Elapsed)
				for k, lines := range outputs {
					if strings.HasPrefix(k, e.Package+" ") && !contains(failures, k) {
						failures = append(failures, k) // a test that never finished (panic, timeout)
						outputs[k] = lines
					}
				}
			}
		}
	}
	sort.Strings(failures)
	for _, id := range failures {
		fmt.Printf("\n--- FAIL: %s\n%s", id, strings.Join(outputs[id], ""))
	}
	fmt.Printf("\nwall time %s\n", time.Since(start).Round(time.Second))
	fmt.Printf("tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || pkgFailed {
		os.Exit(1)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
