package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	prommodel "github.com/prometheus/common/model"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	"k8s.io/kube-openapi/pkg/common"

	metricsv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/metrics/v1alpha1"
	"github.com/smi-adapter/smi-adapter/core/metrics/openapi"
)

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// ServerOptions configure the aggregated API server.
type ServerOptions struct {
	// BindAddress and Port to serve HTTPS on (Port 0: a free port; see Server.Addr).
	BindAddress string
	Port        int
	// CertFile and KeyFile: the serving certificate (reloaded when they
	// change). Empty: a self-signed certificate (tests only).
	CertFile, KeyFile string
	// Kubeconfig is used for the delegated authentication (TokenReview,
	// the extension-apiserver-authentication ConfigMap) and authorization
	// (SubjectAccessReview); empty: in-cluster.
	Kubeconfig string
}

// Server is the Traffic Metrics aggregated API server.
type Server struct {
	generic  *genericapiserver.GenericAPIServer
	listener net.Listener
}

// NewServer builds the API server around an Engine.
func NewServer(e *Engine, o ServerOptions) (*Server, error) {
	if err := e.Telemetry.Validate(); err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := metricsv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	unversioned := schema.GroupVersion{Version: "v1"}
	metav1.AddToGroupVersion(scheme, unversioned)
	scheme.AddUnversionedTypes(unversioned, &metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{},
		&metav1.APIGroup{}, &metav1.APIResourceList{})
	codecs := serializer.NewCodecFactory(scheme)

	secure := genericoptions.NewSecureServingOptions().WithLoopback()
	ln, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress, fmt.Sprint(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("metrics API listener: %w", err)
	}
	secure.Listener = ln
	secure.ServerCert.CertDirectory = "" // in memory when no files are given
	secure.ServerCert.PairName = ""
	secure.ServerCert.CertKey.CertFile, secure.ServerCert.CertKey.KeyFile = o.CertFile, o.KeyFile
	if o.CertFile == "" {
		if err := secure.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("self-signed certificate: %w", err)
		}
	}
	cfg := genericapiserver.NewRecommendedConfig(codecs)
	cfg.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	if err := secure.ApplyTo(&cfg.SecureServing, &cfg.LoopbackClientConfig); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("serving options: %w", err)
	}
	authn := genericoptions.NewDelegatingAuthenticationOptions()
	authn.RemoteKubeConfigFile = o.Kubeconfig
	if err := authn.ApplyTo(&cfg.Authentication, cfg.SecureServing, nil); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("delegated authentication: %w", err)
	}
	authz := genericoptions.NewDelegatingAuthorizationOptions()
	authz.RemoteKubeConfigFile = o.Kubeconfig
	if err := authz.ApplyTo(&cfg.Authorization); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("delegated authorization: %w", err)
	}
	// The window is a query parameter of every request; parsed after
	// authentication and authorization, before the storage runs.
	cfg.BuildHandlerChainFunc = func(h http.Handler, c *genericapiserver.Config) http.Handler {
		return genericapiserver.DefaultBuildHandlerChain(withWindow(h, codecs), c)
	}
	cfg.EnableMetrics = true
	namer := openapinamer.NewDefinitionNamer(scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIConfig.Info.Title, cfg.OpenAPIConfig.Info.Version = "smi-adapter metrics", "v1alpha1"
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config.Info.Title, cfg.OpenAPIV3Config.Info.Version = "smi-adapter metrics", "v1alpha1"
	cfg.OpenAPIConfig.GetOperationIDAndTagsFromRoute = operationID
	cfg.OpenAPIV3Config.GetOperationIDAndTagsFromRoute = operationID
	generic, err := cfg.Complete().New("smi-metrics", genericapiserver.NewEmptyDelegate())
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("metrics API server: %w", err)
	}
	group := genericapiserver.NewDefaultAPIGroupInfo(metricsv1alpha1.GroupVersion.Group, scheme, runtime.NewParameterCodec(scheme), codecs)
	storage := map[string]rest.Storage{}
	for _, k := range AllKinds {
		storage[string(k)] = &kindStorage{kind: k, engine: e}
		storage[string(k)+"/edges"] = &edgesStorage{kind: k, engine: e}
	}
	group.VersionedResourcesStorageMap[metricsv1alpha1.GroupVersion.Version] = storage
	if err := generic.InstallAPIGroup(&group); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("install metrics.smi-spec.io: %w", err)
	}
	return &Server{generic: generic, listener: ln}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Start serves until ctx ends (a manager.Runnable: every replica serves).
