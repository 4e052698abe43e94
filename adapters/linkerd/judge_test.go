package linkerd_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd/api"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/linkerdjudge"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// goRegex answers for Linkerd's regex engine with Go's regexp: the
// translator writes only dialect-neutral regexes, which Go's regexp and
// Rust's regex crate read alike, and Go's leftmost-first match is Rust's.
// (The conformance suite asks Rust's crate itself.)
type goRegex struct{}

func (goRegex) Match(pattern string, inputs ...string) (bool, string, []harness.RustMatch, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return false, err.Error(), nil, nil
	}
	out := make([]harness.RustMatch, len(inputs))
	for i, in := range inputs {
		loc := re.FindStringIndex(in)
		out[i] = harness.RustMatch{Found: loc != nil, Whole: loc != nil && loc[0] == 0 && loc[1] == len(in)}
	}
	return true, "", out, nil
}

// world is a scenario's objects, what the Linkerd backend makes of them,
// Linkerd's judge of that, and SMI's reference (the model judge).
type world struct {
	objs     []runtime.Object
	linkerd  *linkerdjudge.Judge
	model    *conformance.ModelJudge
	written  []kubesink.Object
	problems model.Problems
}

// load decodes a scenario's objects (SMI YAML, Services, Pods) and loads
// both judges with them.
func load(t *testing.T, objects string, opts linkerd.Options) *world {
	t.Helper()
	objs, err := conformance.Scenario{Name: t.Name(), Objects: objects}.Decode()
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	w := &world{objs: objs, linkerd: &linkerdjudge.Judge{Regex: goRegex{}, DefaultInbound: "deny", Options: opts, StrictTies: true}, model: &conformance.ModelJudge{}, problems: model.Problems{}}
	if err := w.linkerd.Load(objs); err != nil {
		t.Fatalf("linkerd judge: %v", err)
	}
	if err := w.model.Load(objs); err != nil {
		t.Fatalf("model judge: %v", err)
	}
	if _, err := conformance.Translate(objs, false, func(s *model.Slice) ([]kubesink.Object, model.Problems) {
		r := linkerd.Translate(s, opts)
		w.written = append(w.written, r.Objects...)
		w.problems.Merge(r.Problems)
		return r.Objects, r.Problems
	}); err != nil {
		t.Fatal(err)
	}
	return w
}

// diagnostics are every diagnostic of the translation with reason.
func (w *world) diagnostics(reason string) []*model.Diagnostic {
	var out []*model.Diagnostic
	for ref := range w.problems {
		for _, d := range w.problems.Diagnostics(ref) {
			if d.Reason == reason {
				out = append(out, d)
			}
		}
	}
	return out
}

// hasDiagnostic says whether a diagnostic of reason mentions every text.
func (w *world) hasDiagnostic(reason string, texts ...string) bool {
	for _, d := range w.diagnostics(reason) {
		all := true
		for _, s := range texts {
			all = all && strings.Contains(d.Message, s)
		}
		if all {
			return true
		}
	}
	return false
}

// routes are the HTTPRoutes written.
func (w *world) routes() []*api.HTTPRoute {
	var out []*api.HTTPRoute
	for _, o := range w.written {
		if rt, ok := o.Obj.(*api.HTTPRoute); ok {
			out = append(out, rt)
		}
	}
	return out
}

func isAgeDependent(err error) (*linkerdjudge.AgeDependentError, bool) {
	var ad *linkerdjudge.AgeDependentError
	return ad, errors.As(err, &ad)
}
