package normalize_test

import (
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/randfill"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// world makes a random set of SMI objects whose names come from a tiny
// alphabet, so that references often resolve and often do not.
func world(data []byte) []runtime.Object {
	names := []string{"a", "b", "c"}
	nss := []string{"default", "other"}
	pick := func(c randfill.Continue, from []string) string { return from[c.Intn(len(from))] }
	f := randfill.NewFromGoFuzz(data).NilChance(0.1).NumElements(0, 3).Funcs(
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			m.Name, m.Namespace = pick(c, names), pick(c, nss)
		},
		func(s *accessv1alpha3.IdentityBindingSubject, c randfill.Continue) {
			s.Kind = pick(c, []string{"ServiceAccount", "ServiceAccount", "Group"})
			s.Name, s.Namespace = pick(c, names), pick(c, append(nss, ""))
		},
		func(r *accessv1alpha3.TrafficTargetRule, c randfill.Continue) {
			r.Kind = pick(c, []string{"HTTPRouteGroup", "TCPRoute", "UDPRoute"})
			r.Name = pick(c, names)
			c.Fill(&r.Matches)
			for i := range r.Matches {
				r.Matches[i] = pick(c, append(names, ""))
			}
		},
		func(m *specsv1alpha4.HTTPMatch, c randfill.Continue) {
			m.Name = pick(c, names)
			m.PathRegex = pick(c, []string{"", "/api", "/(", ".*", "/x$", "(?i)/A"})
			m.Methods = []string{pick(c, []string{"GET", "*", "POST", "FETCH"})}
			if c.Bool() {
				m.Headers = map[string]string{pick(c, []string{"x-a", "X-A", ""}): pick(c, []string{"1", "[", ".*"})}
			}
		},
		func(p *specsv1alpha4.PortMatch, c randfill.Continue) {
			p.Name = pick(c, names)
			for range c.Intn(3) {
				p.Ports = append(p.Ports, int32(c.Intn(5)+5430))
			}
		},
		func(b *splitv1alpha4.TrafficSplitBackend, c randfill.Continue) {
			b.Service, b.Weight = pick(c, names), c.Intn(4)
		},
		func(m *splitv1alpha4.TrafficSplitMatch, c randfill.Continue) {
			m.Kind, m.Name = "HTTPRouteGroup", pick(c, names)
		},
		func(s *corev1.Service, c randfill.Continue) {
			c.Fill(&s.ObjectMeta)
			s.Spec.Ports = []corev1.ServicePort{{Port: int32(80 + c.Intn(2))}}
		},
	)
	var objs []runtime.Object
	for range 3 {
		var tt accessv1alpha3.TrafficTarget
		f.Fill(&tt)
		objs = append(objs, &tt)
		var hrg specsv1alpha4.HTTPRouteGroup
		f.Fill(&hrg)
		objs = append(objs, &hrg)
		var tcp specsv1alpha4.TCPRoute
		f.Fill(&tcp)
		objs = append(objs, &tcp)
		var ts splitv1alpha4.TrafficSplit
		f.Fill(&ts)
		ts.Spec.Service = names[len(objs)%3]
		objs = append(objs, &ts)
		var svc corev1.Service
		f.Fill(&svc)
		objs = append(objs, &svc)
	}
	// Names are unique per kind and namespace, as in a cluster.
	seen := map[string]bool{}
	out := objs[:0]
	for _, o := range objs {
		m := o.(interface {
			GetNamespace() string
			GetName() string
		})
		k := reflect.TypeOf(o).String() + "/" + m.GetNamespace() + "/" + m.GetName()
		if !seen[k] {
			seen[k] = true
			out = append(out, o)
		}
	}
	return out
}

// FuzzNormalize: normalize never panics, is deterministic, and never grants
// more than the TrafficTargets say: every grant names a TrafficTarget of the
// destination's own namespace that lists the source.
func FuzzNormalize(f *testing.F) {
	f.Add([]byte("seed"))
	f.Add([]byte("a longer seed that fills more fields of the objects"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs := world(data)
		mem, err := normalize.NewMemory("default", objs...)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range mem.Keys() {
			s1, _ := normalize.Build(k, mem)
			s2, _ := normalize.Build(k, mem)
			if !reflect.DeepEqual(s1, s2) {
				t.Fatalf("%s: not deterministic", k)
			}
			if s1.Access == nil {
				continue
			}
			for _, g := range s1.Access.Grants {
				if len(g.Rules) == 0 {
					t.Fatalf("%s: grant without rules", k)
				}
				for _, ref := range g.From {
					if ref.Namespace != s1.Access.Destination.Namespace {
						t.Fatalf("%s: granted by %s from another namespace", k, ref)
					}
					var tt *accessv1alpha3.TrafficTarget
					for _, o := range objs {
						if x, ok := o.(*accessv1alpha3.TrafficTarget); ok && x.Namespace == ref.Namespace && x.Name == ref.Name && normalize.AccessKey(x) == k {
							tt = x
						}
					}
					if tt == nil {
						t.Fatalf("%s: grant from unknown %s", k, ref)
					}
					listed := slices.ContainsFunc(tt.Spec.Sources, func(s accessv1alpha3.IdentityBindingSubject) bool {
						ns := s.Namespace
						if ns == "" {
							ns = tt.Namespace
						}
						return s.Kind == "ServiceAccount" && (model.Identity{Namespace: ns, Name: s.Name}) == g.Source
					})
					if !listed && len(g.From) == 1 {
						t.Fatalf("%s: source %s is not listed by %s", k, g.Source, ref)
					}
				}
			}
		}
	})
}
