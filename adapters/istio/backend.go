package istio

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/core/backend"
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
	_ backend.Backend    = (*Backend)(nil)
	_ backend.Watcher    = (*Backend)(nil)
	_ backend.Translator = (*Backend)(nil)
)

// Translate implements backend.Translator.
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
func New(o backend.Options) (backend.Backend, error) {
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
	return &Backend{opts: opts.withDefaults(), c: o.Client, sink: &kubesink.Sink{Client: o.Client, Live: o.APIReader, Kinds: []schema.GroupVersionKind{VirtualServiceGVK, AuthorizationPolicyGVK}}}, nil
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return Name }

// Sync implements backend.Backend.
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
	// Foreign VirtualServices by host, from the cache's index: a lookup per
	// name this split's host may be written as, not a scan of every one.
	names := append(hostNames(sp.Root, b.opts), sp.Root.Namespace+"/"+sp.Root.Name)
	if sp.Host {
		names = []string{sp.Root.Name} // a gateway host (Flagger's service.hosts)
	}
	for _, h := range names {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(VirtualServiceGVK.GroupVersion().WithKind("VirtualServiceList"))
		if err := b.c.List(ctx, list, client.MatchingFields{indexForeignHost: h}, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("list VirtualServices: %w", err)
		}
		for i := range list.Items {
			vs := &list.Items[i]
			if kubesink.Owned(vs) {
				continue
			}
			for j := range res.Objects {
				if res.Objects[j].Obj.GetObjectKind().GroupVersionKind().Kind == "VirtualService" {
					res.Objects[j].Hold = true
				}
			}
			res.Problems.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: kubesink.ReasonConflict, Message: fmt.Sprintf(
				"VirtualService %s/%s (not managed by smi-adapter) already routes host %s; Istio cannot merge two VirtualServices for one host, so smi-adapter leaves the routing to it",
				vs.GetNamespace(), vs.GetName(), strings.TrimPrefix(h, sp.Root.Namespace+"/"))})
			return nil
		}
	}
	return nil
}

// indexForeignHost indexes VirtualServices smi-adapter does not own by host:
// each host as written, and a short host also as namespace/host (Istio reads
// it in the VirtualService's namespace).
const indexForeignHost = "istio.smi-adapter.io/foreign-host"

func foreignHosts(u *unstructured.Unstructured) []string {
	if kubesink.Owned(u) {
		return nil
	}
	hosts, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "hosts")
	out := make([]string, 0, 2*len(hosts))
	for _, h := range hosts {
		out = append(out, h)
		if !strings.Contains(h, ".") {
			out = append(out, u.GetNamespace()+"/"+h)
		}
	}
	return out
}

func hostNames(root model.Service, o Options) []string {
	return []string{
		root.Name + "." + root.Namespace,
		root.Name + "." + root.Namespace + ".svc",
		root.Name + "." + root.Namespace + ".svc." + o.ClusterDomain,
	}
}

// Watches implements backend.Watcher: our objects map back to their key
// (drift is repaired); a foreign VirtualService maps to the split of the
// Service it names as host (so a conflict is noticed, and its removal too).
func (b *Backend) Watches() []backend.Watch {
	owned := func(u *unstructured.Unstructured) []model.Key { return kubesink.OwnerKey(u) }
	return []backend.Watch{
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
		}, Indexes: []backend.FieldIndex{{Field: indexForeignHost, Extract: foreignHosts}, kubesink.KeyHashIndex}},
		{GVK: AuthorizationPolicyGVK, Map: owned, Indexes: []backend.FieldIndex{kubesink.KeyHashIndex}},
	}
}
