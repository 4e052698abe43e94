package linkerd

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
const Name = "linkerd"

// Kinds the Linkerd backend writes.
var (
	ServiceProfileGVK        = schema.GroupVersionKind{Group: "linkerd.io", Version: "v1alpha2", Kind: "ServiceProfile"}
	ServerGVK                = schema.GroupVersionKind{Group: "policy.linkerd.io", Version: "v1beta3", Kind: "Server"}
	AuthorizationPolicyGVK   = schema.GroupVersionKind{Group: "policy.linkerd.io", Version: "v1alpha1", Kind: "AuthorizationPolicy"}
	MeshTLSAuthenticationGVK = schema.GroupVersionKind{Group: "policy.linkerd.io", Version: "v1alpha1", Kind: "MeshTLSAuthentication"}
	NetworkAuthenticationGVK = schema.GroupVersionKind{Group: "policy.linkerd.io", Version: "v1alpha1", Kind: "NetworkAuthentication"}
	HTTPRouteGVK             = schema.GroupVersionKind{Group: "policy.linkerd.io", Version: "v1beta3", Kind: "HTTPRoute"}
	kinds                    = []schema.GroupVersionKind{ServiceProfileGVK, ServerGVK, AuthorizationPolicyGVK, MeshTLSAuthenticationGVK, NetworkAuthenticationGVK, HTTPRouteGVK}
)

// +kubebuilder:rbac:groups=linkerd.io,resources=serviceprofiles,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=policy.linkerd.io,resources=servers;authorizationpolicies;meshtlsauthentications;networkauthentications;httproutes,verbs=get;list;watch;create;update;delete

// Backend programs Linkerd.
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

// New builds the Linkerd backend. Settings: cluster-domain, splits
// (serviceprofile|httproute), probe-networks (comma-separated CIDRs).
func New(o backend.Options) (backend.Backend, error) {
	opts := Options{}
	for k, v := range o.Settings {
		switch k {
		case "cluster-domain":
			opts.ClusterDomain = v
		case "splits":
			opts.Splits = v
		case "probe-networks":
			for _, n := range strings.Split(v, ",") {
				if n = strings.TrimSpace(n); n != "" {
					opts.ProbeNetworks = append(opts.ProbeNetworks, n)
				}
			}
		default:
			return nil, fmt.Errorf("unknown setting %q (known: cluster-domain, splits, probe-networks)", k)
		}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Backend{opts: opts.withDefaults(), c: o.Client, sink: &kubesink.Sink{Client: o.Client, Live: o.APIReader, Kinds: kinds}}, nil
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return Name }

// Translate implements backend.Translator.
func (b *Backend) Translate(slice *model.Slice) ([]runtime.Object, model.Problems) {
	res := Translate(slice, b.opts)
	out := make([]runtime.Object, len(res.Objects))
	for i, o := range res.Objects {
		out[i] = o.Obj
	}
	return out, res.Problems
}

// Sync implements backend.Backend.
func (b *Backend) Sync(ctx context.Context, slice *model.Slice) (model.Problems, error) {
	res := Translate(slice, b.opts)
	if sp := slice.Split; sp != nil && SplitUsesHTTPRoute(sp, b.opts) {
		// A ServiceProfile on the root makes Linkerd ignore its HTTPRoutes: a
		// foreign one means our routes would not apply; say so and keep none
		// (routes written before the profile appeared are pruned, so nothing
		// on the cluster claims a split Linkerd does not perform; the
		// profile's deletion re-queues the split and writes them again).
		prof := &unstructured.Unstructured{}
		prof.SetGroupVersionKind(ServiceProfileGVK)
		err := b.c.Get(ctx, client.ObjectKey{Namespace: sp.Root.Namespace, Name: ServiceProfileName(sp.Root.Name, sp.Root.Namespace, b.opts.ClusterDomain)}, prof)
		if err == nil && !kubesink.Owned(prof) {
			res.Objects = nil
			res.Problems.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: kubesink.ReasonConflict, Message: fmt.Sprintf(
				"ServiceProfile %s/%s (not managed by smi-adapter) exists for the root Service; Linkerd ignores a Service's HTTPRoutes while it has a ServiceProfile, so this split cannot apply", sp.Root.Namespace, prof.GetName())})
		}
	}
	p, _, err := b.sink.Apply(ctx, slice.Key, res.Objects)
	res.Problems.Merge(p)
	if err != nil {
		return res.Problems, fmt.Errorf("apply: %w", err)
	}
	return res.Problems, nil
}

// Watches implements backend.Watcher: our objects map back to their key
// (drift repair); a foreign ServiceProfile maps to the split of its Service.
func (b *Backend) Watches() []backend.Watch {
	owned := func(u *unstructured.Unstructured) []model.Key { return kubesink.OwnerKey(u) }
	var out []backend.Watch
	for _, gvk := range kinds {
		m := owned
		if gvk == ServiceProfileGVK {
			m = func(u *unstructured.Unstructured) []model.Key {
				if kubesink.Owned(u) {
					return owned(u)
				}
				// <svc>.<ns>.svc.<domain>
				var svc, ns string
				if n, err := fmt.Sscanf(dotted(u.GetName()), "%s %s", &svc, &ns); n == 2 && err == nil {
					return []model.Key{{Kind: model.KeySplit, Namespace: ns, Name: svc}}
				}
				return nil
			}
		}
		out = append(out, backend.Watch{GVK: gvk, Map: m, Indexes: []backend.FieldIndex{kubesink.KeyHashIndex}})
	}
	return out
}

func dotted(name string) string {
	var parts []string
	start := 0
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			parts = append(parts, name[start:i])
			start = i + 1
		}
	}
	parts = append(parts, name[start:])
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + " " + parts[1]
}
