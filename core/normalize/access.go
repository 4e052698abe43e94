package normalize

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Kinds of the SMI objects, as they appear in model.ObjectRef.
const (
	KindTrafficTarget  = "TrafficTarget"
	KindTrafficSplit   = "TrafficSplit"
	KindHTTPRouteGroup = "HTTPRouteGroup"
	KindTCPRoute       = "TCPRoute"
	KindUDPRoute       = "UDPRoute"
)

// TargetRef is the model reference of a TrafficTarget.
func TargetRef(tt *accessv1alpha3.TrafficTarget) model.ObjectRef {
	return model.ObjectRef{Kind: KindTrafficTarget, Namespace: tt.Namespace, Name: tt.Name, Generation: tt.Generation}
}

// AccessKey is the reconcile key a TrafficTarget feeds: its destination
// identity. A TrafficTarget naming a destination in another namespace is
// keyed in its own namespace (same service account name), so that it can
// never touch the other namespace; Access reports it there.
func AccessKey(tt *accessv1alpha3.TrafficTarget) model.Key {
	return model.Key{Kind: model.KeyAccess, Namespace: tt.Namespace, Name: tt.Spec.Destination.Name}
}

// Access builds the access policy of one destination identity from the
// TrafficTargets keyed to it (AccessKey). The policy is never nil: with no
// valid grant it denies everything.
func Access(key model.Key, tts []*accessv1alpha3.TrafficTarget, l Source) (*model.AccessPolicy, model.Problems) {
	problems := model.Problems{}
	dest := model.Identity{Namespace: key.Namespace, Name: key.Name}
	pods := l.Pods(dest.Namespace)
	pol := &model.AccessPolicy{Destination: dest, Workloads: Workloads(dest, pods), Services: ServicesOf(dest, pods, l.Services(dest.Namespace))}
	for i := range pol.Services {
		pol.Services[i].SplitRoot = len(l.TrafficSplits(model.Key{Kind: model.KeySplit, Namespace: dest.Namespace, Name: pol.Services[i].Name})) > 0
	}
	sorted := slices.Clone(tts)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })

	grants := map[model.Identity]*model.Grant{}
	crossOnly := false
	for _, tt := range sorted {
		ref := TargetRef(tt)
		if AccessKey(tt) != key {
			continue
		}
		cross := tt.Spec.Destination.Namespace != "" && tt.Spec.Destination.Namespace != tt.Namespace
		crossOnly = (len(pol.From) == 0 || crossOnly) && cross
		pol.From = append(pol.From, ref)
		rules, sources := targetRules(tt, ref, l, problems)
		if len(rules) == 0 || len(sources) == 0 {
			continue
		}
		for _, src := range sources {
			g := grants[src]
			if g == nil {
				g = &model.Grant{Source: src}
				grants[src] = g
			}
			g.Rules = append(g.Rules, rules...)
			if !slices.Contains(g.From, ref) {
				g.From = append(g.From, ref)
			}
		}
	}
	for _, g := range grants {
		g.Rules = dedupeRules(g.Rules)
		pol.Grants = append(pol.Grants, *g)
	}
	sort.Slice(pol.Grants, func(i, j int) bool { return pol.Grants[i].Source.String() < pol.Grants[j].Source.String() })
	pol.CrossNamespaceOnly = crossOnly
	if !pol.Workloads.Exact {
		for _, ref := range pol.From {
			problems.Add(diag(ref, model.SeverityWarning, model.ReasonNotExact, nil, fmt.Sprintf(
				"some pods running as service account %s cannot be selected by labels without also selecting other pods; meshes that select by labels must fail closed for them", dest)))
		}
	}
	return pol, problems
}

