package controller

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/smi-adapter/smi-adapter/core/apis"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/storagemigration"
)

// MemoryLimitRatio is the share of the container's memory limit (its
// cgroup's) the Go runtime gets as its soft limit, GOMEMLIMIT, unless
// GOMEMLIMIT is set (AUTOMEMLIMIT=0.5 sets another share, =off none). A soft
// limit makes the GC work harder near it instead of growing the heap to
// twice the live heap; a fixed one below the live heap makes it collect
// without pause: 180MiB at 10,000 Linkerd objects under churn had the GC
// take 73% of the controller's CPU and its latencies miss by 3x (0.26 cores
// and p99 <0.45 s at 80% of 512Mi; docs/performance.md). Following the
// container's limit, the limit grows with what the operator provisions.
const MemoryLimitRatio = 0.8

// SetMemoryLimit sets GOMEMLIMIT to MemoryLimitRatio of the limit provider
// reports (memlimit.FromCgroup in a container), unless the environment sets
// it, and returns the limit in force (math.MaxInt64: none).
func SetMemoryLimit(log logr.Logger, provider memlimit.Provider) (int64, error) {
	return memlimit.Set(memlimit.WithRatio(MemoryLimitRatio), memlimit.WithProvider(provider),
		memlimit.WithLogger(slog.New(logr.ToSlogHandler(log))))
}

