package harness

import (
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// RE2Version is the RE2 release the oracle is built against (Debian's
// libre2-dev 20220601). Envoy vendors its own, later RE2: program sizes
// may differ by a little there, so limits are checked with a bound.
const RE2Version = "20220601"

// RE2 is the oracle process of integration/tools/re2: RE2 itself, the
// engine Envoy compiles every safe_regex with (Istio, Consul), asked
// whether a pattern compiles, its program size, and what it full-matches.
// Safe for concurrent use; questions are answered one at a time.
type RE2 struct{ *lineOracle }

// RE2Binary finds the oracle `make tools` built: $SMI_ADAPTER_RE2 or
// bin/re2oracle-<version>/re2oracle. Missing is an error saying how to
// build it.
func RE2Binary() (string, error) {
	return toolBinary("SMI_ADAPTER_RE2", "re2oracle-"+RE2Version, "re2oracle", "the RE2 oracle")
}

// StartRE2 starts the oracle.
func StartRE2() (*RE2, error) {
	bin, err := RE2Binary()
	if err != nil {
		return nil, err
	}
	o, err := startLineOracle(bin)
	if err != nil {
		return nil, err
	}
	return &RE2{o}, nil
}

// Ask compiles pattern as Envoy does (re2::RE2(pattern, RE2::Quiet)) and
// full-matches each input (RE2::FullMatch). A pattern RE2 refuses gives
// compiled=false and RE2's error ("pattern too large - compile failed"
// past its memory budget); otherwise size is RE2::ProgramSize().
func (o *RE2) Ask(pattern string, inputs ...string) (compiled bool, refusal string, size int, full []bool, err error) {
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
		return false, "", 0, nil, fmt.Errorf("re2oracle: %w", err)
	}
	if !o.out.Scan() {
		return false, "", 0, nil, fmt.Errorf("re2oracle: no answer: %v", o.out.Err())
	}
	line := o.out.Text()
	switch {
	case strings.HasPrefix(line, "E "):
		msg, err := hex.DecodeString(line[2:])
		if err != nil {
			return false, "", 0, nil, fmt.Errorf("re2oracle: answer %q: %w", line, err)
		}
		return false, string(msg), 0, nil, nil
	case strings.HasPrefix(line, "M "):
		fields := strings.Fields(line)[1:]
		if len(fields) != len(inputs)+1 {
			return false, "", 0, nil, fmt.Errorf("re2oracle: %d answers for %d inputs", len(fields)-1, len(inputs))
		}
		if size, err = strconv.Atoi(fields[0]); err != nil {
			return false, "", 0, nil, fmt.Errorf("re2oracle: answer %q: %w", line, err)
		}
		full = make([]bool, len(inputs))
		for i, f := range fields[1:] {
			full[i] = f == "1"
		}
		return true, "", size, full, nil
	}
	return false, "", 0, nil, fmt.Errorf("re2oracle: answer %q", line)
}

// Compile is Ask without inputs: RE2::ProgramSize(), or RE2's refusal as
// an *RE2Refusal.
func (o *RE2) Compile(pattern string) (int, error) {
	ok, refusal, size, _, err := o.Ask(pattern)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, &RE2Refusal{Pattern: pattern, Message: refusal}
	}
	return size, nil
}

// FullMatch reports RE2::FullMatch(input, pattern); a pattern RE2 refuses
// is an *RE2Refusal.
func (o *RE2) FullMatch(pattern, input string) (bool, error) {
	ok, refusal, _, full, err := o.Ask(pattern, input)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, &RE2Refusal{Pattern: pattern, Message: refusal}
	}
	return full[0], nil
}

// RE2Refusal is RE2's error for a pattern it does not compile.
type RE2Refusal struct {
	Pattern string
	Message string
}

func (e *RE2Refusal) Error() string { return fmt.Sprintf("RE2 refuses %q: %s", e.Pattern, e.Message) }

// Refused tells RE2's refusal of the pattern from the oracle failing
// (envoyjudge.RegexEngine's contract).
func (e *RE2Refusal) Refused() bool { return true }

// Version is the libre2 package version the oracle was built against.
func (o *RE2) Version() (string, error) {
	bin, err := RE2Binary()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bin, "--version").Output()
	return strings.TrimSpace(string(out)), err
}
