package harness

import (
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// RustRegexVersion is the version of Rust's regex crate the oracle is built
// with (Debian's librust-regex-dev). Linkerd runs a later 1.x (1.13.1 in its
// 2026 Cargo.lock): a pattern this one refuses may mean something else
// there, so a refusal means "never write this".
const RustRegexVersion = "1.7.1"

// RustRegex is the oracle process of integration/tools/rustregex: Rust's
// regex crate, the engine of Linkerd's proxy and policy controller, asked
// whether a pattern compiles and what it matches. Safe for concurrent use;
// questions are answered one at a time.
type RustRegex struct{ *lineOracle }

// RustMatch is Rust's answer for one input.
type RustMatch struct {
	// Found: Regex::is_match, the pattern occurs anywhere in the input.
	Found bool
	// Whole: the leftmost-first match spans the whole input, which is how
	// Linkerd's proxy full-matches a route's regex.
	Whole bool
}

// RustRegexBinary finds the oracle `make tools` built: $SMI_ADAPTER_RUSTREGEX
// or bin/rustregex-<version>/rustregex. Missing is an error saying how to
// build it.
func RustRegexBinary() (string, error) {
	return toolBinary("SMI_ADAPTER_RUSTREGEX", "rustregex-"+RustRegexVersion, "rustregex", "the Rust regex oracle")
}

// StartRustRegex starts the oracle.
func StartRustRegex() (*RustRegex, error) {
	bin, err := RustRegexBinary()
	if err != nil {
		return nil, err
	}
	o, err := startLineOracle(bin)
	if err != nil {
		return nil, err
	}
	return &RustRegex{o}, nil
}

// Match asks whether pattern compiles in Rust's regex and, if it does, what
// it makes of each input. A pattern Rust refuses gives compiled=false and
// Rust's message.
func (o *RustRegex) Match(pattern string, inputs ...string) (compiled bool, refusal string, matches []RustMatch, err error) {
	var b strings.Builder
	b.WriteString("Q ")
	b.WriteString(hexField(pattern))
	for _, in := range inputs {
		b.WriteByte(' ')
		b.WriteString(hexField(in))
	}
	b.WriteByte('\n')
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := io.WriteString(o.in, b.String()); err != nil {
		return false, "", nil, fmt.Errorf("rustregex: %w", err)
	}
	if !o.out.Scan() {
		return false, "", nil, fmt.Errorf("rustregex: no answer: %v", o.out.Err())
	}
	line := o.out.Text()
	switch {
	case strings.HasPrefix(line, "E "):
		msg, err := hex.DecodeString(line[2:])
		if err != nil {
			return false, "", nil, fmt.Errorf("rustregex: answer %q: %w", line, err)
		}
		return false, string(msg), nil, nil
	case line == "M" || strings.HasPrefix(line, "M "):
		fields := strings.Fields(line)[1:]
		if len(fields) != len(inputs) {
			return false, "", nil, fmt.Errorf("rustregex: %d answers for %d inputs", len(fields), len(inputs))
		}
		matches = make([]RustMatch, len(fields))
		for i, f := range fields {
			matches[i] = RustMatch{Found: f[0] == '1', Whole: f[1] == '1'}
		}
		return true, "", matches, nil
	}
	return false, "", nil, fmt.Errorf("rustregex: answer %q", line)
}

// hexField encodes one string of a question: hex, the empty one as "-".
func hexField(s string) string {
	if s == "" {
		return "-"
	}
	return hex.EncodeToString([]byte(s))
}

// Version is the regex crate version the oracle reports.
func (o *RustRegex) Version() (string, error) {
	bin, err := RustRegexBinary()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bin, "--version").Output()
	return strings.TrimSpace(string(out)), err
}
