package istio

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/core/controller"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Name is the backend's registry name.
const Name = "istio"

// The kinds the Istio backend writes.
var (
	VirtualServiceGVK      = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}
	AuthorizationPolicyGVK = schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"}
)

// +kubebuilder:rbac:groups=networking.istio.io,resources=virtualservices,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=security.istio.io,resources=authorizationpolicies,verbs=get;list;watch;create;update;delete

// Backend programs Istio.
type Backend struct {
	opts Options
	c    client.Client
	sink *kubesink.Sink
}

var (
	_ controller.Backend    = (*Backend)(nil)
	_ controller.Watcher    = (*Backend)(nil)
	_ controller.Translator = (*Backend)(nil)
)

// Translate implements controller.Translator.
func (b *Backend) Translate(slice *model.Slice) ([]runtime.Object, model.Problems) {
	res := Translate(slice, b.opts)
	out := make([]runtime.Object, len(res.Objects))
	for i, o := range res.Objects {
		out[i] = o.Obj
	}
	return out, res.Problems
}

// New builds the Istio backend. Settings (--backend-opt): cluster-domain,
// trust-domain, identity (serviceAccounts|principals), weights (exact|percent),
// default-access (allow|deny), root-namespace.
func New(o controller.Options) (controller.Backend, error) {
	opts := Options{}
	for k, v := range o.Settings {
		switch k {
		case "cluster-domain":
			opts.ClusterDomain = v
		case "trust-domain":
			opts.TrustDomain = v
		case "identity":
			opts.Identity = v
		case "weights":
			opts.Weights = v
		case "default-access":
			opts.DefaultAccess = v
		case "root-namespace":
			opts.RootNamespace = v
		default:
			return nil, fmt.Errorf("unknown setting %q (known: cluster-domain, trust-domain, identity, weights, default-access, root-namespace)", k)
		}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Backend{opts: opts.withDefaults(), c: o.Client, sink: &kubesink.Sink{Client: o.Client, Kinds: []schema.GroupVersionKind{VirtualServiceGVK, AuthorizationPolicyGVK}}}, nil
}

// Name implements controller.Backend.
func (b *Backend) Name() string { return Name }

// Sync implements controller.Backend.
func (b *Backend) Sync(ctx context.Context, slice *model.Slice) (model.Problems, error) {
	res := Translate(slice, b.opts)
	if slice.Split != nil {
		if err := b.holdOnHostConflict(ctx, slice.Split, res); err != nil {
			return res.Problems, err
		}
	}
	p, _, err := b.sink.Apply(ctx, slice.Key, res.Objects)
	res.Problems.Merge(p)
	if err != nil {
		return res.Problems, fmt.Errorf("apply: %w", err)
	}
	return res.Problems, nil
}

// holdOnHostConflict: only one VirtualService may claim a host for the mesh
// (Istio merges several unpredictably). If a VirtualService smi-adapter does
// not own claims the root's host, ours is neither written nor removed, and
// the TrafficSplit says so.
func (b *Backend) holdOnHostConflict(ctx context.Context, sp *model.Split, res Result) error {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(VirtualServiceGVK.GroupVersion().WithKind("VirtualServiceList"))
	// Only foreign VirtualServices matter, read from the cache without copies
	// (the loop below only reads them): this runs for every split.
	if err := b.c.List(ctx, list, client.MatchingLabelsSelector{Selector: foreignSelector}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list VirtualServices: %w", err)
	}
	names := hostNames(sp.Root, b.opts)
	for i := range list.Items {
		vs := &list.Items[i]
		if kubesink.Owned(vs) {
			continue
		}
		hosts, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "hosts")
		for _, h := range hosts {
			if slices.Contains(names, h) || (vs.GetNamespace() == sp.Root.Namespace && h == sp.Root.Name) {
				for j := range res.Objects {
					if res.Objects[j].Obj.GetObjectKind().GroupVersionKind().Kind == "VirtualService" {
						res.Objects[j].Hold = true
					}
				}
				res.Problems.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: kubesink.ReasonConflict, Message: fmt.Sprintf(
					"VirtualService %s/%s (not managed by smi-adapter) already routes host %s; Istio cannot merge two VirtualServices for one host, so smi-adapter leaves the routing to it",
					vs.GetNamespace(), vs.GetName(), h)})
				return nil
			}
		}
	}
	return nil
}

var foreignSelector = func() labels.Selector {
	r, err := labels.NewRequirement(kubesink.LabelManagedBy, selection.NotEquals, []string{kubesink.ManagedBy})
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*r)
}()

func hostNames(root model.Service, o Options) []string {
	return []string{
		root.Name + "." + root.Namespace,
		root.Name + "." + root.Namespace + ".svc",
		root.Name + "." + root.Namespace + ".svc." + o.ClusterDomain,
	}
}

// Watches implements controller.Watcher: our objects map back to their key
// (drift is repaired); a foreign VirtualService maps to the split of the
// Service it names as host (so a conflict is noticed, and its removal too).
func (b *Backend) Watches() []controller.Watch {
	owned := func(u *unstructured.Unstructured) []model.Key { return kubesink.OwnerKey(u) }
	return []controller.Watch{
		{GVK: VirtualServiceGVK, Map: func(u *unstructured.Unstructured) []model.Key {
			if kubesink.Owned(u) {
				return owned(u)
			}
			var keys []model.Key
			hosts, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "hosts")
			for _, h := range hosts {
				parts := strings.Split(h, ".")
				switch {
				case len(parts) == 1:
					keys = append(keys, model.Key{Kind: model.KeySplit, Namespace: u.GetNamespace(), Name: parts[0]})
				case len(parts) >= 2 && parts[0] != "*":
					keys = append(keys, model.Key{Kind: model.KeySplit, Namespace: parts[1], Name: parts[0]})
				}
			}
			return keys
		}},
		{GVK: AuthorizationPolicyGVK, Map: owned},
	}
}
