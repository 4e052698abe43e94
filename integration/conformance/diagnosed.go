package conformance

import (
	"k8s.io/apimachinery/pkg/runtime"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// objectKey is an SMI object as diagnostics name it, without generation.
type objectKey struct{ Kind, Namespace, Name string }

func keyOf(r model.ObjectRef) objectKey { return objectKey{r.Kind, r.Namespace, r.Name} }

// GrantingObjects are the SMI objects that state a rule for the request,
// read from the hub objects themselves (not from core's model): every
// TrafficTarget of the destination's namespace whose destination is r.To
// and whose sources include r.From, and the route objects its rules name.
// A mesh may deny what SMI allows only with a diagnostic on one of them.
func GrantingObjects(objs []runtime.Object, r AccessRequest) map[objectKey]bool {
	out := map[objectKey]bool{}
	fromNS, fromSA, _ := cutIdentity(r.From)
	toNS, toSA, _ := cutIdentity(r.To)
	for _, o := range objs {
		tt, ok := o.(*accessv1alpha3.TrafficTarget)
		if !ok || namespaceOr(tt.Namespace) != toNS {
			continue
		}
		d := tt.Spec.Destination
		if d.Name != toSA || (d.Namespace != "" && d.Namespace != toNS) {
			continue
		}
		source := false
		for _, s := range tt.Spec.Sources {
			ns := s.Namespace
			if ns == "" {
				ns = toNS
			}
			source = source || (s.Name == fromSA && ns == fromNS)
		}
		if !source {
			continue
		}
		out[objectKey{"TrafficTarget", toNS, tt.Name}] = true
		for _, rule := range tt.Spec.Rules {
			out[objectKey{rule.Kind, toNS, rule.Name}] = true
		}
	}
	return out
}

// SplittingObjects are the SMI objects that split the request's root: its
// TrafficSplits and the HTTPRouteGroups they match on.
func SplittingObjects(objs []runtime.Object, r SplitRequest) map[objectKey]bool {
	out := map[objectKey]bool{}
	ns, root, _ := cutIdentity(r.Root)
	for _, o := range objs {
		ts, ok := o.(*splitv1alpha4.TrafficSplit)
		if !ok || namespaceOr(ts.Namespace) != ns || ts.Spec.Service != root {
			continue
		}
		out[objectKey{"TrafficSplit", ns, ts.Name}] = true
		for _, m := range ts.Spec.Matches {
			out[objectKey{m.Kind, ns, m.Name}] = true
		}
	}
	return out
}

// diagnosedOn is the first diagnostic of ds on one of objects, nil if none.
func diagnosedOn(ds []*model.Diagnostic, objects map[objectKey]bool) *model.Diagnostic {
	for _, d := range ds {
		if objects[keyOf(d.Object)] {
			return d
		}
	}
	return nil
}

func cutIdentity(s string) (ns, name string, ok bool) {
	id, err := identity(s)
	return id.Namespace, id.Name, err == nil
}

func namespaceOr(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}