// ManagerOptions configure the process-level parts: endpoints and leader election.
type ManagerOptions struct {
	MetricsBindAddress      string // "0" disables
	HealthProbeBindAddress  string // "0" disables
	PprofBindAddress        string // Go's /debug/pprof; "" or "0" disables
	LeaderElection          bool
	LeaderElectionNamespace string
	WebhookHost             string
	WebhookPort             int
	WebhookCertDir          string
	// SyncPeriod is the full resync period of the informers (0: controller-runtime's default).
	SyncPeriod time.Duration
	// Lease timings of leader election (0: controller-runtime's defaults, 15s/10s/2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

func durationOrNil(d time.Duration) *time.Duration {
	if d == 0 {
		return nil
	}
	return &d
}

// NewScheme returns a scheme with the Kubernetes built-ins and every SMI version.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := apis.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := apiregistrationv1.AddToScheme(s); err != nil {
		return nil, err
	}
	// The CRDs whose CA bundle --cert-mode=self keeps and whose storage
	// versions the storage migration trims.
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// NewManager builds the controller-runtime manager smi-adapter runs in, with
// the conversion webhook registered and health checks installed.
func NewManager(cfg *rest.Config, o ManagerOptions) (manager.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	var syncPeriod *time.Duration
	if o.SyncPeriod > 0 {
		syncPeriod = &o.SyncPeriod
	}
	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		PprofBindAddress:        o.PprofBindAddress,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "smi-adapter.smi-spec.io",
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// A replica that stops hands the lease over at once instead of
		// letting the standby wait for it to expire.
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 durationOrNil(o.LeaseDuration),
		RenewDeadline:                 durationOrNil(o.RenewDeadline),
		RetryPeriod:                   durationOrNil(o.RetryPeriod),
		WebhookServer:                 webhook.NewServer(webhook.Options{Host: o.WebhookHost, Port: o.WebhookPort, CertDir: o.WebhookCertDir}),
		// Reads of the mesh's kinds (unstructured) come from the informers
		// the backend's watches start, as typed reads do: a reconcile costs
		// no API round trip to read what it may write.
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		Cache: cache.Options{
			SyncPeriod: syncPeriod,
			DefaultTransform: func(obj any) (any, error) {
				obj, err := cache.TransformStripManagedFields()(obj)
				if err != nil {
					return obj, err
				}
				return cachedForm(obj), nil
			},
			ByObject: map[client.Object]cache.ByObject{&corev1.Pod{}: {Transform: slimPod}, &corev1.Service{}: {Transform: slimService}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	// The conversion webhook serves every multi-version SMI kind (UDPRoute has one version).
	for _, hub := range []client.Object{&accessv1alpha3.TrafficTarget{}, &specsv1alpha4.HTTPRouteGroup{}, &specsv1alpha4.TCPRoute{}, &splitv1alpha4.TrafficSplit{}} {
		if err := builder.WebhookManagedBy(mgr, hub).Complete(); err != nil {
			return nil, fmt.Errorf("conversion webhook for %T: %w", hub, err)
		}
	}
	// Objects an upgrade left in an older version are rewritten in the hubs (as leader).
	if err := mgr.Add(&storagemigration.Migrator{Reader: mgr.GetAPIReader(), Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("smi-adapter")}); err != nil {
		return nil, fmt.Errorf("storage migration: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return nil, err
	}
	return mgr, nil
}

// cachedForm is what the cache keeps of a mesh object (unstructured): its
// metadata and body digest when smi-adapter owns it, a skeleton otherwise.
// Typed objects (SMI, Services, Pods) are kept as they are.
func cachedForm(obj any) any {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj
	}
	if u.GetLabels()[backend.LabelManagedBy] == backend.ManagedBy {
		return ownedDigest(u)
	}
	return foreignSkeleton(u)
}

// foreignSkeleton caches a mesh object smi-adapter does not own (watched
// through unstructured) as a skeleton: its metadata and spec.hosts are all
// that conflict detection reads. A cluster's own VirtualServices, Servers,
// … then cost little memory however many there are.
func foreignSkeleton(u *unstructured.Unstructured) *unstructured.Unstructured {
	out := &unstructured.Unstructured{Object: map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind()}}
	md := metav1.ObjectMeta{Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(), ResourceVersion: u.GetResourceVersion(),
		Labels: u.GetLabels(), Annotations: u.GetAnnotations(), DeletionTimestamp: u.GetDeletionTimestamp(), Generation: u.GetGeneration()}
	delete(md.Annotations, "kubectl.kubernetes.io/last-applied-configuration")
	out.SetName(md.Name)
	out.SetNamespace(md.Namespace)
	out.SetUID(md.UID)
	out.SetResourceVersion(md.ResourceVersion)
	out.SetLabels(md.Labels)
	out.SetAnnotations(md.Annotations)
	out.SetGeneration(md.Generation)
	if md.DeletionTimestamp != nil {
		out.SetDeletionTimestamp(md.DeletionTimestamp)
	}
	if hosts, found, _ := unstructured.NestedStringSlice(u.Object, "spec", "hosts"); found {
		_ = unstructured.SetNestedStringSlice(out.Object, hosts, "spec", "hosts")
	}
	return out
}

// slimPod keeps only what workload selection and the metrics API (labels,
// node) need, so that caching every pod of a large cluster stays cheap.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Labels: p.Labels, DeletionTimestamp: p.DeletionTimestamp, Generation: p.Generation},
		Spec:   corev1.PodSpec{ServiceAccountName: p.Spec.ServiceAccountName, NodeName: p.Spec.NodeName},
		Status: corev1.PodStatus{Phase: p.Status.Phase},
	}
	for _, c := range p.Spec.Containers {
		out.Spec.Containers = append(out.Spec.Containers, corev1.Container{Name: c.Name, Ports: c.Ports,
			LivenessProbe: httpProbe(c.LivenessProbe), ReadinessProbe: httpProbe(c.ReadinessProbe), StartupProbe: httpProbe(c.StartupProbe)})
	}
	return out, nil
}

// slimService keeps what normalize (ports, selector) and the metrics API
// (labels, selector) read: no annotations (kubectl's last-applied copy can be
// larger than the rest), cluster IPs or status.
func slimService(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	return &corev1.Service{
		TypeMeta: s.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, UID: s.UID, ResourceVersion: s.ResourceVersion,
			Labels: s.Labels, DeletionTimestamp: s.DeletionTimestamp, Generation: s.Generation, CreationTimestamp: s.CreationTimestamp},
		Spec: corev1.ServiceSpec{Ports: s.Spec.Ports, Selector: s.Spec.Selector, Type: s.Spec.Type, ExternalName: s.Spec.ExternalName},
	}, nil
}

// httpProbe keeps only an HTTP GET probe's port and path.
func httpProbe(p *corev1.Probe) *corev1.Probe {
	if p == nil || p.HTTPGet == nil {
		return nil
	}
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: p.HTTPGet.Path, Port: p.HTTPGet.Port}}}
}
