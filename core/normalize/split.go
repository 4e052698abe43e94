package normalize

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// SplitRef is the model reference of a TrafficSplit.
func SplitRef(ts *splitv1alpha4.TrafficSplit) model.ObjectRef {
	return model.ObjectRef{Kind: KindTrafficSplit, Namespace: ts.Namespace, Name: ts.Name, Generation: ts.Generation}
}

// SplitKey is the reconcile key a TrafficSplit feeds: its root Service.
func SplitKey(ts *splitv1alpha4.TrafficSplit) model.Key {
	return model.Key{Kind: model.KeySplit, Namespace: ts.Namespace, Name: ts.Spec.Service}
}

// Split builds the split of one root Service from the TrafficSplits keyed to
// it. Splits do not nest and a root has at most one: the oldest TrafficSplit
// wins and the others are reported as Conflict. The result is nil when
// nothing is to be split (traffic stays on the root Service).
func Split(key model.Key, tss []*splitv1alpha4.TrafficSplit, l Lookup) (*model.Split, model.Problems) {
	problems := model.Problems{}
	var mine []*splitv1alpha4.TrafficSplit
	for _, ts := range tss {
		if SplitKey(ts) == key {
			mine = append(mine, ts)
		}
	}
	if len(mine) == 0 {
		return nil, problems
	}
	sort.Slice(mine, func(i, j int) bool {
		a, b := mine[i], mine[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	winner := mine[0]
	for _, ts := range mine[1:] {
		problems.Add(diag(SplitRef(ts), model.SeverityError, model.ReasonConflict, field.NewPath("spec", "service"), fmt.Sprintf(
			"TrafficSplit %s already splits Service %s (the oldest wins; splits do not nest)", winner.Name, key.Name)))
	}
	return splitOne(winner, l, problems), problems
}

func splitOne(ts *splitv1alpha4.TrafficSplit, l Lookup, p model.Problems) *model.Split {
	ref := SplitRef(ts)
	spec := field.NewPath("spec")
	rootSvc := l.Service(ts.Namespace, ts.Spec.Service)
	var root model.Service
	host := false
	switch {
	case rootSvc != nil:
		root = service(rootSvc)
		root.RegisteredNames = ServiceRegisteredNames(rootSvc, l.Pods(ts.Namespace))
	case isHost(ts.Spec.Service) && ts.Annotations[model.HintGateways] != "":
		// Flagger's service.hosts: a host its gateways serve, not a Service.
		root, host = model.Service{Namespace: ts.Namespace, Name: ts.Spec.Service}, true
	default:
		msg := fmt.Sprintf("Service %s/%s not found", ts.Namespace, ts.Spec.Service)
		if isHost(ts.Spec.Service) {
			msg += fmt.Sprintf(" (a host name is routed only with the gateways that serve it: annotation %s, Flagger's service.hosts with gateways, on Istio)", model.HintGateways)
		}
		p.Add(diag(ref, model.SeverityError, model.ReasonRefNotFound, spec.Child("service"), msg))
		return nil
	}
	out := &model.Split{Root: root, Host: host, From: ref, Hints: hints(ts.Annotations)}

	var matches []model.HTTPMatch
	for i, m := range ts.Spec.Matches {
		fld := spec.Child("matches").Index(i)
		if (m.APIGroup != nil && *m.APIGroup != "" && *m.APIGroup != specsv1alpha4.GroupVersion.Group) || m.Kind != KindHTTPRouteGroup {
			p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, fld, fmt.Sprintf("only HTTPRouteGroups of %s can be matched", specsv1alpha4.GroupVersion.Group)))
			return nil
		}
		hrg := l.HTTPRouteGroup(ts.Namespace, m.Name)
		if hrg == nil {
			p.Add(diag(ref, model.SeverityError, model.ReasonRefNotFound, fld.Child("name"), fmt.Sprintf(
				"HTTPRouteGroup %s/%s not found; nothing is split until it exists (traffic stays on the root Service)", ts.Namespace, m.Name)))
			return nil
		}
		for _, hm := range hrg.Spec.Matches {
			nm, errs, unsupported := HTTPMatch(hm, field.NewPath("spec", "matches").Key(hm.Name))
			if len(errs) > 0 {
				p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, fld, fmt.Sprintf(
					"HTTPRouteGroup %s match %q is invalid (%s); nothing is split", m.Name, hm.Name, errs.ToAggregate().Error())))
				return nil
			}
			if len(unsupported) > 0 {
				p.Add(diag(ref, model.SeverityError, model.ReasonUnsupportedMatch, fld, fmt.Sprintf(
					"HTTPRouteGroup %s match %q cannot be written exactly (%s); nothing is split (traffic stays on the root Service)", m.Name, hm.Name, unsupported.ToAggregate().Error())))
				return nil
			}
			if !slices.ContainsFunc(matches, func(x model.HTTPMatch) bool { return httpMatchKey(&x) == httpMatchKey(&nm) }) {
				matches = append(matches, nm)
			}
		}
	}
	if len(ts.Spec.Matches) > 0 {
		if len(matches) == 0 {
			p.Add(diag(ref, model.SeverityWarning, model.ReasonNoTraffic, spec.Child("matches"), "the matched HTTPRouteGroups have no matches: no request is split"))
			return nil
		}
		if slices.ContainsFunc(matches, func(m model.HTTPMatch) bool { return m.IsAll() }) {
			matches = nil // one match selects every request: the split applies to all
		}
		sort.Slice(matches, func(i, j int) bool { return httpMatchKey(&matches[i]) < httpMatchKey(&matches[j]) })
		out.Matches = matches
	}

	index := map[string]int{}
	for i, b := range ts.Spec.Backends {
		fld := spec.Child("backends").Index(i)
		svc := l.Service(ts.Namespace, b.Service)
		if svc == nil {
			p.Add(diag(ref, model.SeverityError, model.ReasonRefNotFound, fld.Child("service"), fmt.Sprintf("Service %s/%s not found; it gets no traffic", ts.Namespace, b.Service)))
			continue
		}
		if b.Weight < 0 {
			p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, fld.Child("weight"), "must be >= 0"))
			continue
		}
		be := service(svc)
		be.RegisteredNames = ServiceRegisteredNames(svc, l.Pods(ts.Namespace))
		if !host && !sharesPort(root, be) {
			p.Add(diag(ref, model.SeverityWarning, model.ReasonPortMismatch, fld.Child("service"), fmt.Sprintf(
				"Service %s exposes none of the root Service's ports %v; it gets no traffic", b.Service, portNumbers(root))))
			continue
		}
		if j, dup := index[b.Service]; dup {
			p.Add(diag(ref, model.SeverityWarning, model.ReasonInvalid, fld.Child("service"), fmt.Sprintf("Service %s is listed twice; its weights are added", b.Service)))
			out.Backends[j].Weight += int64(b.Weight)
			continue
		}
		index[b.Service] = len(out.Backends)
		out.Backends = append(out.Backends, model.Backend{Service: be, Weight: int64(b.Weight)})
	}
	var total int64
	g := new(big.Int)
	for _, b := range out.Backends {
		total += b.Weight
		g.GCD(nil, nil, g, big.NewInt(b.Weight))
	}
	if total == 0 {
		p.Add(diag(ref, model.SeverityWarning, model.ReasonNoTraffic, spec.Child("backends"), "no backend can take traffic (all weights are 0 or no backend is usable): traffic stays on the root Service"))
		return nil
	}
	if d := g.Int64(); d > 1 {
		for i := range out.Backends {
			out.Backends[i].Weight /= d
		}
	}
	sort.SliceStable(out.Backends, func(i, j int) bool { return out.Backends[i].Service.Name < out.Backends[j].Service.Name })
	return out
}