// targetRules validates one TrafficTarget and returns the rules it grants and
// its sources. Anything invalid grants nothing.
func targetRules(tt *accessv1alpha3.TrafficTarget, ref model.ObjectRef, l Lookup, p model.Problems) ([]model.Rule, []model.Identity) {
	spec := field.NewPath("spec")
	dst := tt.Spec.Destination
	if dst.Kind != "ServiceAccount" {
		p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, spec.Child("destination", "kind"), fmt.Sprintf("Unsupported value: %q: supported values: \"ServiceAccount\"", dst.Kind)))
		return nil, nil
	}
	if dst.Namespace != "" && dst.Namespace != tt.Namespace {
		p.Add(diag(ref, model.SeverityError, model.ReasonCrossNamespace, spec.Child("destination", "namespace"), fmt.Sprintf(
			"a TrafficTarget in namespace %q may not grant access to a destination in namespace %q: create it in the destination's namespace", tt.Namespace, dst.Namespace)))
		return nil, nil
	}
	var destPort []int32
	if _, present := tt.Annotations[common.AnnotationDestinationPort]; present {
		port, ok := common.DestinationPort(tt.Annotations)
		if !ok {
			p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, field.NewPath("metadata", "annotations").Key(common.AnnotationDestinationPort),
				fmt.Sprintf("Invalid value: %q: must be a port number 1-65535; the TrafficTarget grants nothing", tt.Annotations[common.AnnotationDestinationPort])))
			return nil, nil
		}
		destPort = []int32{port}
	}
	var sources []model.Identity
	if len(tt.Spec.Sources) == 0 {
		p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, spec.Child("sources"), "Required value: at least one source is needed; this TrafficTarget grants nothing"))
	}
	for i, s := range tt.Spec.Sources {
		if s.Kind != "ServiceAccount" {
			p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, spec.Child("sources").Index(i).Child("kind"), fmt.Sprintf("Unsupported value: %q: supported values: \"ServiceAccount\"", s.Kind)))
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = tt.Namespace
		}
		id := model.Identity{Namespace: ns, Name: s.Name}
		if !slices.Contains(sources, id) {
			sources = append(sources, id)
		}
	}
	if len(tt.Spec.Rules) == 0 {
		p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, spec.Child("rules"), "Required value: at least one rule is needed; this TrafficTarget grants nothing"))
	}
	var rules []model.Rule
	for i, r := range tt.Spec.Rules {
		fld := spec.Child("rules").Index(i)
		switch r.Kind {
		case KindHTTPRouteGroup:
			rules = append(rules, httpRules(tt.Namespace, r, fld, destPort, ref, l, p)...)
		case KindTCPRoute, KindUDPRoute:
			rules = append(rules, portRules(tt.Namespace, r, fld, destPort, ref, l, p)...)
		default:
			p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, fld.Child("kind"), fmt.Sprintf("Unsupported value: %q", r.Kind)))
		}
	}
	return rules, sources
}

func httpRules(ns string, r accessv1alpha3.TrafficTargetRule, fld *field.Path, ports []int32, ref model.ObjectRef, l Lookup, p model.Problems) []model.Rule {
	hrg := l.HTTPRouteGroup(ns, r.Name)
	if hrg == nil {
		p.Add(diag(ref, model.SeverityError, model.ReasonRefNotFound, fld.Child("name"), fmt.Sprintf("HTTPRouteGroup %s/%s not found; the rule grants nothing", ns, r.Name)))
		return nil
	}
	routeRef := model.ObjectRef{Kind: KindHTTPRouteGroup, Namespace: ns, Name: r.Name, Generation: hrg.Generation}
	matches := hrg.Spec.Matches
	if len(r.Matches) > 0 {
		matches = nil
		for j, name := range r.Matches {
			idx := slices.IndexFunc(hrg.Spec.Matches, func(m specsMatch) bool { return m.Name == name })
			if idx < 0 {
				p.Add(diag(ref, model.SeverityError, model.ReasonRefNotFound, fld.Child("matches").Index(j), fmt.Sprintf("HTTPRouteGroup %s/%s has no match named %q; it grants nothing", ns, r.Name, name)))
				continue
			}
			matches = append(matches, hrg.Spec.Matches[idx])
		}
	} else if len(hrg.Spec.Matches) == 0 {
		p.Add(diag(ref, model.SeverityWarning, model.ReasonNoTraffic, fld, fmt.Sprintf("HTTPRouteGroup %s/%s has no matches; the rule grants nothing", ns, r.Name)))
	}
	var out []model.Rule
	for _, m := range matches {
		hm, errs, unsupported := HTTPMatch(m, field.NewPath("spec", "matches").Key(m.Name))
		if len(errs) > 0 {
			p.Add(diag(ref, model.SeverityError, model.ReasonInvalid, fld, fmt.Sprintf("HTTPRouteGroup %s/%s match %q is invalid (%s); it grants nothing", ns, r.Name, m.Name, errs.ToAggregate().Error())))
			continue
		}
		if len(unsupported) > 0 {
			p.Add(diag(ref, model.SeverityError, model.ReasonUnsupportedMatch, fld, fmt.Sprintf("HTTPRouteGroup %s/%s match %q cannot be written exactly (%s); it grants nothing (fail closed)", ns, r.Name, m.Name, unsupported.ToAggregate().Error())))
			continue
		}
		out = append(out, model.Rule{Protocol: model.ProtocolHTTP, Ports: slices.Clone(ports), HTTP: &hm, Route: routeRef, Match: m.Name})
	}
	return out
}

