// Package backend is the contract between smi-adapter's controller and the
// mesh adapters (as external-dns keeps its provider interface apart from its
// controller): what a backend is (Backend, and the optional Translator,
// Resyncer, NamespaceCollapser and Watcher), what its constructor gets
// (Options), and the explicit registry of constructors main builds. An
// adapter imports this package and core/model, never the controller's
// controller-runtime wiring.
package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/core/model"
)

// Backend makes one mesh match the model. Each adapter provides one and
// asserts it at compile time: var _ backend.Backend = (*Backend)(nil).
type Backend interface {
	// Name is the name the backend is registered under (--backend).
	Name() string
	// Sync makes the mesh match the slice of one key: create or update what is
	// desired, delete what smi-adapter owns for the key and no longer desires.
	// A slice with no Access and no Split means nothing is desired for the key.
	// It must never write to an object smi-adapter does not own. Problems it
	// reports (e.g. a rule the mesh cannot express exactly, so it failed
	// closed) land on the SMI objects named in them.
	Sync(ctx context.Context, slice *model.Slice) (model.Problems, error)
}

// Translator is the pure half of a backend: `smi-adapter translate` runs it
// with no cluster, on the same model slices the controller builds.
type Translator interface {
	Translate(slice *model.Slice) (objects []runtime.Object, problems model.Problems)
}

// Resyncer is implemented by backends whose mesh state the controller cannot
// watch (Consul): every key is reconciled again after ResyncPeriod, so drift
// is repaired and a restarted mesh gets its state back.
type Resyncer interface {
	ResyncPeriod() time.Duration
}

// NamespaceCollapser is implemented by backends whose mesh may name a source
// identity by its name alone (Consul's free edition: ns-a/web is the Consul
// source "web", which every namespace's web also is). When
// CollapsesNamespaces is true, the controller and translate fill
// model.Grant.Elsewhere (the other namespaces' identities of each source's
// name that exist now) and reconcile the policies naming a source of a name
// whenever a pod or Service of that name appears, goes or changes in any
// namespace. Other backends never pay for that lookup.
type NamespaceCollapser interface {
	// CollapsesNamespaces reports whether source names lose their namespace
	// (fixed for the backend's lifetime).
	CollapsesNamespaces() bool
}

// IdentitiesElsewhere reports whether b needs model.Grant.Elsewhere: it is a
// NamespaceCollapser that collapses namespaces.
func IdentitiesElsewhere(b Backend) bool {
	c, ok := b.(NamespaceCollapser)
	return ok && c.CollapsesNamespaces()
}

// Watcher is implemented by backends that write Kubernetes objects. The
// controller watches each kind and reconciles the keys Map returns, so that
// an edit of an object smi-adapter owns is repaired (drift) and a foreign
// object that competes with ours is noticed.
type Watcher interface {
	Watches() []Watch
}

// Watch is one kind a backend wants watched, and how its objects map to keys.
type Watch struct {
	GVK schema.GroupVersionKind
	Map func(obj *unstructured.Unstructured) []model.Key
	// Indexes are cache field indexes on the kind, so a backend finds objects
	// by a value (client.MatchingFields) without listing them all.
	Indexes []FieldIndex
}

// FieldIndex is one cache field index: its name and the values of an object.
type FieldIndex struct {
	Field   string
	Extract func(obj *unstructured.Unstructured) []string
}

// Options are what a backend constructor gets.
type Options struct {
	// Client reads and writes Kubernetes objects (nil for offline use).
	Client client.Client
	// APIReader reads from the apiserver, bypassing the cache (optional).
	APIReader client.Reader
	// Log is the backend's logger.
	Log logr.Logger
	// Settings are backend-specific flags (--backend-opt key=value).
	Settings map[string]string
	// Enqueue asks the controller to reconcile a key (e.g. another key that
	// competes for the same mesh object). Nil when there is no controller.
	Enqueue func(model.Key)
}

// Constructor builds a backend.
type Constructor func(Options) (Backend, error)

// Registry maps backend names to constructors. It is an explicit map built in
// main: no init() side effects, and an unknown name is an error, never a fallback.
type Registry map[string]Constructor

// Names lists the registered backends, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Has reports whether name is registered.
func (r Registry) Has(name string) bool {
	_, ok := r[name]
	return ok
}

// New builds the named backend.
func (r Registry) New(name string, o Options) (Backend, error) {
	c, ok := r[name]
	if !ok {
		known := "none are built in yet"
		if len(r) > 0 {
			known = "known: " + strings.Join(r.Names(), ", ")
		}
		return nil, fmt.Errorf("unknown backend %q (%s)", name, known)
	}
	b, err := c(o)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", name, err)
	}
	return b, nil
}

// BodyDigestField holds, in the informer cache, the digest of the body of a
// mesh object smi-adapter owns: the cache keeps such an object's metadata and
// this field in place of its spec (and every other top-level field but
// status). Deciding whether the object is up to date needs nothing more, and
// ten thousand VirtualServices then cost their metadata alone.
const BodyDigestField = "smi-adapter.io/body-digest"

// BodyDigest is the digest of obj's body: every top-level field but
// apiVersion, kind, metadata and status, as canonical JSON. An object as
// cached (with BodyDigestField) gives the digest it was cached with.
func BodyDigest(obj map[string]any) string {
	if d, ok := obj[BodyDigestField].(string); ok {
		return d
	}
	b, err := json.Marshal(Body(obj)) // sorted keys: canonical
	if err != nil {
		return "unencodable: " + err.Error() // never equal to a digest
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Body is obj's body, as BodyDigest reads it: every top-level field but
// apiVersion, kind, metadata and status.
func Body(obj map[string]any) map[string]any {
	body := make(map[string]any, len(obj))
	for k, v := range obj {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
		default:
			body[k] = v
		}
	}
	return body
}

// NativeWrites counts the writes backends make to the mesh (Kubernetes
// objects, Consul config entries), by kind and operation.
var NativeWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "smi_adapter_native_writes_total",
	Help: "Writes of mesh-native objects (Kubernetes objects, Consul config entries), by kind and operation (create, update, delete).",
}, []string{"kind", "op"})

// The mark on everything smi-adapter writes (read back by the controller's cache and the sinks).
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "smi-adapter"
)

// ErrTransient marks a backend error that a retry resolves by itself (e.g.
// an update refused because the cache had an older version): the key is
// retried and the object's Programmed condition is left as it was.
var ErrTransient = errors.New("transient")
