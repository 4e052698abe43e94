// Package regexsize bounds, before a regex is written, what the meshes'
// regex engines will spend on it, so that the adapters fail closed instead
// of writing a regex a proxy refuses.
//
// Envoy (Istio, Consul) compiles a safe_regex with RE2 and refuses it, with
// the whole route configuration, when RE2::ProgramSize() exceeds the
// runtime value re2.max_program_size.error_level (istiod: 32768, Consul:
// 1048576) or when RE2 runs out of its own memory budget. Program size is
// not length: `/[^/]{1000}` five times is 60 characters and 40,009
// instructions. Linkerd compiles with Rust's regex crate, which refuses a
// program over its size limit (10 MiB by default).
//
// RE2ProgramSize replays RE2's compiler (parser rewrites, simplification,
// compilation to UTF-8 byte ranges, flattening) on Go's parse of the regex
// (RE2 syntax, as neutralregex.Print writes it) and is never below RE2's
// ProgramSize: where Go's parse cannot tell what RE2 saw it counts the
// larger reading. Judged against RE2 2022-06-01 (integration/regexsize) it
// is exact for nearly every regex, a few instructions over for the rest.
// RustProgramSize is a coarser upper bound (UTF-8 suffixes never shared)
// on the bytes Rust's regex crate 1.7 measures against its limit; apply it
// to neutralregex.Print's output, which Rust reads as RE2 does (Rust reads
// a raw \d \w \s or (?i) as Unicode, far larger).
package regexsize

import (
	"fmt"
	"regexp/syntax"
)

const (
	// IstioProgramLimit is re2.max_program_size.error_level in the
	// bootstrap istiod writes for every proxy.
	IstioProgramLimit = 32768
	// ConsulProgramLimit is re2.max_program_size.error_level in Consul's
	// Envoy bootstrap.
	ConsulProgramLimit = 1048576
	// RustSizeLimit is Rust's regex crate's default size limit, in bytes
	// (RegexBuilder::size_limit).
	RustSizeLimit = 10 << 20

	// RE2InstructionBudget bounds the instructions RE2 allocates while
	// compiling (before flattening). RE2 (default options) fails a forward
	// program over 698,996 instructions with "pattern too large - compile
	// failed" (re2MaxInst), and Envoy only ever full-matches
	// (RE2::FullMatch, anchored at both ends), which never compiles the
	// reverse program. The margin covers RE2 releases whose Prog is a
	// little larger than 2022-06-01's.
	RE2InstructionBudget = 690000
)

// TooLargeError says a regex is over an engine's limit.
type TooLargeError struct {
	Regex  string
	Engine string // "RE2" or "Rust regex"
	What   string // what was measured against Limit
	Size   int    // the estimate: an upper bound, or with Over a count past Limit
	Limit  int
	Over   bool // counting stopped past Limit
}

func (e *TooLargeError) Error() string {
	re := e.Regex
	if len(re) > maxQuoted {
		re = re[:maxQuoted] + "..."
	}
	if e.Over {
		return fmt.Sprintf("regex %q is too large for %s: %s are more than %d, the limit", re, e.Engine, e.What, e.Limit)
	}
	return fmt.Sprintf("regex %q is too large for %s: %s is up to %d, over the limit of %d", re, e.Engine, e.What, e.Size, e.Limit)
}

// maxQuoted bounds how much of the regex an error repeats.
const maxQuoted = 100

func parse(re string) (*syntax.Regexp, error) {
	return syntax.Parse(re, syntax.Perl)
}

// RE2Estimate is what RE2ProgramSize measured.
type RE2Estimate struct {
	// ProgramSize is never below RE2::ProgramSize(), the count of the
	// flattened program's instructions (when not OverBudget).
	ProgramSize int
	// Instructions is never below the instructions RE2 allocates while
	// compiling (before flattening), which its memory budget bounds.
	Instructions int
	// OverBudget: more than RE2InstructionBudget instructions. Counting
	// stopped there: ProgramSize and Instructions are lower figures then,
	// and Check refuses the regex.
	OverBudget bool
}

// RE2ProgramSize returns an upper bound of RE2::ProgramSize() for re, an
// RE2 regex, with RE2's default options (Envoy's). A regex Go's parser
// refuses is a *syntax.Error.
func RE2ProgramSize(re string) (RE2Estimate, error) {
	t, err := parse(re)
	if err != nil {
		return RE2Estimate{}, err
	}
	// Parsed again with every alternation branch marked (factor.go).
	if m := markBranches(re); m != "" {
		if mt, err := parse(m); err == nil {
			t = mt
		}
	}
	p := compileRE2(t, re, RE2InstructionBudget)
	e := RE2Estimate{ProgramSize: p.size, Instructions: p.peak, OverBudget: p.failed || p.visits > 2*RE2InstructionBudget}
	if e.OverBudget {
		e.ProgramSize = max(e.ProgramSize, p.peak)
		e.Instructions = max(e.Instructions, RE2InstructionBudget+1)
	} else if p.uncertain {
		// The replay may have left RE2's path: fall back to a bound that
		// does not depend on it (every instruction, and two Nops per
		// instruction at most, once flattened).
		e.ProgramSize = max(e.ProgramSize, 2*p.peak)
	}
	return e, nil
}

// Check returns nil when Envoy's RE2 compiles re within a program size of
// limit (IstioProgramLimit, ConsulProgramLimit) and within RE2's own
// budget; otherwise a *TooLargeError naming the size and the limit, or the
// parse error.
func Check(re string, limit int) error {
	e, err := RE2ProgramSize(re)
	if err != nil {
		return err
	}
	if e.OverBudget || e.Instructions > RE2InstructionBudget {
		return &TooLargeError{Regex: re, Engine: "RE2", What: "the instructions RE2 allocates compiling it", Size: e.Instructions,
			Limit: RE2InstructionBudget, Over: true}
	}
	if e.ProgramSize > limit {
		return &TooLargeError{Regex: re, Engine: "RE2", What: "its program size", Size: e.ProgramSize, Limit: limit}
	}
	return nil
}
