package consul

import (
	"context"
	"fmt"
	"strconv"
	"time"

	capi "github.com/hashicorp/consul/api"

	"github.com/smi-adapter/smi-adapter/core/controller"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Name is the backend's registry name.
const Name = "consul"

// Backend programs Consul's config entries.
type Backend struct {
	opts   Options
	sink   *Sink
	resync time.Duration
}

var (
	_ controller.Backend  = (*Backend)(nil)
	_ controller.Resyncer = (*Backend)(nil)
)

// ResyncPeriod implements controller.Resyncer: Consul cannot be watched
// through the Kubernetes cache, so every key is checked again periodically.
func (b *Backend) ResyncPeriod() time.Duration { return b.resync }

// New builds the Consul backend. The agent address and ACL token come from
// Consul's own environment (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// CONSUL_HTTP_TOKEN_FILE, CONSUL_CACERT…) or the settings address and
// token-file; the token is never logged. Other settings: namespace,
// mirror-namespaces (true|false), mirror-prefix.
func New(o controller.Options) (controller.Backend, error) {
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
	return &Backend{opts: opts, sink: &Sink{Client: c, Opts: opts}, resync: resync}, nil
}

// Name implements controller.Backend.
func (b *Backend) Name() string { return Name }

// Sync implements controller.Backend. An unreachable agent is an error (the
// key is retried with backoff and Programmed says why); nothing is deleted then.
func (b *Backend) Sync(ctx context.Context, slice *model.Slice) (model.Problems, error) {
	res := Translate(slice, b.opts)
	p, _, err := b.sink.Apply(ctx, slice.Key, res.Entries)
	res.Problems.Merge(p)
	if err != nil {
		return res.Problems, fmt.Errorf("consul: %w", err)
	}
	return res.Problems, nil
}