func (s *Server) Start(ctx context.Context) error {
	return s.generic.PrepareRun().RunWithContext(ctx)
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (s *Server) NeedLeaderElection() bool { return false }

// operationID names an operation after its path: every resource of this API
// serves the same kind, so the default (verb + kind) would repeat.
func operationID(r common.Route) (string, []string, error) {
	var b strings.Builder
	b.WriteString(strings.ToLower(r.Method()))
	for _, seg := range strings.Split(r.Path(), "/") {
		seg = strings.Trim(seg, "{}")
		for _, part := range strings.FieldsFunc(seg, func(c rune) bool { return c == '.' || c == '-' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String(), []string{"metrics.smi-spec.io"}, nil
}

type windowKey struct{}

// ParseWindow reads the window query parameter: a duration such as 30s, 5m
// or 1h30m (the form TrafficMetrics show), at least 1s.
func ParseWindow(v string) (time.Duration, error) {
	if v == "" {
		return DefaultWindow, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		pd, perr := prommodel.ParseDuration(v)
		if perr != nil {
			return 0, fmt.Errorf("window %q: not a duration such as 30s, 5m or 1h", v)
		}
		d = time.Duration(pd)
	}
	if d < time.Second {
		return 0, fmt.Errorf("window %q: must be at least 1s", v)
	}
	return d, nil
}

func withWindow(h http.Handler, codecs serializer.CodecFactory) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := ParseWindow(r.URL.Query().Get("window"))
		if err != nil {
			responsewriters.ErrorNegotiated(apierrors.NewBadRequest(err.Error()), codecs, metricsv1alpha1.GroupVersion, w, r)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), windowKey{}, d)))
	})
}

func windowFrom(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(windowKey{}).(time.Duration); ok {
		return d
	}
	return DefaultWindow
}

// kindStorage serves get and list of one kind.
type kindStorage struct {
	kind   Kind
	engine *Engine
}

var (
	_ rest.Getter               = (*kindStorage)(nil)
	_ rest.Lister               = (*kindStorage)(nil)
	_ rest.Scoper               = (*kindStorage)(nil)
	_ rest.KindProvider         = (*kindStorage)(nil)
	_ rest.SingularNameProvider = (*kindStorage)(nil)
)

func (s *kindStorage) New() runtime.Object     { return &metricsv1alpha1.TrafficMetrics{} }
func (s *kindStorage) NewList() runtime.Object { return &metricsv1alpha1.TrafficMetricsList{} }
func (s *kindStorage) Destroy()                {}
func (s *kindStorage) NamespaceScoped() bool   { return s.kind.Namespaced() }
func (s *kindStorage) Kind() string            { return "TrafficMetrics" }
func (s *kindStorage) GetSingularName() string { return singular(s.kind) }

func (s *kindStorage) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	return s.engine.Get(ctx, Request{Kind: s.kind, Namespace: genericapirequest.NamespaceValue(ctx), Name: name, Window: windowFrom(ctx)})
}

func (s *kindStorage) List(ctx context.Context, o *metainternalversion.ListOptions) (runtime.Object, error) {
	r := Request{Kind: s.kind, Namespace: genericapirequest.NamespaceValue(ctx), Window: windowFrom(ctx)}
	if o != nil {
		r.Selector = o.LabelSelector
	}
	return s.engine.List(ctx, r)
}

func (s *kindStorage) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return table(obj)
}

// edgesStorage serves the edges subresource of one kind.
type edgesStorage struct {
	kind   Kind
	engine *Engine
}

var _ rest.Getter = (*edgesStorage)(nil)

func (s *edgesStorage) New() runtime.Object   { return &metricsv1alpha1.TrafficMetricsList{} }
func (s *edgesStorage) Destroy()              {}
func (s *edgesStorage) NamespaceScoped() bool { return s.kind.Namespaced() }
func (s *edgesStorage) Kind() string          { return "TrafficMetricsList" }

func (s *edgesStorage) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	return s.engine.Edges(ctx, Request{Kind: s.kind, Namespace: genericapirequest.NamespaceValue(ctx), Name: name, Window: windowFrom(ctx)})
}

func singular(k Kind) string {
	switch k {
	case Namespaces, Nodes, Pods, ReplicationControllers, Services, DaemonSets, Deployments, ReplicaSets, StatefulSets, Jobs, TrafficSplits:
		s := string(k)
		return s[:len(s)-1]
	}
	return string(k)
}
