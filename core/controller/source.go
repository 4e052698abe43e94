package controller

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// cacheSource answers normalize.Source from the informer cache for one
// reconcile. A read error other than NotFound is kept in err: the reconcile
// then writes nothing and retries, rather than acting on a partial view. Its
// lists hand out the cache's own objects, not copies (normalize only reads
// them: core/normalize TestBuildChangesNoInput); a caller that changes one
// must copy it first.
type cacheSource struct {
	ctx    context.Context
	r      client.Reader
	stores *stores // nil: every read goes through r
	err    error
}

// stores are the informers' own stores of the kinds normalize lists by
// namespace (every access key reads all Pods and Services of its
// namespace). The cache's List copies each object into the list it fills:
// for a namespace of 150 Services and 50 Pods about 180 KB per access
// reconcile, half of what the controller allocated under churn (Linkerd,
// 10,000 objects, docs/performance.md); a store hands out its pointers.
type stores struct {
	pods, services toolscache.Indexer
}

// newStores finds the stores behind the cache's Pod and Service informers;
// nil fields (an informer that is not a client-go SharedIndexInformer) fall
// back to the cache's List.
func newStores(ctx context.Context, c cache.Cache) (*stores, error) {
	s := &stores{}
	for _, k := range []struct {
		obj client.Object
		to  *toolscache.Indexer
	}{{&corev1.Pod{}, &s.pods}, {&corev1.Service{}, &s.services}} {
		inf, err := c.GetInformer(ctx, k.obj)
		if err != nil {
			return nil, fmt.Errorf("informer %T: %w", k.obj, err)
		}
		if si, ok := inf.(interface{ GetIndexer() toolscache.Indexer }); ok {
			*k.to = si.GetIndexer()
		}
	}
	return s, nil
}

// inNamespace lists namespace ns of store idx as T.
func inNamespace[T client.Object](s *cacheSource, idx toolscache.Indexer, ns string) []T {
	items, err := idx.ByIndex(toolscache.NamespaceIndex, ns)
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return nil
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		if o, ok := it.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

var _ normalize.Source = (*cacheSource)(nil)

func (s *cacheSource) get(ns, name string, obj client.Object) bool {
	err := s.r.Get(s.ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
	if err == nil {
		return true
	}
	if !apierrors.IsNotFound(err) && s.err == nil {
		s.err = err
	}
	return false
}

func (s *cacheSource) list(list client.ObjectList, opts ...client.ListOption) {
	if err := s.r.List(s.ctx, list, opts...); err != nil && s.err == nil {
		s.err = err
	}
}

func (s *cacheSource) HTTPRouteGroup(ns, name string) *specsv1alpha4.HTTPRouteGroup {
	o := &specsv1alpha4.HTTPRouteGroup{}
	if s.get(ns, name, o) {
		return o
	}
	return nil
}

func (s *cacheSource) TCPRoute(ns, name string) *specsv1alpha4.TCPRoute {
	o := &specsv1alpha4.TCPRoute{}
	if s.get(ns, name, o) {
		return o
	}
	return nil
}

func (s *cacheSource) UDPRoute(ns, name string) *specsv1alpha4.UDPRoute {
	o := &specsv1alpha4.UDPRoute{}
	if s.get(ns, name, o) {
		return o
	}
	return nil
}

func (s *cacheSource) Service(ns, name string) *corev1.Service {
	o := &corev1.Service{}
	if s.get(ns, name, o) {
		return o
	}
	return nil
}

func (s *cacheSource) Services(ns string) []*corev1.Service {
	if s.stores != nil && s.stores.services != nil {
		return inNamespace[*corev1.Service](s, s.stores.services, ns)
	}
	var l corev1.ServiceList
	s.list(&l, client.InNamespace(ns), client.UnsafeDisableDeepCopy)
	out := make([]*corev1.Service, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

func (s *cacheSource) Pods(ns string) []*corev1.Pod {
	if s.stores != nil && s.stores.pods != nil {
		return inNamespace[*corev1.Pod](s, s.stores.pods, ns)
	}
	var l corev1.PodList
	s.list(&l, client.InNamespace(ns), client.UnsafeDisableDeepCopy)
	out := make([]*corev1.Pod, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

// IdentityNamespaces answers from the cluster-wide identity index of pods
// and Services.
func (s *cacheSource) IdentityNamespaces(name string) []string {
	var pods corev1.PodList
	s.list(&pods, client.MatchingFields{indexIdentity: name}, client.UnsafeDisableDeepCopy)
	var svcs corev1.ServiceList
	s.list(&svcs, client.MatchingFields{indexIdentity: name}, client.UnsafeDisableDeepCopy)
	out := make([]string, 0, len(pods.Items)+len(svcs.Items))
	for i := range pods.Items {
		out = append(out, pods.Items[i].Namespace)
	}
	for i := range svcs.Items {
		out = append(out, svcs.Items[i].Namespace)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *cacheSource) TrafficTargets(key model.Key) []*accessv1alpha3.TrafficTarget {
	var l accessv1alpha3.TrafficTargetList
	s.list(&l, client.InNamespace(key.Namespace), client.MatchingFields{indexKey: key.String()}, client.UnsafeDisableDeepCopy)
	out := make([]*accessv1alpha3.TrafficTarget, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

func (s *cacheSource) TrafficSplits(key model.Key) []*splitv1alpha4.TrafficSplit {
	var l splitv1alpha4.TrafficSplitList
	s.list(&l, client.InNamespace(key.Namespace), client.MatchingFields{indexKey: key.String()}, client.UnsafeDisableDeepCopy)
	out := make([]*splitv1alpha4.TrafficSplit, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}
