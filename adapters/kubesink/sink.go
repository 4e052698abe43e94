// Package kubesink makes a Kubernetes cluster hold exactly the native objects
// a backend desires for one reconcile key, and nothing else of ours: it
// creates what is missing, updates what drifted, skips what is already right
// (no write at all), and prunes what it owns for the key and no longer wants.
// It never writes to an object it does not own: a foreign object holding one
// of our names is reported as a Conflict on the SMI objects it came from.
// The Kubernetes-native backends (istio, linkerd) share it.
package kubesink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-multierror"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Ownership marks on every object smi-adapter writes.
const (
	LabelManagedBy    = backend.LabelManagedBy
	ManagedBy         = backend.ManagedBy
	LabelKeyHash      = "smi-adapter.io/key-hash"
	AnnotationKey     = "smi-adapter.io/key"
	AnnotationSources = "smi-adapter.io/sources"
)

// ReasonConflict is the diagnostic reason for a name held by a foreign object.
const ReasonConflict = "Conflict"

var writes = backend.NativeWrites

// Object is one desired native object.
type Object struct {
	// Obj is the object as the backend wants it (name, namespace, spec; labels it needs).
	Obj client.Object
	// Sources are the SMI objects it comes from (annotated on it; conflicts are reported on them).
	Sources []model.ObjectRef
	// Hold keeps the object as it is: neither written nor pruned (the backend
	// found a reason not to touch it this time, e.g. a foreign claim on its host).
	Hold bool
}

// Stats counts what one Apply did.
type Stats struct {
	Created, Updated, Deleted, Unchanged, Conflicts int
}

// Writes is the number of API writes.
func (s Stats) Writes() int { return s.Created + s.Updated + s.Deleted }

// Sink applies desired objects of the given kinds.
type Sink struct {
	Client client.Client // writes (and reads, normally through the cache)
	// Live reads from the apiserver when the cache is behind (a create finds
	// the object already there, an update finds it changed). Optional.
	Live client.Reader
	// Kinds are every kind the backend writes; pruning looks at all of them.
	Kinds []schema.GroupVersionKind
	// written remembers, per object, the last update this sink made: the
	// resourceVersion it updated from and what it wrote. A cache that still
	// shows that version has not seen the update yet; writing the same
	// again from it would only fail on the stale resourceVersion.
	written sync.Map // objectID -> writtenObject
}

type writtenObject struct{ fromRV, want string }

// wantOf is what an update writes: body, labels and annotations.
func wantOf(u *unstructured.Unstructured) string {
	return backend.BodyDigest(u.Object) + "|" + fmt.Sprint(u.GetLabels()) + "|" + fmt.Sprint(u.GetAnnotations())
}

// IndexKeyHash is the cache field index of the objects smi-adapter owns, by
// the key they were written for (its KeyHash): pruning a key finds its
// objects without reading the labels of every object of the namespace. A
// backend that uses a Sink declares it on each kind it writes (KeyHashIndex).
const IndexKeyHash = "smi.keyhash"

// KeyHashIndex is the IndexKeyHash field index, for backend.Watch.
var KeyHashIndex = backend.FieldIndex{Field: IndexKeyHash, Extract: func(u *unstructured.Unstructured) []string {
	// Read in place: GetLabels copies the map.
	labels, _, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "labels")
	l, _ := labels.(map[string]any)
	if l[LabelManagedBy] != ManagedBy {
		return nil
	}
	if h, ok := l[LabelKeyHash].(string); ok {
		return []string{h}
	}
	return nil
}}

// KeyHash is the label value that marks objects written for key.
func KeyHash(key model.Key) string {
	sum := sha256.Sum256([]byte(key.String()))
	return hex.EncodeToString(sum[:])[:32]
}

// Owned reports whether obj carries our ownership mark.
func Owned(obj client.Object) bool { return obj.GetLabels()[LabelManagedBy] == ManagedBy }

