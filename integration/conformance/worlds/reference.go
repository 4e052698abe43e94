package worlds

import (
	"regexp"
	"slices"
	"strings"

	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
)

// allowed is the reference's answer: what SMI says of the request in the
// world, read from the SMI objects as the specification words them — deny
// by default; a TrafficTarget grants its sources (namespace defaulting to
// the target's) its rules on its destination; a rule naming no matches
// grants every match of its group, a name the group lacks grants nothing, a
// missing route grants nothing; a TCPRoute grants its ports (all when none)
// to TCP and to HTTP, which runs over TCP; an HTTP match requires its path
// regex anchored at the start only, one of its methods ("*" any) and every
// header's regex matching the whole value.
func (w *world) allowed(r conformance.AccessRequest) bool {
	fromNS, fromSA, _ := strings.Cut(r.From, "/")
	toNS, toSA, _ := strings.Cut(r.To, "/")
	for _, t := range w.targets {
		if t.Namespace != toNS || t.Spec.Destination.Name != toSA {
			continue
		}
		if d := t.Spec.Destination.Namespace; d != "" && d != toNS {
			continue
		}
		if !slices.ContainsFunc(t.Spec.Sources, func(s accessSubject) bool {
			ns := s.Namespace
			if ns == "" {
				ns = t.Namespace
			}
			return ns == fromNS && s.Name == fromSA
		}) {
			continue
		}
		for _, rule := range t.Spec.Rules {
			switch rule.Kind {
			case "TCPRoute":
				for _, tr := range w.tcps {
					if tr.Namespace == toNS && tr.Name == rule.Name && r.Proto() != "UDP" &&
						(len(tr.Spec.Matches.Ports) == 0 || slices.Contains(tr.Spec.Matches.Ports, r.Port)) {
						return true
					}
				}
			case "HTTPRouteGroup":
				if r.Proto() != "HTTP" {
					continue
				}
				g := w.group(toNS, rule.Name)
				if g == nil {
					continue
				}
				for _, m := range g.Spec.Matches {
					if (len(rule.Matches) == 0 || slices.Contains(rule.Matches, m.Name)) && matches(m, r.Method, r.Path, r.Headers) {
						return true
					}
				}
			}
		}
	}
	return false
}

func (w *world) group(ns, name string) *specsv1alpha4.HTTPRouteGroup {
	for _, g := range w.groups {
		if g.Namespace == ns && g.Name == name {
			return g
		}
	}
	return nil
}

func matches(m specsv1alpha4.HTTPMatch, method, path string, headers map[string]string) bool {
	if m.PathRegex != "" && !regexp.MustCompile(`^(?:`+m.PathRegex+`)`).MatchString(path) {
		return false
	}
	if len(m.Methods) > 0 && !slices.Contains(m.Methods, "*") && !slices.Contains(m.Methods, method) {
		return false
	}
	for name, re := range m.Headers {
		v, ok := headers[strings.ToLower(name)]
		if !ok || !regexp.MustCompile(`^(?:`+re+`)$`).MatchString(v) {
			return false
		}
	}
	return true
}

// split is the reference's distribution of a request to a root: the root's
// TrafficSplit, if the request matches one of its groups' matches (or it has
// none), spreads it over its backends of positive weight that serve the
// request's port, by relative weight; otherwise (or with no such backend)
// it goes to the root.
func (w *world) split(r conformance.SplitRequest) map[string]int64 {
	ns, root, _ := strings.Cut(r.Root, "/")
	toRoot := map[string]int64{root: 1}
	s := w.splitOf(ns, root)
	if s == nil {
		return toRoot
	}
	if len(s.Spec.Matches) > 0 {
		hit := false
		for _, sm := range s.Spec.Matches {
			if g := w.group(ns, sm.Name); g != nil {
				for _, m := range g.Spec.Matches {
					hit = hit || matches(m, r.Method, r.Path, r.Headers)
				}
			}
		}
		if !hit {
			return toRoot
		}
	}
	out := map[string]int64{}
	for _, b := range s.Spec.Backends {
		i := w.serviceIndex(ns, b.Service)
		if b.Weight <= 0 || i < 0 {
			continue
		}
		if slices.ContainsFunc(w.services[i].Spec.Ports, func(p servicePort) bool { return p.Port == r.Port }) {
			out[b.Service] += int64(b.Weight)
		}
	}
	if len(out) == 0 {
		return toRoot
	}
	return out
}
