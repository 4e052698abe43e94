// Command mutate measures the semantic judges by mutants: each hand-written
// mutant of mutants.yaml (one realistic bug, a single edit of an adapter or
// of core) is compiled in through go test -overlay, so the tree is never
// touched, and the judge suites it names run against it: the conformance
// judges, the generated worlds, istiod's and the Consul agent's own output.
// Golden files are not judges and are never run. A mutant no suite fails
// survived. The report (Markdown) lists every mutant, who killed it and the
// score; docs/conformance.md includes it.
//
//	go run ./hack/mutate -mutants hack/mutate/mutants.yaml -o integration/conformance/reports/mutants.md
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Suite is one go test run of semantic judges.
type Suite struct {
	// Module is the module's directory, relative to the repository root.
	Module   string   `json:"module"`
	Packages []string `json:"packages"`
	Run      string   `json:"run"`
}

// Mutant is one planted bug: Old (which must occur exactly once in File)
// becomes New.
type Mutant struct {
	Name   string   `json:"name"`
	File   string   `json:"file"`
	Old    string   `json:"old"`
	New    string   `json:"new"`
	Suites []string `json:"suites"`
	Class  string   `json:"class"`
}

// File is mutants.yaml.
type File struct {
	Suites  map[string][]Suite `json:"suites"`
	Mutants []Mutant           `json:"mutants"`
}

// Result is one mutant's verdict.
type Result struct {
	Mutant   Mutant
	KilledBy string // suite name and the first failing test; empty: survived
	Took     time.Duration
}

func main() {
	path := flag.String("mutants", "hack/mutate/mutants.yaml", "the mutants and judge suites")
	out := flag.String("o", "", "write the Markdown report here (default stdout)")
	only := flag.String("only", "", "run only mutants whose name contains this")
	flag.Parse()
	if err := run(*path, *out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func run(path, out, only string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var f File
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The suites must pass unmutated, or every mutant would look killed.
	empty := filepath.Join(tmp, "none.json")
	if err := os.WriteFile(empty, []byte(`{"Replace":{}}`), 0o644); err != nil {
		return err
	}
	names := make([]string, 0, len(f.Suites))
	for name := range f.Suites {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if by := runSuites(root, empty, name, f.Suites[name]); by != "" {
			return fmt.Errorf("suite %s fails without a mutant (%s)", name, by)
		}
	}
	var results []Result
	for i, m := range f.Mutants {
		if only != "" && !strings.Contains(m.Name, only) {
			continue
		}
		start := time.Now()
		r := Result{Mutant: m}
		overlay, err := plant(root, tmp, i, m)
		if err != nil {
			return fmt.Errorf("mutant %s: %w", m.Name, err)
		}
		for _, name := range m.Suites {
			suites, ok := f.Suites[name]
			if !ok {
				return fmt.Errorf("mutant %s: unknown suite %q", m.Name, name)
			}
			if by := runSuites(root, overlay, name, suites); by != "" {
				r.KilledBy = by
				break
			}
		}
		r.Took = time.Since(start)
		verdict := "SURVIVED"
		if r.KilledBy != "" {
			verdict = "killed by " + r.KilledBy
		}
		fmt.Fprintf(os.Stderr, "mutate: %s: %s (%s)\n", m.Name, verdict, r.Took.Round(time.Second))
		results = append(results, r)
	}
	report := render(results)
	if out == "" {
		_, err = os.Stdout.WriteString(report)
		return err
	}
	return os.WriteFile(out, []byte(report), 0o644)
}

// plant writes the mutated file and the overlay that compiles it in place
// of the original.
func plant(root, tmp string, i int, m Mutant) (string, error) {
	src := filepath.Join(root, m.File)
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if n := bytes.Count(b, []byte(m.Old)); n != 1 {
		return "", fmt.Errorf("%s holds %q %d times, want once (the mutant is stale)", m.File, m.Old, n)
	}
	mutated := filepath.Join(tmp, fmt.Sprintf("%d-%s", i, filepath.Base(m.File)))
	if err := os.WriteFile(mutated, bytes.Replace(b, []byte(m.Old), []byte(m.New), 1), 0o644); err != nil {
		return "", err
	}
	ov, err := json.Marshal(map[string]map[string]string{"Replace": {src: mutated}})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(tmp, fmt.Sprintf("%d-overlay.json", i))
	return overlay, os.WriteFile(overlay, ov, 0o644)
}

// runSuites runs a suite's test runs with the overlay and names the first
// failure ("" when every run passes). A run that does not build counts as a
// kill only when the compiler refuses the mutant itself.
func runSuites(root, overlay, name string, suites []Suite) string {
	for _, s := range suites {
		args := append([]string{"test", "-count=1", "-failfast", "-overlay", overlay, "-run", s.Run}, s.Packages...)
		cmd := exec.Command("go", args...)
		cmd.Dir = filepath.Join(root, s.Module)
		cmd.Env = os.Environ()
		outb, err := cmd.CombinedOutput()
		if err == nil {
			continue
		}
		return name + ": " + firstFailure(string(outb))
	}
	return ""
}

// firstFailure is the first failing test of go test's output.
func firstFailure(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(l), "--- FAIL: "); ok {
			if i := strings.Index(t, " ("); i > 0 {
				t = t[:i]
			}
			return "`" + t + "`"
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "build failed") || strings.HasPrefix(l, "#") {
			return "does not build"
		}
	}
	return "a failing run"
}

func render(results []Result) string {
	sort.SliceStable(results, func(i, j int) bool { return results[i].Mutant.Name < results[j].Mutant.Name })
	var b strings.Builder
	killed := 0
	for _, r := range results {
		if r.KilledBy != "" {
			killed++
		}
	}
	fmt.Fprintf(&b, "Hand-written mutants (`make mutate`, hack/mutate/mutants.yaml): **%d of %d killed by a semantic judge** (goldens never run).\n\n", killed, len(results))
	b.WriteString("| mutant | class | file | killed by |\n|---|---|---|---|\n")
	for _, r := range results {
		by := "**survived**"
		if r.KilledBy != "" {
			by = r.KilledBy
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Mutant.Name, r.Mutant.Class, r.Mutant.File, by)
	}
	return b.String()
}
