package controller

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// Field indexes on the informer cache.
const (
	indexKey      = "smi.key"      // TrafficTarget/TrafficSplit -> model.Key.String()
	indexRoutes   = "smi.routes"   // TrafficTarget/TrafficSplit -> "Kind/ns/name" of routes used
	indexServices = "smi.services" // TrafficSplit -> "ns/name" of root and backends
	// indexSources: TrafficTarget -> names of its ServiceAccount sources;
	// indexIdentity: Pod (not terminated) -> its service account and the
	// names of its consul-k8s connect-service annotation, Service -> its
	// name (normalize.IdentityNames). Together, cluster-wide, they find the
	// identities that share a source's name (backend.NamespaceCollapser).
	indexSources  = "smi.sourceNames"
	indexIdentity = "smi.identity"
)

func routeIndexValue(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// fieldIndex is one index of the SMI and core objects on the cache.
type fieldIndex struct {
	obj   client.Object
	field string
	fn    client.IndexerFunc
}

// setupIndexes registers the indexes, and elsewhereIndexes when elsewhere
// (otherwise every pod would carry an entry nothing reads).
func setupIndexes(ctx context.Context, fi client.FieldIndexer, elsewhere bool) error {
	all := indexes()
	if elsewhere {
		all = append(all, elsewhereIndexes()...)
	}
	for _, i := range all {
		if err := fi.IndexField(ctx, i.obj, i.field, i.fn); err != nil {
			return fmt.Errorf("index %T %s: %w", i.obj, i.field, err)
		}
	}
	return nil
}

func indexes() []fieldIndex {
	return []fieldIndex{
		{&accessv1alpha3.TrafficTarget{}, indexKey, func(o client.Object) []string {
			return []string{normalize.AccessKey(o.(*accessv1alpha3.TrafficTarget)).String()}
		}},
		{&accessv1alpha3.TrafficTarget{}, indexRoutes, func(o client.Object) []string {
			tt := o.(*accessv1alpha3.TrafficTarget)
			out := make([]string, 0, len(tt.Spec.Rules))
			for _, r := range tt.Spec.Rules {
				out = append(out, routeIndexValue(r.Kind, tt.Namespace, r.Name))
			}
			return out
		}},
		{&splitv1alpha4.TrafficSplit{}, indexKey, func(o client.Object) []string {
			return []string{normalize.SplitKey(o.(*splitv1alpha4.TrafficSplit)).String()}
		}},
		{&splitv1alpha4.TrafficSplit{}, indexRoutes, func(o client.Object) []string {
			ts := o.(*splitv1alpha4.TrafficSplit)
			out := make([]string, 0, len(ts.Spec.Matches))
			for _, m := range ts.Spec.Matches {
				out = append(out, routeIndexValue(m.Kind, ts.Namespace, m.Name))
			}
			return out
		}},
		{&splitv1alpha4.TrafficSplit{}, indexServices, func(o client.Object) []string {
			ts := o.(*splitv1alpha4.TrafficSplit)
			out := []string{ts.Namespace + "/" + ts.Spec.Service}
			for _, b := range ts.Spec.Backends {
				out = append(out, ts.Namespace+"/"+b.Service)
			}
			return out
		}},
	}
}

// elsewhereIndexes are the indexes normalize.Options.IdentitiesElsewhere
// reads (cacheSource.IdentityNamespaces, mapper.sourceNameKeys).
func elsewhereIndexes() []fieldIndex {
	return []fieldIndex{
		{&accessv1alpha3.TrafficTarget{}, indexSources, func(o client.Object) []string {
			tt := o.(*accessv1alpha3.TrafficTarget)
			out := make([]string, 0, len(tt.Spec.Sources))
			for _, s := range tt.Spec.Sources {
				if !slices.Contains(out, s.Name) {
					out = append(out, s.Name)
				}
			}
			return out
		}},
		{&corev1.Pod{}, indexIdentity, func(o client.Object) []string { return identityIndex(o.(*corev1.Pod), nil) }},
		{&corev1.Service{}, indexIdentity, func(o client.Object) []string { return identityIndex(nil, o.(*corev1.Service)) }},
	}
}

// identityIndex: the identity names a pod or Service makes exist.
func identityIndex(pod *corev1.Pod, svc *corev1.Service) []string {
	return normalize.IdentityNames(pod, svc)
}
