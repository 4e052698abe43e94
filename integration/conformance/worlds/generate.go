package worlds

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/conversion"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/apis"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
)

// Generate is the world of seed: its first state and opts.Edits edits, each
// a scenario with the reference's decisions.
func Generate(seed uint64, opts Options) ([]conformance.Scenario, error) {
	w := newWorld(seed)
	var out []conformance.Scenario
	what := "the first state"
	for step := 0; step <= opts.Edits; step++ {
		if step > 0 {
			for range 8 {
				e := edits[w.r.IntN(len(edits))]
				if s, ok := e(w); ok {
					what = s
					break
				}
			}
		}
		objects, err := w.render()
		if err != nil {
			return nil, fmt.Errorf("world %d step %d: %w", seed, step, err)
		}
		access, split := w.requests(opts.Requests)
		out = append(out, conformance.Scenario{
			Name: fmt.Sprintf("world-%d-step-%d", seed, step), Rule: what,
			Objects: objects, Access: access, Split: split,
		})
	}
	return out, nil
}

// requests are up to n decisions, biased to what the world's rules and
// splits name so that both answers occur.
func (w *world) requests(n int) ([]conformance.AccessRequest, []conformance.SplitRequest) {
	var access []conformance.AccessRequest
	var split []conformance.SplitRequest
	seen := map[string]bool{}
	for range n * 2 {
		if len(access)+len(split) >= n {
			break
		}
		if len(w.splits) > 0 && w.chance(0.3) {
			r := w.splitRequest()
			if k := fmt.Sprintf("%+v", r); !seen[k] {
				seen[k] = true
				r.Backends = w.split(r)
				split = append(split, r)
			}
			continue
		}
		r := w.accessRequest()
		if k := fmt.Sprintf("%+v", r); !seen[k] {
			seen[k] = true
			r.Allow = w.allowed(r)
			access = append(access, r)
		}
	}
	return access, split
}

func (w *world) accessRequest() conformance.AccessRequest {
	var dst, src workload
	var t *accessv1alpha3.TrafficTarget
	if len(w.targets) > 0 && w.chance(0.8) {
		t = w.targets[w.r.IntN(len(w.targets))]
		for _, wl := range w.workloads {
			if wl.ns == t.Namespace && wl.sa == t.Spec.Destination.Name {
				dst = wl
			}
		}
		s := t.Spec.Sources[w.r.IntN(len(t.Spec.Sources))]
		ns := s.Namespace
		if ns == "" {
			ns = t.Namespace
		}
		src = workload{ns: ns, sa: s.Name}
		if w.chance(0.2) {
			src = w.workloads[w.r.IntN(len(w.workloads))]
		}
	} else {
		dst = w.workloads[w.r.IntN(len(w.workloads))]
		src = w.workloads[w.r.IntN(len(w.workloads))]
	}
	r := conformance.AccessRequest{From: src.ns + "/" + src.sa, To: dst.ns + "/" + dst.sa, Port: dst.ports[w.r.IntN(len(dst.ports))]}
	if w.chance(0.2) {
		r.Protocol = "TCP"
		return r
	}
	r.Method, r.Path = w.pick("GET", "POST", "DELETE", "PUT"), w.pick("/", "/api", "/admin/x", "/metrics")
	var smp *sample
	if t != nil && w.chance(0.85) {
		rule := t.Spec.Rules[w.r.IntN(len(t.Spec.Rules))]
		if g := w.group(t.Namespace, rule.Name); g != nil {
			m := g.Spec.Matches[w.r.IntN(len(g.Spec.Matches))]
			s := w.samples[g.Namespace+"/"+g.Name+"/"+m.Name]
			smp = &s
			if len(m.Methods) > 0 && m.Methods[0] != "*" && w.chance(0.85) {
				r.Method = m.Methods[w.r.IntN(len(m.Methods))]
			}
		}
	}
	w.fill(&r.Path, &r.Headers, smp)
	return r
}

// fill sets a path and headers from the sample (with another segment after
// it sometimes: SMI's path regex is anchored at the start only).
func (w *world) fill(path *string, headers *map[string]string, smp *sample) {
	if smp == nil {
		return
	}
	*path = smp.path(w.r)
	if !strings.HasPrefix(*path, "/") {
		*path = "/" + *path
	}
	if w.chance(0.3) {
		*path += w.pick("/more", "x", ".css", "/admin")
	}
	// Envoy's path normalization merges slashes; a path it would change is
	// not a request the judges decide.
	for strings.Contains(*path, "//") {
		*path = strings.ReplaceAll(*path, "//", "/")
	}
	if len(smp.header) > 0 {
		*headers = map[string]string{}
		names := make([]string, 0, len(smp.header))
		for h := range smp.header {
			names = append(names, h)
		}
		slices.Sort(names)
		for _, h := range names {
			if w.chance(0.9) {
				(*headers)[h] = smp.header[h](w.r)
			}
		}
	}
}