func portRules(ns string, r accessv1alpha3.TrafficTargetRule, fld *field.Path, destPort []int32, ref model.ObjectRef, l Lookup, p model.Problems) []model.Rule {
	var (
		gen     int64
		match   string
		ports   []int32
		proto   = model.ProtocolTCP
		present bool
	)
	if r.Kind == KindTCPRoute {
		if tr := l.TCPRoute(ns, r.Name); tr != nil {
			present, gen, match, ports = true, tr.Generation, tr.Spec.Matches.Name, tr.Spec.Matches.Ports
		}
	} else {
		proto = model.ProtocolUDP
		if ur := l.UDPRoute(ns, r.Name); ur != nil {
			present, gen, match, ports = true, ur.Generation, ur.Spec.Matches.Name, ur.Spec.Matches.Ports
		}
	}
	if !present {
		p.Add(diag(ref, model.SeverityError, model.ReasonRefNotFound, fld.Child("name"), fmt.Sprintf("%s %s/%s not found; the rule grants nothing", r.Kind, ns, r.Name)))
		return nil
	}
	for j, name := range r.Matches {
		if name != match {
			p.Add(diag(ref, model.SeverityError, model.ReasonRefNotFound, fld.Child("matches").Index(j), fmt.Sprintf("%s %s/%s has no match named %q; the rule grants nothing", r.Kind, ns, r.Name, name)))
			return nil
		}
	}
	ports = uniquePorts(ports)
	if len(destPort) > 0 {
		if len(ports) > 0 && !slices.Contains(ports, destPort[0]) {
			p.Add(diag(ref, model.SeverityWarning, model.ReasonNoTraffic, fld, fmt.Sprintf("destination port %d is not among %s %s's ports %v; the rule grants nothing", destPort[0], r.Kind, r.Name, ports)))
			return nil
		}
		ports = slices.Clone(destPort)
	}
	return []model.Rule{{Protocol: proto, Ports: ports, Route: model.ObjectRef{Kind: r.Kind, Namespace: ns, Name: r.Name, Generation: gen}, Match: match}}
}

func uniquePorts(in []int32) []int32 {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// dedupeRules sorts rules canonically and drops rules equal in meaning
// (same protocol, ports and match), keeping the first origin.
func dedupeRules(rules []model.Rule) []model.Rule {
	key := func(r model.Rule) string {
		ps := make([]string, len(r.Ports))
		for i, p := range r.Ports {
			ps[i] = fmt.Sprint(p)
		}
		return string(r.Protocol) + "|" + strings.Join(ps, ",") + "|" + httpMatchKey(r.HTTP)
	}
	sort.SliceStable(rules, func(i, j int) bool {
		ki, kj := key(rules[i]), key(rules[j])
		if ki != kj {
			return ki < kj
		}
		return rules[i].Route.String()+rules[i].Match < rules[j].Route.String()+rules[j].Match
	})
	out := rules[:0]
	for i, r := range rules {
		if i > 0 && key(r) == key(out[len(out)-1]) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Elsewhere fills each grant's Elsewhere: the identities of its source's
// name that exist now in other namespaces (Lookup.IdentityNamespaces), one
// lookup per source name.
func Elsewhere(pol *model.AccessPolicy, l Lookup) {
	found := map[string][]string{}
	for i := range pol.Grants {
		g := &pol.Grants[i]
		nss, ok := found[g.Source.Name]
		if !ok {
			nss = l.IdentityNamespaces(g.Source.Name)
			found[g.Source.Name] = nss
		}
		g.Elsewhere = nil
		for _, ns := range nss {
			if ns != g.Source.Namespace {
				g.Elsewhere = append(g.Elsewhere, model.Identity{Namespace: ns, Name: g.Source.Name})
			}
		}
		// The source's pods may register under other names: what else
		// those names stand for counts as much.
		g.SourceNames = RegisteredNames(g.Source, l.Pods(g.Source.Namespace))
		for _, n := range g.SourceNames {
			if n == g.Source.Name {
				continue
			}
			nss, ok := found[n]
			if !ok {
				nss = l.IdentityNamespaces(n)
				found[n] = nss
			}
			for _, ns := range nss {
				if id := (model.Identity{Namespace: ns, Name: n}); ns != g.Source.Namespace && !slices.Contains(g.Elsewhere, id) {
					g.Elsewhere = append(g.Elsewhere, id)
				}
			}
		}
	}
}