// Apply makes the cluster hold exactly desired for key. Problems are
// conflicts (reported on the sources); the error is what should be retried.
func (s *Sink) Apply(ctx context.Context, key model.Key, desired []Object) (model.Problems, Stats, error) {
	log := logf.FromContext(ctx)
	problems := model.Problems{}
	var stats Stats
	var errs *multierror.Error
	hash := KeyHash(key)
	wanted := map[string]bool{}
	for _, d := range desired {
		u, err := toUnstructured(d.Obj)
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		id := objectID(u.GroupVersionKind(), u.GetNamespace(), u.GetName())
		wanted[id] = true
		if d.Hold {
			continue
		}
		mark(u, key, hash, d.Sources)
		existing := &unstructured.Unstructured{}
		existing.SetGroupVersionKind(u.GroupVersionKind())
		err = s.Client.Get(ctx, client.ObjectKeyFromObject(u), existing)
		if apierrors.IsNotFound(err) {
			err = s.Client.Create(ctx, u)
			if err == nil {
				stats.Created++
				writes.WithLabelValues(u.GetKind(), "create").Inc()
				log.Info("created", "object", id)
				continue
			}
			if !apierrors.IsAlreadyExists(err) || s.Live == nil {
				errs = multierror.Append(errs, fmt.Errorf("create %s: %w", id, err))
				continue
			}
			// The cache had not seen it yet: decide on the live object.
			existing = &unstructured.Unstructured{}
			existing.SetGroupVersionKind(u.GroupVersionKind())
			err = s.Live.Get(ctx, client.ObjectKeyFromObject(u), existing)
		}
		switch {
		case err != nil:
			errs = multierror.Append(errs, fmt.Errorf("get %s: %w", id, err))
		case Owned(existing) && existing.GetAnnotations()[AnnotationKey] != key.String():
			// Ours, for another key: a handover between keys (the other key
			// will drop it); retry rather than report a lasting conflict.
			errs = multierror.Append(errs, fmt.Errorf("%w: %s is still held by smi-adapter for %s", backend.ErrTransient, id, existing.GetAnnotations()[AnnotationKey]))
		case !Owned(existing):
			stats.Conflicts++
			for _, src := range d.Sources {
				problems.Add(&model.Diagnostic{Object: src, Severity: model.SeverityError, Reason: ReasonConflict,
					Message: fmt.Sprintf("%s %s/%s already exists and is not managed by smi-adapter; smi-adapter does not overwrite it", u.GetKind(), u.GetNamespace(), u.GetName())})
			}
		case upToDate(existing, u) || s.alreadyWritten(id, existing, u):
			stats.Unchanged++
		default:
			updated := existing.DeepCopy()
			for k, v := range u.Object {
				if k != "metadata" && k != "status" && k != "apiVersion" && k != "kind" {
					updated.Object[k] = v
				}
			}
			for k := range existing.Object {
				if _, keep := u.Object[k]; !keep && k != "metadata" && k != "status" && k != "apiVersion" && k != "kind" {
					delete(updated.Object, k)
				}
			}
			labels, annotations := updated.GetLabels(), updated.GetAnnotations()
			if labels == nil {
				labels = map[string]string{}
			}
			if annotations == nil {
				annotations = map[string]string{}
			}
			maps.Copy(labels, u.GetLabels())
			maps.Copy(annotations, u.GetAnnotations())
			updated.SetLabels(labels)
			updated.SetAnnotations(annotations)
			if err := s.Client.Update(ctx, updated); err != nil {
				if apierrors.IsConflict(err) {
					err = fmt.Errorf("%w: %w", backend.ErrTransient, err) // read an older version: retry
				}
				errs = multierror.Append(errs, fmt.Errorf("update %s: %w", id, err))
				continue
			}
			s.written.Store(id, writtenObject{fromRV: existing.GetResourceVersion(), want: wantOf(u)})
			stats.Updated++
			writes.WithLabelValues(u.GetKind(), "update").Inc()
			log.Info("updated", "object", id)
		}
	}
	// Prune what we own for this key and no longer want. Only when every
	// desired object was handled: a failed create must not cost an existing object.
	if errs.ErrorOrNil() == nil {
		for _, gvk := range s.Kinds {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := s.Client.List(ctx, list, client.InNamespace(key.Namespace), client.MatchingFields{IndexKeyHash: hash}); err != nil {
				errs = multierror.Append(errs, fmt.Errorf("list %s: %w", gvk.Kind, err))
				continue
			}
			for i := range list.Items {
				item := &list.Items[i]
				id := objectID(gvk, item.GetNamespace(), item.GetName())
				if wanted[id] || item.GetAnnotations()[AnnotationKey] != key.String() {
					continue
				}
				if err := s.Client.Delete(ctx, item, client.Preconditions{UID: ptr(item.GetUID()), ResourceVersion: ptr(item.GetResourceVersion())}); err != nil && !apierrors.IsNotFound(err) {
					errs = multierror.Append(errs, fmt.Errorf("delete %s: %w", id, err))
					continue
				}
				s.written.Delete(id)
				stats.Deleted++
				writes.WithLabelValues(gvk.Kind, "delete").Inc()
				log.Info("deleted", "object", id)
			}
		}
	}
	return problems, stats, errs.ErrorOrNil()
}