func (w *world) splitRequest() conformance.SplitRequest {
	s := w.splits[w.r.IntN(len(w.splits))]
	root := w.services[w.serviceIndex(s.Namespace, s.Spec.Service)]
	r := conformance.SplitRequest{Root: s.Namespace + "/" + root.Name, Port: root.Spec.Ports[w.r.IntN(len(root.Spec.Ports))].Port,
		Method: w.pick("GET", "POST"), Path: w.pick("/", "/api", "/beta")}
	if len(s.Spec.Matches) > 0 && w.chance(0.7) {
		if g := w.group(s.Namespace, s.Spec.Matches[0].Name); g != nil {
			m := g.Spec.Matches[w.r.IntN(len(g.Spec.Matches))]
			smp := w.samples[g.Namespace+"/"+g.Name+"/"+m.Name]
			if len(m.Methods) > 0 && m.Methods[0] != "*" {
				r.Method = m.Methods[0]
			}
			w.fill(&r.Path, &r.Headers, &smp)
		}
	}
	return r
}

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := apis.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// render writes the world as YAML, each SMI object in a version chosen at
// random among those that carry it exactly (its conversion back to the hub
// gives the same spec), Kubernetes objects as they are.
func (w *world) render() (string, error) {
	var objs []runtime.Object
	for _, p := range w.sortedPods() {
		objs = append(objs, p)
	}
	for _, s := range w.services {
		objs = append(objs, s)
	}
	for _, g := range w.groups {
		objs = append(objs, w.version(g))
	}
	for _, t := range w.tcps {
		objs = append(objs, w.version(t))
	}
	for _, t := range w.targets {
		objs = append(objs, w.version(t))
	}
	for _, s := range w.splits {
		objs = append(objs, w.version(s))
	}
	var docs []string
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return "", err
		}
		docs = append(docs, string(b))
	}
	return strings.Join(docs, "---\n"), nil
}

func (w *world) sortedPods() []*corev1.Pod {
	keys := make([]string, 0, len(w.pods))
	for k := range w.pods {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*corev1.Pod, len(keys))
	for i, k := range keys {
		out[i] = w.pods[k]
	}
	return out
}

// version is obj (a hub) in a random version of its kind that holds it
// exactly; the hub when none other does.
func (w *world) version(obj runtime.Object) runtime.Object {
	gvk := obj.GetObjectKind().GroupVersionKind()
	var versions []schema.GroupVersionKind
	for k := range scheme.AllKnownTypes() {
		if k.Group == gvk.Group && k.Kind == gvk.Kind && k.Version != gvk.Version {
			versions = append(versions, k)
		}
	}
	slices.SortFunc(versions, func(a, b schema.GroupVersionKind) int { return strings.Compare(a.Version, b.Version) })
	w.r.Shuffle(len(versions), func(i, j int) { versions[i], versions[j] = versions[j], versions[i] })
	for _, v := range versions {
		if w.chance(0.3) {
			break // the hub itself, often
		}
		spoke, err := apis.FromHub(scheme, obj.(conversion.Hub), v)
		if err != nil {
			continue
		}
		back, err := apis.ToHub(scheme, spoke.DeepCopyObject(), v)
		if err != nil {
			continue
		}
		if reflect.DeepEqual(specOf(back), specOf(obj)) && len(annotationsOf(spoke)) == 0 {
			return spoke
		}
	}
	return obj
}

// Stats count what generated worlds ask.
type Stats struct {
	Worlds, Steps, Access, Allowed, Split, Spread int
}

// Add counts one world's steps.
func (s *Stats) Add(steps []conformance.Scenario) {
	s.Worlds++
	for _, st := range steps {
		s.Steps++
		for _, r := range st.Access {
			s.Access++
			if r.Allow {
				s.Allowed++
			}
		}
		for _, r := range st.Split {
			s.Split++
			if len(r.Backends) > 1 || !strings.HasSuffix(r.Root, "/"+firstKey(r.Backends)) {
				s.Spread++
			}
		}
	}
}

func firstKey(m map[string]int64) string {
	for k := range m {
		return k
	}
	return ""
}

func (s Stats) String() string {
	return fmt.Sprintf("%d worlds, %d states (first states and edits): %d access decisions (%d allowed by SMI), %d split decisions (%d split off the root)",
		s.Worlds, s.Steps, s.Access, s.Allowed, s.Split, s.Spread)
}