func service(s *corev1.Service) model.Service {
	out := model.Service{Namespace: s.Namespace, Name: s.Name}
	listed, annotated := serviceOpaque(s)
	for _, p := range s.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = "TCP"
		}
		sp := model.ServicePort{Name: p.Name, Port: p.Port, Protocol: proto}
		if p.TargetPort.String() != "0" {
			sp.TargetPort = p.TargetPort.String()
		}
		if p.AppProtocol != nil {
			sp.AppProtocol = *p.AppProtocol
		}
		sp.Opacity = opacity(listed, annotated, p.Port)
		out.Ports = append(out.Ports, sp)
	}
	sort.Slice(out.Ports, func(i, j int) bool {
		if out.Ports[i].Port != out.Ports[j].Port {
			return out.Ports[i].Port < out.Ports[j].Port
		}
		return out.Ports[i].Protocol < out.Ports[j].Protocol
	})
	return out
}

// isHost: a DNS name with a dot, which no Service name can be.
func isHost(s string) bool {
	return strings.Contains(s, ".") && len(validation.IsDNS1123Subdomain(s)) == 0
}

func sharesPort(root, be model.Service) bool {
	for _, rp := range root.Ports {
		for _, bp := range be.Ports {
			if rp.Port == bp.Port && rp.Protocol == bp.Protocol {
				return true
			}
		}
	}
	return false
}

func portNumbers(s model.Service) []int32 {
	out := make([]int32, len(s.Ports))
	for i, p := range s.Ports {
		out[i] = p.Port
	}
	return out
}

func hints(annotations map[string]string) map[string]string {
	var out map[string]string
	for k, v := range annotations {
		if strings.HasPrefix(k, "conversion.smi-adapter.io/") || strings.HasPrefix(k, "kubectl.kubernetes.io/") {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}
