package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	capi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-multierror"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Ownership marks in an entry's Meta (the same key smi-adapter uses on
// Kubernetes objects). Entries without them are never modified or deleted.
const (
	MetaManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy     = "smi-adapter"
	MetaKey       = "smi-adapter.io/key"  // the key that owns the entry
	MetaKeys      = "smi-adapter.io/keys" // shared entries: every key that wants it
	MetaSources   = "smi-adapter.io/sources"
	maxMetaValue  = 512
)

// ReasonConflict is reported when a foreign entry holds one of our names.
const ReasonConflict = "Conflict"

// Kinds the backend writes, in write order.
var Kinds = []string{capi.ServiceDefaults, capi.ServiceSplitter, capi.ServiceRouter, capi.ServiceIntentions}

// Sink makes Consul hold exactly the desired entries of one key.
type Sink struct {
	Client *capi.Client
	Opts   Options
	// Refresh is how often the index of owned entries is rebuilt from the
	// agent (one list per kind); 0: only at the first Apply.
	Refresh time.Duration

	mu       sync.Mutex
	byKey    map[string]map[string]bool // key -> ids (EntryID) of the entries owned for it
	loadedAt time.Time
}

// index returns the ids of the entries owned for key, loading (or
// refreshing) the index from the agent when needed: pruning then looks only
// at what a key owns instead of listing every entry on every reconcile.
func (s *Sink) index(ctx context.Context, key string) (map[string]bool, error) {
	s.mu.Lock()
	stale := s.byKey == nil || (s.Refresh > 0 && time.Since(s.loadedAt) > s.Refresh)
	s.mu.Unlock()
	if stale {
		byKey := map[string]map[string]bool{}
		// With mirrored namespaces the entries live in one Consul namespace
		// per Kubernetes namespace (and default-access=deny's in "*"): list
		// them all, or entries written before a restart are never pruned.
		ns := s.Opts.Namespace
		if s.Opts.MirrorNamespaces {
			ns = "*"
		}
		q := (&capi.QueryOptions{Namespace: ns}).WithContext(ctx)
		for _, kind := range Kinds {
			list, _, err := s.Client.ConfigEntries().List(kind, q)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", kind, err)
			}
			for _, e := range list {
				m := e.GetMeta()
				if !owned(m) {
					continue
				}
				keys := keysOf(m)
				if len(keys) == 0 && m[MetaKey] != "" {
					keys = []string{m[MetaKey]}
				}
				for _, k := range keys {
					if byKey[k] == nil {
						byKey[k] = map[string]bool{}
					}
					byKey[k][EntryID(e)] = true
				}
			}
		}
		s.mu.Lock()
		// Keep what was written meanwhile (a write records itself below).
		for k, ids := range s.byKey {
			for id := range ids {
				if byKey[k] == nil {
					byKey[k] = map[string]bool{}
				}
				byKey[k][id] = true
			}
		}
		s.byKey, s.loadedAt = byKey, time.Now()
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for id := range s.byKey[key] {
		out[id] = true
	}
	return out, nil
}

func (s *Sink) remember(key, id string, owned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey == nil {
		s.byKey = map[string]map[string]bool{}
	}
	if owned {
		if s.byKey[key] == nil {
			s.byKey[key] = map[string]bool{}
		}
		s.byKey[key][id] = true
		return
	}
	delete(s.byKey[key], id)
}

func owned(meta map[string]string) bool { return meta[MetaManagedBy] == ManagedBy }

func keysOf(meta map[string]string) []string {
	if meta[MetaKeys] == "" {
		return nil
	}
	return strings.Split(meta[MetaKeys], ",")
}

func withMeta(e capi.ConfigEntry, meta map[string]string) {
	switch v := e.(type) {
	case *capi.ServiceConfigEntry:
		v.Meta = meta
	case *capi.ServiceSplitterConfigEntry:
		v.Meta = meta
	case *capi.ServiceRouterConfigEntry:
		v.Meta = meta
	case *capi.ServiceIntentionsConfigEntry:
		v.Meta = meta
	}
}

