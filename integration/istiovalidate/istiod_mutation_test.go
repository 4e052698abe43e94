package istiovalidate

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
)

// failingScenarios runs every scenario against j with conformance.Run's
// conventions (a denial where SMI allows is fail-closed when the backend
// reported something it could not express; inexpressible decisions are
// skipped) and returns the scenarios with a decision SMI does not make.
func failingScenarios(t *testing.T, j *istiodJudge) []string {
	t.Helper()
	scenarios, err := conformance.Load(scenarioDir)
	if err != nil {
		t.Fatal(err)
	}
	var failing []string
	for _, sc := range scenarios {
		objs, err := sc.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Load(objs); err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		closed := j.FailedClosed()
		var why []string
		for i, r := range sc.Access {
			got, err := j.Allowed(r)
			var inex *conformance.Inexpressible
			switch {
			case errors.As(err, &inex):
			case err != nil:
				why = append(why, fmt.Sprintf("access[%d] %s: %v", i, r, err))
			case got != r.Allow && !(r.Allow && len(closed) > 0):
				why = append(why, fmt.Sprintf("access[%d] %s: allowed=%v", i, r, got))
			}
		}
		for i, r := range sc.Split {
			got, err := j.Split(r)
			if err != nil || !conformance.SameRatios(got, r.Backends) {
				why = append(why, fmt.Sprintf("split[%d] %s: %v %v", i, r, got, err))
			}
		}
		if len(why) > 0 {
			failing = append(failing, sc.Name+": "+strings.Join(why, "; "))
		}
	}
	return failing
}

// rules is the rules list of an AuthorizationPolicy object (nil otherwise).
func rules(obj map[string]any) []any {
	if obj["kind"] != "AuthorizationPolicy" {
		return nil
	}
	spec, _ := obj["spec"].(map[string]any)
	rs, _ := spec["rules"].([]any)
	return rs
}

// TestIstiodJudgeBites: a wrong translation makes scenarios fail on
// istiod's output — narrowing (paths written exact instead of prefix),
// widening (header conditions dropped) and a split that ignores its matches.
// The unmutated translation passes every scenario (TestIstiodXDSConformance).
func TestIstiodJudgeBites(t *testing.T) {
	mutations := []struct {
		name   string
		mutate func(obj map[string]any)
	}{
		{"AuthorizationPolicy paths prefix /x* written exact /x", func(obj map[string]any) {
			for _, r := range rules(obj) {
				tos, _ := r.(map[string]any)["to"].([]any)
				for _, to := range tos {
					op, _ := to.(map[string]any)["operation"].(map[string]any)
					paths, _ := op["paths"].([]any)
					for i, p := range paths {
						if s, _ := p.(string); len(s) > 1 && strings.HasSuffix(s, "*") {
							paths[i] = strings.TrimSuffix(s, "*")
						}
					}
				}
			}
		}},
		{"AuthorizationPolicy when (header conditions) dropped", func(obj map[string]any) {
			for _, r := range rules(obj) {
				delete(r.(map[string]any), "when")
			}
		}},
		{"VirtualService matches other than the port dropped", func(obj map[string]any) {
			if obj["kind"] != "VirtualService" {
				return
			}
			spec, _ := obj["spec"].(map[string]any)
			routes, _ := spec["http"].([]any)
			for _, r := range routes {
				ms, _ := r.(map[string]any)["match"].([]any)
				for _, m := range ms {
					for k := range m.(map[string]any) {
						if k != "port" {
							delete(m.(map[string]any), k)
						}
					}
				}
			}
		}},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			j := &istiodJudge{t: t, Options: istio.Options{DefaultAccess: "deny"}, Mutate: m.mutate}
			defer j.Close()
			failing := failingScenarios(t, j)
			if len(failing) == 0 {
				t.Fatal("no scenario fails on istiod's output of the mutated translation")
			}
			t.Logf("%d scenarios fail:\n  %s", len(failing), strings.Join(failing, "\n  "))
		})
	}
}
