// Package storagemigration moves SMI objects that etcd still holds in an
// older version into the hub version, then trims each CRD's
// status.storedVersions to the hub alone.
//
// Objects end up in an older version after an upgrade: linkerd-smi's
// TrafficSplit CRD stores v1alpha1, Open Service Mesh's stores v1alpha2, and
// applying smi-adapter's CRDs over them changes only where new writes go.
// Kubernetes never rewrites existing objects by itself, and it never removes
// a version from storedVersions. This package does what
// kube-storage-version-migrator documents, for smi-adapter's own CRDs only:
// one write of every object that changes nothing but the stored encoding,
// and storedVersions set to the hub once every write succeeded.
//
// The write is an update of the status subresource with the status as read,
// in the hub version. kube-apiserver stores the whole object encoded in the
// storage version, and skips the write when that encoding is what etcd holds
// already, so an object already in the hub costs no write. The status
// subresource is used because smi-adapter already may write status: it needs
// no permission to change any SMI object's spec.
//
// The Migrator runs as the leader at start, and again with a growing pause
// while anything is left (an object that cannot be written, CRDs that are
// not yet smi-adapter's); a CRD whose storedVersions is the hub alone costs
// one GET.
package storagemigration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// Resource is a CRD and the version its objects must be stored in.
type Resource struct {
	CRD string // e.g. trafficsplits.split.smi-spec.io
	Hub schema.GroupVersionKind
}

// SMI are smi-adapter's CRDs with their hub versions.
var SMI = []Resource{
	{CRD: "traffictargets.access.smi-spec.io", Hub: accessv1alpha3.GroupVersion.WithKind("TrafficTarget")},
	{CRD: "httproutegroups.specs.smi-spec.io", Hub: specsv1alpha4.GroupVersion.WithKind("HTTPRouteGroup")},
	{CRD: "tcproutes.specs.smi-spec.io", Hub: specsv1alpha4.GroupVersion.WithKind("TCPRoute")},
	{CRD: "udproutes.specs.smi-spec.io", Hub: specsv1alpha4.GroupVersion.WithKind("UDPRoute")},
	{CRD: "trafficsplits.split.smi-spec.io", Hub: splitv1alpha4.GroupVersion.WithKind("TrafficSplit")},
}

// Reasons of the Warning Events on objects.
const (
	ReasonFailed = "StorageMigrationFailed"
	actionWrite  = "MigrateStorage"
)

// Migrator is a manager Runnable that runs as the leader.
type Migrator struct {
	// Reader reads the CRDs and lists the objects; uncached (the manager's
	// API reader), so that no informer is started for them.
	Reader client.Reader
	// Client writes the objects' status and the CRDs' status.
	Client client.Client
	// Recorder, when set, gets a Warning Event per object that fails.
	Recorder events.EventRecorder
	// Resources to migrate (SMI when nil).
	Resources []Resource
	// Retry is the pause after a pass that left something to do; it doubles
	// up to MaxRetry (defaults 5s and 10m).
	Retry, MaxRetry time.Duration
	// PageSize of the lists (default 500).
	PageSize int64
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: one replica
// writes.
func (m *Migrator) NeedLeaderElection() bool { return true }

// Start implements manager.Runnable: passes until nothing is stored in an
// older version, or ctx ends. It never fails the manager.
func (m *Migrator) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("storagemigration")
	ctx = logf.IntoContext(ctx, log)
	pause, maxPause := m.Retry, m.MaxRetry
	if pause <= 0 {
		pause = 5 * time.Second
	}
	if maxPause <= 0 {
		maxPause = 10 * time.Minute
	}
	for {
		err := m.Run(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Error(err, "storage migration incomplete; retrying", "after", pause.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, maxPause)
	}
}

// Run makes one pass over every resource. The error names each CRD that is
// still stored in an older version, and why.
func (m *Migrator) Run(ctx context.Context) error {
	resources := m.Resources
	if resources == nil {
		resources = SMI
	}
	var errs []error
	for _, r := range resources {
		if err := m.migrate(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.CRD, err))
		}
	}
	return errors.Join(errs...)
}

