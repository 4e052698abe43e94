package normalize

import (
	"sort"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Source is a Lookup that also finds the SMI objects keyed to a reconcile key.
type Source interface {
	Lookup
	// TrafficTargets returns the TrafficTargets whose AccessKey is key.
	TrafficTargets(key model.Key) []*accessv1alpha3.TrafficTarget
	// TrafficSplits returns the TrafficSplits whose SplitKey is key.
	TrafficSplits(key model.Key) []*splitv1alpha4.TrafficSplit
}

// Options add to the model what only some backends need.
type Options struct {
	// IdentitiesElsewhere fills model.Grant.Elsewhere (Lookup.IdentityNamespaces
	// per source name). The access slices then depend on the pods and
	// Services of every namespace, so only a backend that names sources
	// without their namespace (backend.NamespaceCollapser) asks for it: for
	// the others, pods elsewhere change neither digests nor reconciles.
	IdentitiesElsewhere bool
}

// Build computes the model slice of one key and the problems of the objects
// that feed it, with no Options.
func Build(key model.Key, s Source) (*model.Slice, model.Problems) {
	return Options{}.Build(key, s)
}

// Build computes the model slice of one key and the problems of the objects
// that feed it. It is what the controller runs per reconcile and what
// translate runs per key.
func (o Options) Build(key model.Key, s Source) (*model.Slice, model.Problems) {
	slice := &model.Slice{Key: key}
	switch key.Kind {
	case model.KeyAccess:
		tts := s.TrafficTargets(key)
		if len(tts) == 0 {
			return slice, model.Problems{}
		}
		pol, p := Access(key, tts, s)
		if o.IdentitiesElsewhere {
			Elsewhere(pol, s)
		}
		slice.Access = pol
		return slice, p
	case model.KeySplit:
		sp, p := Split(key, s.TrafficSplits(key), s)
		slice.Split = sp
		return slice, p
	case model.KeyRoute:
		switch key.RouteKind {
		case KindHTTPRouteGroup:
			if hrg := s.HTTPRouteGroup(key.Namespace, key.Name); hrg != nil {
				return slice, RouteGroup(hrg)
			}
		case KindTCPRoute:
			if r := s.TCPRoute(key.Namespace, key.Name); r != nil {
				return slice, PortRoute(KindTCPRoute, r.Namespace, r.Name, r.Generation, r.Spec.Matches)
			}
		case KindUDPRoute:
			if r := s.UDPRoute(key.Namespace, key.Name); r != nil {
				return slice, PortRoute(KindUDPRoute, r.Namespace, r.Name, r.Generation, r.Spec.Matches)
			}
		}
	}
	return slice, model.Problems{}
}

// SortKeys orders keys deterministically.
func SortKeys(keys []model.Key) {
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
}
