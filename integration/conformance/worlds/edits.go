package worlds

import (
	"fmt"
	"slices"

	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// edit changes the world in one way and says how; false when it found
// nothing to change.
type edit func(w *world) (string, bool)

var edits = []edit{
	func(w *world) (string, bool) { // a weight changes (to 0 sometimes)
		if len(w.splits) == 0 {
			return "", false
		}
		s := w.splits[w.r.IntN(len(w.splits))]
		i := w.r.IntN(len(s.Spec.Backends))
		s.Spec.Backends[i].Weight = w.weight()
		return fmt.Sprintf("TrafficSplit %s/%s backend %s weighs %d", s.Namespace, s.Name, s.Spec.Backends[i].Service, s.Spec.Backends[i].Weight), true
	},
	func(w *world) (string, bool) { // a TrafficTarget is deleted
		if len(w.targets) == 0 {
			return "", false
		}
		i := w.r.IntN(len(w.targets))
		t := w.targets[i]
		w.targets = slices.Delete(w.targets, i, i+1)
		return fmt.Sprintf("TrafficTarget %s/%s deleted", t.Namespace, t.Name), true
	},
	func(w *world) (string, bool) { w.addTarget(); return "a TrafficTarget added", true },
	func(w *world) (string, bool) { // a source added or removed
		if len(w.targets) == 0 {
			return "", false
		}
		t := w.targets[w.r.IntN(len(w.targets))]
		if len(t.Spec.Sources) > 1 && w.chance(0.5) {
			t.Spec.Sources = t.Spec.Sources[1:]
			return fmt.Sprintf("TrafficTarget %s/%s loses a source", t.Namespace, t.Name), true
		}
		src := w.workloads[w.r.IntN(len(w.workloads))]
		t.Spec.Sources = append(t.Spec.Sources, t.Spec.Sources[0])
		t.Spec.Sources[len(t.Spec.Sources)-1].Name, t.Spec.Sources[len(t.Spec.Sources)-1].Namespace = src.sa, src.ns
		return fmt.Sprintf("TrafficTarget %s/%s gains source %s/%s", t.Namespace, t.Name, src.ns, src.sa), true
	},
	func(w *world) (string, bool) { // a match's regex changes
		if len(w.groups) == 0 {
			return "", false
		}
		g := w.groups[w.r.IntN(len(w.groups))]
		i := w.r.IntN(len(g.Spec.Matches))
		g.Spec.Matches[i] = w.match(g.Namespace, g.Name, g.Spec.Matches[i].Name)
		return fmt.Sprintf("HTTPRouteGroup %s/%s match %s rewritten", g.Namespace, g.Name, g.Spec.Matches[i].Name), true
	},
	func(w *world) (string, bool) { // a route group is deleted: rules naming it dangle
		if len(w.groups) == 0 {
			return "", false
		}
		i := w.r.IntN(len(w.groups))
		g := w.groups[i]
		w.groups = slices.Delete(w.groups, i, i+1)
		// Splits matching on it lose the match rather than dangle (a
		// dangling split match is a scenario of its own).
		for _, s := range w.splits {
			s.Spec.Matches = slices.DeleteFunc(s.Spec.Matches, func(m splitv1alpha4.TrafficSplitMatch) bool {
				return s.Namespace == g.Namespace && m.Name == g.Name
			})
		}
		return fmt.Sprintf("HTTPRouteGroup %s/%s deleted", g.Namespace, g.Name), true
	},
	func(w *world) (string, bool) { // a pod's opaque ports change
		wl := w.workloads[w.r.IntN(len(w.workloads))]
		p := w.pods[wl.ns+"/"+wl.sa]
		if _, ok := p.Annotations[annotOpaque]; ok {
			delete(p.Annotations, annotOpaque)
			return fmt.Sprintf("pod %s/%s has no opaque ports", p.Namespace, p.Name), true
		}
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[annotOpaque] = w.pick(intStrings(wl.ports)...)
		return fmt.Sprintf("pod %s/%s opaque ports %s", p.Namespace, p.Name, p.Annotations[annotOpaque]), true
	},
	func(w *world) (string, bool) { // a backend loses a port the root has
		for _, s := range w.splits {
			for _, b := range s.Spec.Backends {
				svc := w.services[w.serviceIndex(s.Namespace, b.Service)]
				if len(svc.Spec.Ports) > 1 {
					svc.Spec.Ports = svc.Spec.Ports[1:]
					return fmt.Sprintf("Service %s/%s loses a port", svc.Namespace, svc.Name), true
				}
			}
		}
		return "", false
	},
	func(w *world) (string, bool) { // a split is deleted or added
		if len(w.splits) > 0 && w.chance(0.5) {
			i := w.r.IntN(len(w.splits))
			s := w.splits[i]
			w.splits = slices.Delete(w.splits, i, i+1)
			return fmt.Sprintf("TrafficSplit %s/%s deleted", s.Namespace, s.Name), true
		}
		w.addSplit()
		return "a TrafficSplit added", true
	},
	func(w *world) (string, bool) { // a rule's match list changes
		if len(w.targets) == 0 {
			return "", false
		}
		t := w.targets[w.r.IntN(len(w.targets))]
		i := w.r.IntN(len(t.Spec.Rules))
		t.Spec.Rules[i] = w.rule(t.Namespace)
		return fmt.Sprintf("TrafficTarget %s/%s rule %d now names %s %s %v", t.Namespace, t.Name, i, t.Spec.Rules[i].Kind, t.Spec.Rules[i].Name, t.Spec.Rules[i].Matches), true
	},
}