func ptr[T any](v T) *T { return &v }

// alreadyWritten: this sink updated the object to desired from the very
// version the cache shows (the cache is behind our own write).
func (s *Sink) alreadyWritten(id string, existing, desired *unstructured.Unstructured) bool {
	w, ok := s.written.Load(id)
	return ok && w.(writtenObject).fromRV == existing.GetResourceVersion() && w.(writtenObject).want == wantOf(desired)
}

func objectID(gvk schema.GroupVersionKind, ns, name string) string {
	return gvk.Kind + " " + ns + "/" + name
}

// toUnstructured goes through JSON so that types with their own JSON
// encoding (Istio's protobuf-backed specs) are encoded as the API expects.
func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Empty() {
		return nil, fmt.Errorf("%T %s has no apiVersion/kind", obj, obj.GetName())
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	m := map[string]any{}
	if err := utiljson.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return u, nil
}

func mark(u *unstructured.Unstructured, key model.Key, hash string, sources []model.ObjectRef) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedBy
	labels[LabelKeyHash] = hash
	u.SetLabels(labels)
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationKey] = key.String()
	srcs := make([]string, 0, len(sources))
	for _, s := range sources {
		srcs = append(srcs, s.String())
	}
	sort.Strings(srcs)
	annotations[AnnotationSources] = strings.Join(slices.Compact(srcs), ", ")
	u.SetAnnotations(annotations)
}

// upToDate: the body (every top-level field but metadata and status) is the
// one we want (compared by digest: the cache keeps only that of our objects),
// and our labels and annotations are present with our values. Labels and
// annotations others add are ignored.
func upToDate(existing, desired *unstructured.Unstructured) bool {
	if backend.BodyDigest(existing.Object) != backend.BodyDigest(desired.Object) {
		return false
	}
	el, ea := existing.GetLabels(), existing.GetAnnotations()
	for k, v := range desired.GetLabels() {
		if el[k] != v {
			return false
		}
	}
	for k, v := range desired.GetAnnotations() {
		if ea[k] != v {
			return false
		}
	}
	return true
}

// OwnerKey maps an object smi-adapter owns back to the key it was written
// for (none for a foreign object): backends watch their kinds with it so an
// edit of an owned object is repaired.
func OwnerKey(obj client.Object) []model.Key {
	if !Owned(obj) {
		return nil
	}
	k, err := model.ParseKey(obj.GetAnnotations()[AnnotationKey])
	if err != nil {
		return nil
	}
	return []model.Key{k}
}
