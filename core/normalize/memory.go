package normalize

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Memory is a Source over a fixed set of objects (hub versions and core
// objects), for the offline translator and the tests.
type Memory struct {
	targets  []*accessv1alpha3.TrafficTarget
	splits   []*splitv1alpha4.TrafficSplit
	byAccess map[model.Key][]*accessv1alpha3.TrafficTarget
	bySplit  map[model.Key][]*splitv1alpha4.TrafficSplit
	groups   map[string]*specsv1alpha4.HTTPRouteGroup
	tcp      map[string]*specsv1alpha4.TCPRoute
	udp      map[string]*specsv1alpha4.UDPRoute
	services map[string]*corev1.Service
	svcByNS  map[string][]*corev1.Service
	pods     map[string][]*corev1.Pod
	allPods  []*corev1.Pod
	allSvcs  []*corev1.Service
}

var _ Source = (*Memory)(nil)

func nn(ns, name string) string { return ns + "/" + name }

// NewMemory indexes hub-version SMI objects, Services and Pods. Objects
// without a namespace are put in defaultNamespace.
func NewMemory(defaultNamespace string, objs ...runtime.Object) (*Memory, error) {
	m := &Memory{groups: map[string]*specsv1alpha4.HTTPRouteGroup{}, tcp: map[string]*specsv1alpha4.TCPRoute{},
		udp: map[string]*specsv1alpha4.UDPRoute{}, byAccess: map[model.Key][]*accessv1alpha3.TrafficTarget{},
		bySplit: map[model.Key][]*splitv1alpha4.TrafficSplit{}, services: map[string]*corev1.Service{}, svcByNS: map[string][]*corev1.Service{}, pods: map[string][]*corev1.Pod{}}
	for _, o := range objs {
		o = o.DeepCopyObject()
		if mo, ok := o.(interface {
			GetNamespace() string
			SetNamespace(string)
		}); ok && mo.GetNamespace() == "" {
			mo.SetNamespace(defaultNamespace)
		}
		switch v := o.(type) {
		case *accessv1alpha3.TrafficTarget:
			m.targets = append(m.targets, v)
			m.byAccess[AccessKey(v)] = append(m.byAccess[AccessKey(v)], v)
		case *splitv1alpha4.TrafficSplit:
			m.splits = append(m.splits, v)
			m.bySplit[SplitKey(v)] = append(m.bySplit[SplitKey(v)], v)
		case *specsv1alpha4.HTTPRouteGroup:
			m.groups[nn(v.Namespace, v.Name)] = v
		case *specsv1alpha4.TCPRoute:
			m.tcp[nn(v.Namespace, v.Name)] = v
		case *specsv1alpha4.UDPRoute:
			m.udp[nn(v.Namespace, v.Name)] = v
		case *corev1.Service:
			m.services[nn(v.Namespace, v.Name)] = v
			m.svcByNS[v.Namespace] = append(m.svcByNS[v.Namespace], v)
			m.allSvcs = append(m.allSvcs, v)
		case *corev1.Pod:
			m.pods[v.Namespace] = append(m.pods[v.Namespace], v)
			m.allPods = append(m.allPods, v)
		default:
			return nil, fmt.Errorf("unsupported object %T", o)
		}
	}
	return m, nil
}

// HTTPRouteGroup implements Lookup.
func (m *Memory) HTTPRouteGroup(ns, name string) *specsv1alpha4.HTTPRouteGroup {
	return m.groups[nn(ns, name)]
}

// TCPRoute implements Lookup.
func (m *Memory) TCPRoute(ns, name string) *specsv1alpha4.TCPRoute { return m.tcp[nn(ns, name)] }

// UDPRoute implements Lookup.
func (m *Memory) UDPRoute(ns, name string) *specsv1alpha4.UDPRoute { return m.udp[nn(ns, name)] }

// Service implements Lookup.
func (m *Memory) Service(ns, name string) *corev1.Service { return m.services[nn(ns, name)] }

// Services implements Lookup.
func (m *Memory) Services(ns string) []*corev1.Service {
	return m.svcByNS[ns]
}

// Pods implements Lookup.
func (m *Memory) Pods(ns string) []*corev1.Pod { return m.pods[ns] }

// IdentityNamespaces implements Lookup by scanning every pod and Service.
func (m *Memory) IdentityNamespaces(name string) []string {
	var out []string
	for _, p := range m.allPods {
		if slices.Contains(IdentityNames(p, nil), name) {
			out = append(out, p.Namespace)
		}
	}
	for _, s := range m.allSvcs {
		if s.Name == name {
			out = append(out, s.Namespace)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TrafficTargets implements Source.
func (m *Memory) TrafficTargets(key model.Key) []*accessv1alpha3.TrafficTarget {
	return m.byAccess[key]
}

// TrafficSplits implements Source.
func (m *Memory) TrafficSplits(key model.Key) []*splitv1alpha4.TrafficSplit {
	return m.bySplit[key]
}

// Keys lists every reconcile key the objects feed, sorted.
func (m *Memory) Keys() []model.Key {
	seen := map[model.Key]bool{}
	var keys []model.Key
	add := func(k model.Key) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, tt := range m.targets {
		add(AccessKey(tt))
	}
	for _, ts := range m.splits {
		add(SplitKey(ts))
	}
	for _, g := range m.groups {
		add(model.Key{Kind: model.KeyRoute, RouteKind: KindHTTPRouteGroup, Namespace: g.Namespace, Name: g.Name})
	}
	for _, r := range m.tcp {
		add(model.Key{Kind: model.KeyRoute, RouteKind: KindTCPRoute, Namespace: r.Namespace, Name: r.Name})
	}
	for _, r := range m.udp {
		add(model.Key{Kind: model.KeyRoute, RouteKind: KindUDPRoute, Namespace: r.Namespace, Name: r.Name})
	}
	SortKeys(keys)
	return keys
}