func sources(refs []model.ObjectRef) string {
	var s []string
	for _, r := range refs {
		s = append(s, r.String())
	}
	sort.Strings(s)
	out := strings.Join(s, ", ")
	if len(out) > maxMetaValue {
		out = out[:maxMetaValue-3] + "..."
	}
	return out
}

// same compares two entries' content, ignoring indexes and Meta.
func same(a, b capi.ConfigEntry) bool {
	na, nb := Clean(a), Clean(b)
	withMeta(na, nil)
	withMeta(nb, nil)
	ja, _ := json.Marshal(na)
	jb, _ := json.Marshal(nb)
	var ma, mb any
	_ = json.Unmarshal(ja, &ma)
	_ = json.Unmarshal(jb, &mb)
	return reflect.DeepEqual(ma, mb)
}

func httpLike(p string) bool { return p == "http" || p == "http2" || p == "grpc" }

// Apply writes the desired entries of key (check-and-set on ModifyIndex, so
// a concurrent edit is never lost: the write fails and is retried), then
// removes the entries it owns for key that are no longer desired.
func (s *Sink) Apply(ctx context.Context, key model.Key, desired []Desired) (model.Problems, int, error) {
	log := logf.FromContext(ctx)
	problems := model.Problems{}
	writes := 0
	var errs *multierror.Error
	ce := s.Client.ConfigEntries()
	q := (&capi.QueryOptions{}).WithContext(ctx)
	w := (&capi.WriteOptions{}).WithContext(ctx)
	sort.SliceStable(desired, func(i, j int) bool { return Order(desired[i].Entry) < Order(desired[j].Entry) })
	wanted := map[string]bool{}
	casRetries := make([]int, len(desired))
	for i := 0; i < len(desired); i++ {
		d := desired[i]
		e := d.Entry
		id := e.GetKind() + "/" + e.GetName()
		wanted[id] = true
		q.Namespace, w.Namespace = e.GetNamespace(), e.GetNamespace()
		existing, _, err := ce.Get(e.GetKind(), e.GetName(), q)
		notFound := err != nil && strings.Contains(err.Error(), "404")
		if err != nil && !notFound {
			errs = multierror.Append(errs, fmt.Errorf("get %s: %w", id, err))
			continue
		}
		meta := map[string]string{MetaManagedBy: ManagedBy, MetaSources: sources(d.Sources)}
		var index uint64
		switch {
		case notFound:
		case !owned(existing.GetMeta()):
			// A foreign service-defaults that already says http is what we need.
			if sd, ok := existing.(*capi.ServiceConfigEntry); ok && d.Shared && httpLike(sd.Protocol) {
				continue
			}
			for _, src := range d.Sources {
				problems.Add(&model.Diagnostic{Object: src, Severity: model.SeverityError, Reason: ReasonConflict, Message: fmt.Sprintf(
					"Consul %s %q exists and is not managed by smi-adapter (its Meta lacks %s=%s); smi-adapter does not modify it", e.GetKind(), e.GetName(), MetaManagedBy, ManagedBy)})
			}
			continue
		case !d.Shared && existing.GetMeta()[MetaKey] != key.String():
			if d.Contested {
				continue // the owner keeps it; the collision is reported
			}
			errs = multierror.Append(errs, fmt.Errorf("%w: %s is still held by smi-adapter for %s", backend.ErrTransient, id, existing.GetMeta()[MetaKey]))
			continue
		default:
			index = existing.GetModifyIndex()
		}
		if d.Shared {
			keys := keysOf(map[string]string{})
			if existing != nil && !notFound {
				keys = keysOf(existing.GetMeta())
			}
			if !contains(keys, key.String()) {
				keys = append(keys, key.String())
			}
			sort.Strings(keys)
			meta[MetaKeys] = strings.Join(keys, ",")
			delete(meta, MetaSources) // several keys' sources: naming one would flap
		} else {
			meta[MetaKey] = key.String()
		}
		if !notFound && same(existing, e) && reflect.DeepEqual(metaSubset(existing.GetMeta(), meta), meta) {
			continue // nothing to write
		}
		withMeta(e, meta)
		ok, _, err := ce.CAS(e, index, w)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("write %s: %w", id, err))
			continue
		}
		if !ok {
			// Another writer (often another key sharing this service-defaults)
			// got there first: read it again and retry now, a few times,
			// rather than waiting for the queue's backoff.
			if casRetries[i] < 5 {
				casRetries[i]++
				i--
				continue
			}
			errs = multierror.Append(errs, fmt.Errorf("%w: write %s: modified concurrently (index %d)", backend.ErrTransient, id, index))
			continue
		}
		writes++
		s.remember(key.String(), EntryID(e), true)
		backend.NativeWrites.WithLabelValues(e.GetKind(), "write").Inc()
		log.Info("wrote config entry", "entry", id)
	}
	if errs.ErrorOrNil() != nil {
		return problems, writes, errs.ErrorOrNil() // never prune after a failed write
	}
	// Prune, in reverse write order (intentions and routers before the
	// service-defaults they rely on), only among the entries owned for key.
	mine, err := s.index(ctx, key.String())
	if err != nil {
		return problems, writes, err
	}
	wantedIDs := map[string]bool{}
	for _, d := range desired {
		wantedIDs[EntryID(d.Entry)] = true
	}
	var gone []string
	for id := range mine {
		if !wantedIDs[id] {
			gone = append(gone, id)
		}
	}
	order := map[string]int{}
	for i, k := range Kinds {
		order[k] = i
	}
	sort.Slice(gone, func(i, j int) bool {
		ki, kj := strings.SplitN(gone[i], "/", 2)[0], strings.SplitN(gone[j], "/", 2)[0]
		if order[ki] != order[kj] {
			return order[ki] > order[kj]
		}
		return gone[i] < gone[j]
	})
	for _, eid := range gone {
		parts := strings.SplitN(eid, "/", 3) // kind/namespace/name
		kind, ns, name := parts[0], parts[1], parts[2]
		q.Namespace, w.Namespace = ns, ns
		e, _, err := ce.Get(kind, name, q)
		if err != nil {
			if strings.Contains(err.Error(), "404") {
				s.remember(key.String(), eid, false)
				continue
			}
			errs = multierror.Append(errs, fmt.Errorf("get %s: %w", eid, err))
			continue
		}
		id := e.GetKind() + "/" + e.GetName()
		m := e.GetMeta()
		if !owned(m) {
			s.remember(key.String(), eid, false)
			continue
		}
		if keys := keysOf(m); len(keys) > 0 {
			if !contains(keys, key.String()) {
				s.remember(key.String(), eid, false)
				continue
			}
			rest := remove(keys, key.String())
			if len(rest) > 0 {
				m2 := map[string]string{}
				for k, v := range m {
					m2[k] = v
				}
				m2[MetaKeys] = strings.Join(rest, ",")
				withMeta(e, m2)
				if ok, _, err := ce.CAS(e, e.GetModifyIndex(), w); err != nil || !ok {
					errs = multierror.Append(errs, fmt.Errorf("release %s: %v", id, err))
					continue
				}
				s.remember(key.String(), eid, false)
				continue
			}
		} else if m[MetaKey] != key.String() {
			s.remember(key.String(), eid, false)
			continue
		}
		ok, _, err := ce.DeleteCAS(e.GetKind(), e.GetName(), e.GetModifyIndex(), w)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("delete %s: %w", id, err))
			continue
		}
		if !ok {
			errs = multierror.Append(errs, fmt.Errorf("delete %s: modified concurrently, will retry", id))
			continue
		}
		s.remember(key.String(), eid, false)
		backend.NativeWrites.WithLabelValues(e.GetKind(), "delete").Inc()
		writes++
		log.Info("deleted config entry", "entry", id)
	}
	return problems, writes, errs.ErrorOrNil()
}

func metaSubset(have, want map[string]string) map[string]string {
	out := map[string]string{}
	for k := range want {
		if v, ok := have[k]; ok {
			out[k] = v
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func remove(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
