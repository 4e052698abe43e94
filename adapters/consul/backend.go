package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	capi "github.com/hashicorp/consul/api"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Name is the backend's registry name.
const Name = "consul"

// Backend programs Consul's config entries.
type Backend struct {
	opts    Options
	sink    *Sink
	resync  time.Duration
	enqueue func(model.Key)

	mu     sync.Mutex
	claims map[string]map[model.Key][]model.ObjectRef // entry -> keys that want it -> their SMI objects
}

var (
	_ backend.Backend            = (*Backend)(nil)
	_ backend.Resyncer           = (*Backend)(nil)
	_ backend.Translator         = (*Backend)(nil)
	_ backend.NamespaceCollapser = (*Backend)(nil)
)

// ConfigEntry wraps a Consul config entry as a runtime.Object for the
// offline translator; it encodes as the entry itself (what `consul config
// write` accepts).
type ConfigEntry struct {
	Entry capi.ConfigEntry
}

// GetObjectKind implements runtime.Object.
func (c *ConfigEntry) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject implements runtime.Object.
func (c *ConfigEntry) DeepCopyObject() runtime.Object { return &ConfigEntry{Entry: c.Entry} }

// MarshalJSON encodes the entry without server-side indexes.
func (c *ConfigEntry) MarshalJSON() ([]byte, error) { return json.Marshal(Clean(c.Entry)) }

// Translate implements backend.Translator.
func (b *Backend) Translate(slice *model.Slice) ([]runtime.Object, model.Problems) {
	res := Translate(slice, b.opts)
	out := make([]runtime.Object, len(res.Entries))
	for i, d := range res.Entries {
		out[i] = &ConfigEntry{Entry: d.Entry}
	}
	return out, res.Problems
}

// Options are the translation options New read from the settings.
func (b *Backend) Options() Options { return b.opts }

// ResyncPeriod implements backend.Resyncer: Consul cannot be watched
// through the Kubernetes cache, so every key is checked again periodically.
func (b *Backend) ResyncPeriod() time.Duration { return b.resync }

// New builds the Consul backend. The agent address and ACL token come from
// Consul's own environment (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// CONSUL_HTTP_TOKEN_FILE, CONSUL_CACERT…) or the settings address and
// token-file; the token is never logged. Other settings: namespace,
// mirror-namespaces (true|false), mirror-prefix.
func New(o backend.Options) (backend.Backend, error) {
	cfg := capi.DefaultConfig()
	opts := Options{}
	resync := 30 * time.Second
	for k, v := range o.Settings {
		switch k {
		case "address":
			cfg.Address = v
		case "token-file":
			cfg.TokenFile = v
		case "namespace":
			opts.Namespace = v
		case "mirror-namespaces":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("mirror-namespaces: %w", err)
			}
			opts.MirrorNamespaces = b
		case "mirror-prefix":
			opts.MirrorPrefix = v
		case "default-access":
			if v != "allow" && v != "deny" {
				return nil, fmt.Errorf("default-access: %q is neither allow nor deny", v)
			}
			opts.DefaultAccess = v
		case "resync":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("resync: %q is not a positive duration", v)
			}
			resync = d
		default:
			return nil, fmt.Errorf("unknown setting %q (known: address, token-file, namespace, mirror-namespaces, mirror-prefix, default-access, resync)", k)
		}
	}
	c, err := capi.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	return &Backend{opts: opts, sink: &Sink{Client: c, Opts: opts, Refresh: resync}, resync: resync, enqueue: o.Enqueue,
		claims: map[string]map[model.Key][]model.ObjectRef{}}, nil
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return Name }

// Sync implements backend.Backend. An unreachable agent is an error (the
// key is retried with backoff and Programmed says why); nothing is deleted then.
func (b *Backend) Sync(ctx context.Context, slice *model.Slice) (model.Problems, error) {
	res := Translate(slice, b.opts)
	b.claim(slice.Key, res)
	p, _, err := b.sink.Apply(ctx, slice.Key, res.Entries)
	res.Problems.Merge(p)
	if err != nil {
		return res.Problems, fmt.Errorf("consul: %w", err)
	}
	return res.Problems, nil
}

// claim records which entries key wants and marks the contested ones: in
// Consul's free edition every Kubernetes namespace shares one Consul
// namespace, so two objects can map to one entry. Both sides are reported
// (the other key is re-queued to say so as well); the current owner keeps
// the entry; when one side goes away, the others are re-queued to take over.
func (b *Backend) claim(key model.Key, res Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	wanted := map[string]bool{}
	var requeue []model.Key
	for i := range res.Entries {
		d := &res.Entries[i]
		if d.Shared {
			continue
		}
		id := EntryID(d.Entry)
		wanted[id] = true
		if b.claims[id] == nil {
			b.claims[id] = map[model.Key][]model.ObjectRef{}
		}
		_, known := b.claims[id][key]
		b.claims[id][key] = d.Sources
		for other, refs := range b.claims[id] {
			if other == key {
				continue
			}
			d.Contested = true
			for _, src := range d.Sources {
				res.Problems.Add(&model.Diagnostic{Object: src, Severity: model.SeverityError, Reason: ReasonCollision, Message: fmt.Sprintf(
					"Consul %s %q is also what %s maps to (%s): Kubernetes namespaces share one Consul namespace, so smi-adapter writes it for only one of them",
					d.Entry.GetKind(), d.Entry.GetName(), refsString(refs), other)})
			}
			if !known {
				requeue = append(requeue, other)
			}
		}
	}
	for id, keys := range b.claims {
		if _, mine := keys[key]; mine && !wanted[id] {
			delete(keys, key)
			for other := range keys {
				requeue = append(requeue, other)
			}
			if len(keys) == 0 {
				delete(b.claims, id)
			}
		}
	}
	if b.enqueue != nil {
		for _, k := range requeue {
			b.enqueue(k)
		}
	}
}

func refsString(refs []model.ObjectRef) string {
	var s []string
	for _, r := range refs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}

// CollapsesNamespaces implements backend.NamespaceCollapser: unless
// Kubernetes namespaces are mirrored, a source ns/name is the Consul source
// name, which every namespace's identity of that name also is.
func (b *Backend) CollapsesNamespaces() bool { return !b.opts.MirrorNamespaces }
