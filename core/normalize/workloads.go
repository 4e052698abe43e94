package normalize

import (
	"maps"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/smi-adapter/smi-adapter/core/model"
)

// perPodLabels differ between pods of one workload; a selector must not use them.
var perPodLabels = []string{
	"pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
	"apps.kubernetes.io/pod-index", "pod-template-generation", "batch.kubernetes.io/job-completion-index",
	"job-name", "batch.kubernetes.io/job-name", "controller-uid", "batch.kubernetes.io/controller-uid",
}

// Workloads finds label selectors that select exactly the pods running as id
// among the pods of its namespace. It first tries one selector (the labels all
// of them share); if that also selects pods of other identities, one selector
// per group of pods with the same stable labels (one per workload, in practice).
// Groups that cannot be selected exactly are left out and Exact is false.
func Workloads(id model.Identity, pods []*corev1.Pod) model.Workloads {
	var mine, others []*corev1.Pod
	for _, p := range pods {
		if p.Namespace != id.Namespace || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if serviceAccountOf(p) == id.Name {
			mine = append(mine, p)
		} else {
			others = append(others, p)
		}
	}
	out := model.Workloads{Exact: true, Pods: len(mine)}
	if len(mine) == 0 {
		return out
	}
	ports := map[model.ContainerPort]bool{}
	for _, p := range mine {
		listed, annotated := podOpaque(p)
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				proto := string(cp.Protocol)
				if proto == "" {
					proto = "TCP"
				}
				ports[model.ContainerPort{Name: cp.Name, Port: cp.ContainerPort, Protocol: proto, Opacity: opacity(listed, annotated, cp.ContainerPort)}] = true
			}
		}
	}
	out.Ports = slices.SortedFunc(maps.Keys(ports), func(a, b model.ContainerPort) int {
		if a.Port != b.Port {
			return int(a.Port - b.Port)
		}
		if a.Protocol != b.Protocol {
			return compare(a.Protocol, b.Protocol)
		}
		if a.Name != b.Name {
			return compare(a.Name, b.Name)
		}
		return compare(string(a.Opacity), string(b.Opacity))
	})

	out.Probes = probes(mine)
	out.ServiceNames = RegisteredNames(id, mine)
	if sel := sharedLabels(mine); len(sel) > 0 && !selectsAny(sel, others) {
		out.Selectors = []map[string]string{sel}
		return out
	}
	groups := map[string][]*corev1.Pod{}
	for _, p := range mine {
		k := labels.Set(stable(p.Labels)).String()
		groups[k] = append(groups[k], p)
	}
	keys := slices.Sorted(maps.Keys(groups))
	for _, k := range keys {
		sel := sharedLabels(groups[k])
		if len(sel) == 0 || selectsAny(sel, others) {
			out.Exact = false
			continue
		}
		out.Selectors = append(out.Selectors, sel)
	}
	sort.SliceStable(out.Selectors, func(i, j int) bool {
		return labels.Set(out.Selectors[i]).String() < labels.Set(out.Selectors[j]).String()
	})
	return out
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func serviceAccountOf(p *corev1.Pod) string {
	if p.Spec.ServiceAccountName == "" {
		return "default"
	}
	return p.Spec.ServiceAccountName
}

func stable(l map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		if !slices.Contains(perPodLabels, k) {
			out[k] = v
		}
	}
	return out
}

// sharedLabels returns the stable labels every pod shares.
func sharedLabels(pods []*corev1.Pod) map[string]string {
	var sel map[string]string
	for i, p := range pods {
		s := stable(p.Labels)
		if i == 0 {
			sel = s
			continue
		}
		for k, v := range sel {
			if s[k] != v {
				delete(sel, k)
			}
		}
	}
	return sel
}

// SharesSelectorLabel reports whether a and b share a label (key and value)
// that a selector chosen by Workloads may use. Only then can b's labels
// change the selectors of a's identity: a pod that shares none of them with
// an identity's pods is never selected by its selectors, and never makes
// them inexact.
func SharesSelectorLabel(a, b *corev1.Pod) bool {
	for k, v := range a.Labels {
		if w, ok := b.Labels[k]; ok && w == v && !slices.Contains(perPodLabels, k) {
			return true
		}
	}
	return false
}

// ServiceAccountOf is the identity a pod runs as ("default" when unset).
func ServiceAccountOf(p *corev1.Pod) string { return serviceAccountOf(p) }

func selectsAny(sel map[string]string, pods []*corev1.Pod) bool {
	for _, p := range pods {
		if selects(sel, p.Labels) {
			return true
		}
	}
	return false
}

// ServicesOf returns the Services (sorted by name) whose selector selects at
// least one pod running as id.
func ServicesOf(id model.Identity, pods []*corev1.Pod, services []*corev1.Service) []model.Service {
	var mine []map[string]string
	for _, p := range pods {
		if p.Namespace == id.Namespace && serviceAccountOf(p) == id.Name {
			mine = append(mine, p.Labels)
		}
	}
	var out []model.Service
	if len(mine) == 0 {
		return out
	}
	for _, svc := range services {
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		for _, l := range mine {
			if selects(svc.Spec.Selector, l) {
				out = append(out, service(svc))
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// probes collects the HTTP GET probes of the pods, with named ports resolved.
func probes(pods []*corev1.Pod) []model.Probe {
	seen := map[model.Probe]bool{}
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				if pr == nil || pr.HTTPGet == nil {
					continue
				}
				port := int32(pr.HTTPGet.Port.IntValue())
				if pr.HTTPGet.Port.Type == 1 { // a port name
					for _, cp := range c.Ports {
						if cp.Name == pr.HTTPGet.Port.StrVal {
							port = cp.ContainerPort
						}
					}
				}
				path := probePath(pr.HTTPGet.Path)
				if port > 0 {
					seen[model.Probe{Port: port, Path: path}] = true
				}
			}
		}
	}
	return slices.SortedFunc(maps.Keys(seen), func(a, b model.Probe) int {
		if a.Port != b.Port {
			return int(a.Port - b.Port)
		}
		return compare(a.Path, b.Path)
	})
}

// selects: a Service's selector (every key equal) selects a pod's labels;
// what labels.SelectorFromSet(selector).Matches says, without building a
// selector per Service and key.
func selects(selector, podLabels map[string]string) bool {
	for k, v := range selector {
		if l, ok := podLabels[k]; !ok || l != v {
			return false
		}
	}
	return true
}

// probePath is the path of the kubelet's probe request as a proxy sees it:
// the kubelet sends "/" for an empty path, puts a leading "/" before a
// relative one, and the query string is not part of the path a route
// matches.
func probePath(p string) string {
	p, _, _ = strings.Cut(p, "?")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}