// ready says why the CRD cannot be migrated to hub yet ("" when it can):
// it must store the hub and serve it, with a status subresource, and
// convert through a webhook. With conversion None an object stored in an
// older version reads as the hub with its old fields, and writing it back
// would store those as the hub: never.
func ready(crd *apiextensionsv1.CustomResourceDefinition, hub string) string {
	if conv := crd.Spec.Conversion; len(crd.Spec.Versions) > 1 && (conv == nil || conv.Strategy != apiextensionsv1.WebhookConverter) {
		return "it does not convert through a webhook (are smi-adapter's CRDs applied?)"
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != hub {
			continue
		}
		switch {
		case !v.Storage:
			return fmt.Sprintf("its storage version is not %s (are smi-adapter's CRDs applied?)", hub)
		case !v.Served:
			return fmt.Sprintf("%s is not served", hub)
		case v.Subresources == nil || v.Subresources.Status == nil:
			return fmt.Sprintf("%s has no status subresource", hub)
		}
		return ""
	}
	return fmt.Sprintf("it has no version %s (are smi-adapter's CRDs applied?)", hub)
}

func (m *Migrator) migrate(ctx context.Context, r Resource) error {
	log := logf.FromContext(ctx).WithValues("crd", r.CRD)
	crd, raw, err := m.getCRD(ctx, r.CRD)
	if err != nil {
		if apierrors.IsNotFound(err) {
			log.V(1).Info("CRD not installed: nothing to migrate")
			return nil
		}
		return err
	}
	hub := r.Hub.Version
	stored := crd.Status.StoredVersions
	if len(stored) == 1 && stored[0] == hub {
		return nil
	}
	if why := ready(crd, hub); why != "" {
		return fmt.Errorf("objects stored as %v stay so: %s", stored, why)
	}
	log.Info("rewriting objects in the storage version", "storedVersions", stored, "hub", hub)
	total, failed, err := m.rewriteAll(ctx, r)
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d objects could not be rewritten in %s; storedVersions stays %v", failed, total, hub, stored)
	}
	// Every object is now stored in the hub: it is the only stored version.
	// The resourceVersion makes a CRD changed meanwhile (another version
	// stored, say) a conflict, retried on the next pass.
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": crd.ResourceVersion},
		"status":   map[string]any{"storedVersions": []string{hub}},
	})
	if err != nil {
		return err
	}
	if err := m.Client.Status().Patch(ctx, raw, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("set storedVersions to [%s]: %w", hub, err)
	}
	log.Info("storage migrated", "objects", total, "storedVersions", []string{hub}, "was", stored)
	return nil
}

var crdGVK = apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition")

// getCRD reads a CRD as unstructured (the manager's scheme need not know
// CRDs) and converts it: the typed copy to read, the unstructured one to
// patch.
func (m *Migrator) getCRD(ctx context.Context, name string) (*apiextensionsv1.CustomResourceDefinition, *unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(crdGVK)
	if err := m.Reader.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("get CRD: %w", err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd); err != nil {
		return nil, nil, fmt.Errorf("read CRD: %w", err)
	}
	return crd, u, nil
}

// rewriteAll writes every object of r once, page by page; it counts the
// objects and those that failed (logged, with an Event each).
func (m *Migrator) rewriteAll(ctx context.Context, r Resource) (total, failed int, err error) {
	log := logf.FromContext(ctx)
	page := m.PageSize
	if page <= 0 {
		page = 500
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(r.Hub.GroupVersion().WithKind(r.Hub.Kind + "List"))
	cont := ""
	for {
		if err := m.Reader.List(ctx, list, client.Limit(page), client.Continue(cont)); err != nil {
			return total, failed, fmt.Errorf("list %s in %s: %w", r.Hub.Kind, r.Hub.Version, err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			obj.SetGroupVersionKind(r.Hub)
			total++
			if err := m.rewrite(ctx, obj); err != nil {
				failed++
				log.Error(err, "object not rewritten in the storage version", "kind", r.Hub.Kind, "namespace", obj.GetNamespace(), "name", obj.GetName())
				if m.Recorder != nil {
					m.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, ReasonFailed, actionWrite,
						"not rewritten in %s (etcd keeps an older version; smi-adapter retries): %v", r.Hub.Version, err)
				}
			}
		}
		if cont = list.GetContinue(); cont == "" {
			return total, failed, nil
		}
	}
}

// rewrite writes obj's status as it is, in the hub version: the apiserver
// stores the object encoded in the hub. An object changed meanwhile is read
// again (whoever changed it wrote it in the hub, but the write costs nothing
// then); one deleted meanwhile is done.
func (m *Migrator) rewrite(ctx context.Context, obj *unstructured.Unstructured) error {
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			if err := m.Reader.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
		}
		first = false
		return m.Client.Status().Update(ctx, obj)
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}
