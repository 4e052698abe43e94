package controller

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	ctx context.Context
	r   client.Reader
	err error
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
	var l corev1.ServiceList
	s.list(&l, client.InNamespace(ns), client.UnsafeDisableDeepCopy)
	out := make([]*corev1.Service, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

func (s *cacheSource) Pods(ns string) []*corev1.Pod {
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
