package normalize

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// RouteGroup validates an HTTPRouteGroup on its own: regexes RE2 accepts,
// known methods, unique match names (rules refer to matches by name).
func RouteGroup(hrg *specsv1alpha4.HTTPRouteGroup) model.Problems {
	p := model.Problems{}
	ref := model.ObjectRef{Kind: KindHTTPRouteGroup, Namespace: hrg.Namespace, Name: hrg.Name, Generation: hrg.Generation}
	seen := map[string]int{}
	for i, m := range hrg.Spec.Matches {
		fld := field.NewPath("spec", "matches").Index(i)
		_, errs, unsupported := HTTPMatch(m, fld)
		fieldErrors(p, ref, model.ReasonInvalid, errs)
		for _, e := range unsupported {
			// Valid SMI: the route is Accepted; the TrafficTargets and
			// TrafficSplits that use the match say that it grants or splits
			// nothing.
			p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityWarning, Reason: model.ReasonUnsupportedMatch, Field: e.Field,
				Message: e.ErrorBody() + "; rules and splits using this match grant and split nothing"})
		}
		if m.Name != "" {
			if j, dup := seen[m.Name]; dup {
				p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, fld.Child("name"), fmt.Sprintf("Duplicate value: %q is also the name of matches[%d]", m.Name, j)))
			}
			seen[m.Name] = i
		}
	}
	return p
}

// PortRoute validates a TCPRoute or UDPRoute's ports (the schema already
// bounds them; this catches duplicates).
func PortRoute(kind, namespace, name string, generation int64, m specsv1alpha4.PortMatch) model.Problems {
	p := model.Problems{}
	ref := model.ObjectRef{Kind: kind, Namespace: namespace, Name: name, Generation: generation}
	seen := map[int32]bool{}
	for i, port := range m.Ports {
		fld := field.NewPath("spec", "matches", "ports").Index(i)
		if port < 1 || port > 65535 {
			p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, fld, fmt.Sprintf("Invalid value: %d: must be 1-65535", port)))
		}
		if seen[port] {
			p.Add(diag(ref, model.SeverityWarning, model.ReasonInvalid, fld, fmt.Sprintf("Duplicate value: %d", port)))
		}
		seen[port] = true
	}
	return p
}
