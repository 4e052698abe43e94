package istiovalidate

// The istiod judge: what smi-adapter writes for Istio, given to Istio's own
// config generation (istio.io/istio pilot/test/xds: the discovery server
// istiod runs, with fake Kubernetes informers), and every decision taken on
// the Envoy configuration it generates for the sidecars involved, by
// envoyjudge (Envoy's documented semantics, shared with the Consul judge).

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	alpnfilter "istio.io/api/envoy/config/filter/http/alpn/v2alpha1"
	pilotmodel "istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/networking/util"
	"istio.io/istio/pilot/pkg/xds/filters"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/constants"
	istiolog "istio.io/istio/pkg/log"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/envoyjudge"
)

// strictMTLS makes the mesh STRICT, as the conformance runs assume: every
// inbound filter chain is an mTLS one and the source identity is the peer
// certificate's SPIFFE URI.
const strictMTLS = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
`

// istioVersion is the istio.io/istio version this module requires (the
// build info of a test binary does not list its dependencies).
func istioVersion() string {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "istio.io/istio" {
			return f[1]
		}
	}
	return "unknown"
}

var quietOnce sync.Once

// quiet turns istiod's logging off: the verdicts are the output.
func quiet() {
	quietOnce.Do(func() {
		for _, s := range istiolog.Scopes() {
			s.SetOutputLevel(istiolog.NoneLevel)
		}
	})
}

// The ALPN a client sidecar offers on an mTLS connection to another
// sidecar, as Istio's own code sets it: for HTTP/1.1 the istio.alpn filter's
// override in the client's HttpConnectionManager; for raw TCP the upstream
// TLS context of an in-mesh cluster with metadata exchange.
var (
	alpnHTTP11 = func() []string {
		var cfg alpnfilter.FilterConfig
		if err := filters.Alpn.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
			panic(err)
		}
		for _, o := range cfg.GetAlpnOverride() {
			if o.GetUpstreamProtocol() == alpnfilter.FilterConfig_HTTP11 {
				return o.GetAlpnOverride()
			}
		}
		panic("istio.alpn filter has no HTTP/1.1 override")
	}()
	alpnTCP = util.ALPNInMeshWithMxc
)

// scoped is the test.Failer istio's fake server gets: it reports to the
// scenario's test but keeps its own cleanups, run when the judge moves on
// to the next scenario, so that one server runs at a time.
type scoped struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

type fatal struct{ msg string }

func (s *scoped) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}
func (s *scoped) Fatal(args ...any)                 { panic(fatal{fmt.Sprint(args...)}) }
func (s *scoped) Fatalf(format string, args ...any) { panic(fatal{fmt.Sprintf(format, args...)}) }
func (s *scoped) FailNow()                          { panic(fatal{"FailNow"}) }
func (s *scoped) Skip(args ...any)                  { panic(fatal{"Skip: " + fmt.Sprint(args...)}) }
func (s *scoped) Log(args ...any)                   {}
func (s *scoped) Logf(format string, args ...any)   {}

func (s *scoped) close() {
	s.mu.Lock()
	cs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// sidecar is the Envoy configuration istiod generates for one proxy.
type sidecar struct {
	listeners []*listenerv3.Listener
	routes    map[string]*routev3.RouteConfiguration
}

func (s *sidecar) listener(name string) *listenerv3.Listener {
	for _, l := range s.listeners {
		if l.GetName() == name {
			return l
		}
	}
	return nil
}

// istiodJudge implements conformance.Judge on istiod's output.
type istiodJudge struct {
	t testing.TB
	// Options are the Istio backend's options.
	Options istio.Options
	// Mutate, if set, rewrites the objects the translator wrote before
	// istiod reads them (to show that the judge notices a wrong translation).
	Mutate func(obj map[string]any)

	server  *xds.FakeDiscoveryServer
	failer  *scoped
	closed  []*model.Diagnostic
	pods    []*corev1.Pod
	svcs    map[string]*corev1.Service // namespace/name
	proxies map[string]*sidecar
	// Config is the Istio configuration istiod was given (for the record).
	Config string
	// Chain names the listener and filter chain of the last decision.
	Chain string
}

var (
	_ conformance.Judge              = (*istiodJudge)(nil)
	_ conformance.FailClosedReporter = (*istiodJudge)(nil)
	_ conformance.Describer          = (*istiodJudge)(nil)
)

func (j *istiodJudge) Name() string { return "istio (istiod xDS)" }

func (j *istiodJudge) Description() string {
	return "Decided on the Envoy configuration istiod (istio.io/istio " + istioVersion() + ") generates, judged by envoyjudge: " +
		"the Istio objects smi-adapter writes (default-access=deny) plus a mesh-wide STRICT PeerAuthentication, with the scenario's Services, Pods and EndpointSlices, " +
		"given to Istio's discovery server (pilot/test/xds); access on the destination sidecar's virtualInbound listener " +
		"(filter chain, network and HTTP RBAC) for an mTLS connection whose peer certificate is the source's SPIFFE identity, " +
		"splits on a client sidecar's outbound listener and routes (virtual host, route, weighted clusters)."
}

func (j *istiodJudge) FailedClosed() []*model.Diagnostic { return j.closed }

// Close stops the current scenario's discovery server.
func (j *istiodJudge) Close() {
	if j.failer != nil {
		j.failer.close()
		j.failer = nil
	}
	j.server = nil
}

// Load translates the scenario with the Istio backend (the product path,
// as istiojudge runs it) and starts istiod's discovery server on the result.
func (j *istiodJudge) Load(objs []runtime.Object) error {
	quiet()
	j.Close()
	t, err := conformance.Translate(objs, true, func(s *model.Slice) ([]kubesink.Object, model.Problems) {
		r := istio.Translate(s, j.Options)
		return r.Objects, r.Problems
	})
	if err != nil {
		return err
	}
	j.closed = t.FailedClosed
	docs := []string{strictMTLS}
	for _, b := range t.Objects {
		if j.Mutate != nil {
			var o map[string]any
			if err := json.Unmarshal(b, &o); err != nil {
				return err
			}
			j.Mutate(o)
			if b, err = json.Marshal(o); err != nil {
				return err
			}
		}
		docs = append(docs, string(b)+"\n")
	}
	return j.start(strings.Join(docs, "---\n"), j.kubeObjects(objs))
}

// start starts istiod's discovery server on an Istio configuration (YAML)
// and Kubernetes objects (from kubeObjects).
func (j *istiodJudge) start(config string, kube []runtime.Object) (err error) {
	j.Close()
	j.Config = config
	j.proxies = map[string]*sidecar{}
	j.failer = &scoped{TB: j.t}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			j.Close()
			err = fmt.Errorf("istiod: %s", f.msg)
		}
	}()
	j.server = xds.NewFakeDiscoveryServer(j.failer, xds.FakeOptions{ConfigString: j.Config, KubernetesObjects: kube})
	return nil
}

// kubeObjects are the scenario's Pods (running, with an IP), Services (with
// a cluster IP) and the EndpointSlices Kubernetes would keep for them.
func (j *istiodJudge) kubeObjects(objs []runtime.Object) []runtime.Object {
	j.pods = nil
	j.svcs = map[string]*corev1.Service{}
	namespaces := map[string]bool{"istio-system": true}
	var out []runtime.Object
	var svcs []*corev1.Service
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Pod:
			p := o.DeepCopy()
			if p.Namespace == "" {
				p.Namespace = "default"
			}
			if p.Spec.ServiceAccountName == "" {
				p.Spec.ServiceAccountName = "default"
			}
			n := len(j.pods) + 1
			ip := fmt.Sprintf("10.1.%d.%d", n/250, n%250+1)
			p.Spec.NodeName = "node-1"
			p.Status = corev1.PodStatus{
				Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "10.0.0.1",
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			}
			j.pods = append(j.pods, p)
			namespaces[p.Namespace] = true
			out = append(out, p)
		case *corev1.Service:
			s := o.DeepCopy()
			if s.Namespace == "" {
				s.Namespace = "default"
			}
			if s.Spec.ClusterIP == "" {
				n := len(svcs) + 1
				s.Spec.ClusterIP = fmt.Sprintf("10.96.%d.%d", n/250, n%250+1)
				s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
			}
			svcs = append(svcs, s)
			j.svcs[s.Namespace+"/"+s.Name] = s
			namespaces[s.Namespace] = true
			out = append(out, s)
		}
	}
	for _, s := range svcs {
		if len(s.Spec.Selector) == 0 {
			continue
		}
		es := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name + "-1",
				Labels: map[string]string{discoveryv1.LabelServiceName: s.Name}},
			AddressType: discoveryv1.AddressTypeIPv4,
		}
		for _, sp := range s.Spec.Ports {
			port := sp.Port
			if sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal != 0 {
				port = sp.TargetPort.IntVal
			}
			name, proto := sp.Name, sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto, AppProtocol: sp.AppProtocol})
		}
		ready := true
		for _, p := range j.pods {
			if p.Namespace != s.Namespace || !selects(s.Spec.Selector, p.Labels) {
				continue
			}
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{p.Status.PodIP},
				Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}})
		}
		out = append(out, es)
	}
	for ns := range namespaces {
		out = append(out, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	return out
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// sidecarOf is the configuration istiod generates for the sidecar of pod
// (nil: a client proxy of namespace ns that no Service selects).
func (j *istiodJudge) sidecarOf(pod *corev1.Pod, ns string) *sidecar {
	key := "client/" + ns
	if pod != nil {
		key = pod.Namespace + "/" + pod.Name
	}
	if s := j.proxies[key]; s != nil {
		return s
	}
	p := &pilotmodel.Proxy{
		ID:              "smi-client." + ns,
		ConfigNamespace: ns,
		IPAddresses:     []string{"10.2.0.1"},
		Labels:          map[string]string{"app": "smi-client"},
		Metadata:        &pilotmodel.NodeMetadata{Namespace: ns, ClusterID: constants.DefaultClusterName, ServiceAccount: "smi-client"},
	}
	if pod != nil {
		p.ID = pod.Name + "." + pod.Namespace
		p.IPAddresses = []string{pod.Status.PodIP}
		p.Labels = pod.Labels
		p.Metadata.ServiceAccount = pod.Spec.ServiceAccountName
	}
	p.Metadata.Labels = p.Labels
	p = j.server.SetupProxy(p)
	s := &sidecar{listeners: j.server.Listeners(p), routes: map[string]*routev3.RouteConfiguration{}}
	for _, rc := range j.server.RoutesFromListeners(p, s.listeners) {
		s.routes[rc.GetName()] = rc
	}
	j.proxies[key] = s
	return s
}

func (j *istiodJudge) podOf(identity string) *corev1.Pod {
	ns, sa, _ := strings.Cut(identity, "/")
	for _, p := range j.pods {
		if p.Namespace == ns && p.Spec.ServiceAccountName == sa {
			return p
		}
	}
	return nil
}

// rdsRoutes is the route configuration a filter chain's connection manager
// names over RDS (nil for an inline one or a chain without one).
func rdsRoutes(s *sidecar, fc *listenerv3.FilterChain) *routev3.RouteConfiguration {
	hcm, err := envoyjudge.HTTPConnectionManager(fc)
	if err != nil {
		return nil
	}
	if r, ok := hcm.GetRouteSpecifier().(*hcmv3.HttpConnectionManager_Rds); ok {
		return s.routes[r.Rds.GetRouteConfigName()]
	}
	return nil
}

func httpRequest(method, path, authority string, headers map[string]string) *envoyjudge.HTTPRequest {
	h := map[string]string{}
	for k, v := range headers {
		k = strings.ToLower(k)
		if k == "" {
			continue // a header without a name is no header
		}
		if k == "host" || k == ":authority" {
			authority = v
			continue
		}
		h[k] = v
	}
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/"
	}
	return &envoyjudge.HTTPRequest{Method: strings.ToUpper(method), Path: path, Authority: authority, Headers: h}
}

// Allowed decides the request on the destination sidecar's inbound listener.
func (j *istiodJudge) Allowed(r conformance.AccessRequest) (bool, error) {
	proto := strings.ToUpper(r.Protocol)
	if proto == "" {
		proto = "HTTP"
	}
	dst := j.podOf(r.To)
	if dst == nil {
		return false, fmt.Errorf("no pod runs as %s", r.To)
	}
	sc := j.sidecarOf(dst, dst.Namespace)
	if proto == "UDP" {
		for _, l := range sc.listeners {
			if l.GetAddress().GetSocketAddress().GetProtocol() == corev3.SocketAddress_UDP {
				return false, fmt.Errorf("istiod generated UDP listener %s: the judge does not decide UDP", l.GetName())
			}
		}
		return false, &conformance.Inexpressible{Reason: "istiod generates no UDP listener for the sidecar (its listeners are TCP): it neither allows nor denies UDP"}
	}
	l := sc.listener("virtualInbound")
	if l == nil {
		return false, fmt.Errorf("istiod generated no virtualInbound listener for %s", dst.Name)
	}
	fromNS, fromSA, _ := strings.Cut(r.From, "/")
	src := netip.MustParseAddr("10.2.0.2")
	if p := j.podOf(r.From); p != nil {
		src = netip.MustParseAddr(p.Status.PodIP)
	}
	req := envoyjudge.Request{
		PrincipalURIs:   []string{"spiffe://cluster.local/ns/" + fromNS + "/sa/" + fromSA},
		SourceIP:        src,
		DestinationIP:   netip.MustParseAddr(dst.Status.PodIP),
		DestinationPort: uint32(r.Port),
		ALPN:            alpnTCP,
	}
	if proto == "HTTP" {
		req.ALPN = alpnHTTP11
	}
	fc, err := envoyjudge.FilterChain(l, req)
	j.Chain = l.GetName() + " (no filter chain)"
	if errors.Is(err, envoyjudge.ErrNoFilterChain) {
		return false, nil // Envoy closes the connection
	}
	if err != nil {
		return false, err
	}
	j.Chain = l.GetName() + "/" + fc.GetName()
	if proto == "HTTP" {
		_, err := envoyjudge.HTTPConnectionManager(fc)
		switch {
		case errors.Is(err, envoyjudge.ErrNoHTTPConnectionManager):
			// A chain that proxies TCP (a port Istio treats as TCP) sees
			// the request's bytes, not HTTP: only its network filters decide.
		case err != nil:
			return false, fmt.Errorf("an HTTP request on filter chain %q: %w", fc.GetName(), err)
		default:
			req.HTTP = httpRequest(r.Method, r.Path, fmt.Sprintf("%s:%d", dst.Status.PodIP, r.Port), r.Headers)
		}
	}
	return envoyjudge.Authorize(fc, rdsRoutes(sc, fc), req)
}

// Split decides the request on a client sidecar of the root's namespace:
// the outbound listener for the root's cluster IP and port, its route
// configuration, and the clusters the route sends the request to.
func (j *istiodJudge) Split(r conformance.SplitRequest) (map[string]int64, error) {
	ns, name, _ := strings.Cut(r.Root, "/")
	sc := j.sidecarOf(nil, ns)
	ip := netip.MustParseAddr("10.96.255.254") // a name DNS does not resolve: nothing listens for it
	if s := j.svcs[r.Root]; s != nil {
		ip = netip.MustParseAddr(s.Spec.ClusterIP)
	}
	req := envoyjudge.Request{
		Plaintext:       true,
		ALPN:            []string{"http/1.1"}, // what Envoy's HTTP inspector detects
		SourceIP:        netip.MustParseAddr("10.2.0.1"),
		DestinationIP:   ip,
		DestinationPort: uint32(r.Port),
	}
	authority := name + "." + ns + ".svc.cluster.local"
	if r.Port != 80 {
		authority += fmt.Sprintf(":%d", r.Port)
	}
	req.HTTP = httpRequest(r.Method, r.Path, authority, r.Headers)
	l := outboundListener(sc, ip, uint32(r.Port))
	if l == nil {
		return nil, fmt.Errorf("no outbound listener for %s:%d", ip, r.Port)
	}
	fc, err := envoyjudge.FilterChain(l, req)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.GetName(), err)
	}
	j.Chain = l.GetName() + "/" + fc.GetName()
	clusters, err := tcpProxyClusters(fc)
	if errors.Is(err, errNoTCPProxy) {
		// An HTTP chain: the router decides.
		d, err := envoyjudge.HTTPRoute(fc, rdsRoutes(sc, fc), req)
		if err != nil {
			return nil, fmt.Errorf("listener %s chain %q: %w", l.GetName(), fc.GetName(), err)
		}
		if d.NotFound {
			return nil, fmt.Errorf("listener %s: no route (404)", l.GetName())
		}
		clusters = d.Clusters
	} else if err != nil {
		return nil, fmt.Errorf("listener %s chain %q: %w", l.GetName(), fc.GetName(), err)
	}
	out := map[string]int64{}
	for c, w := range clusters {
		if w == 0 {
			continue
		}
		switch {
		case c == util.PassthroughCluster:
			out[name] += int64(w) // the original destination: the root
		case strings.HasPrefix(c, "outbound|"):
			parts := strings.Split(c, "|") // outbound|port|subset|host
			host := strings.TrimSuffix(parts[3], ".svc.cluster.local")
			svc, svcNS, _ := strings.Cut(host, ".")
			if svcNS != ns || parts[1] != fmt.Sprint(r.Port) {
				return nil, fmt.Errorf("route sends the request to %s, not a port-%d Service of namespace %s", c, r.Port, ns)
			}
			out[svc] += int64(w)
		default:
			return nil, fmt.Errorf("route sends the request to cluster %s", c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("listener %s sends the request nowhere: %v", l.GetName(), clusters)
	}
	return out, nil
}

var errNoTCPProxy = errors.New("no tcp_proxy filter")

// tcpProxyClusters are the clusters of the chain's tcp_proxy filter (a
// chain without an HttpConnectionManager forwards the bytes of an HTTP
// request as they are): its cluster with weight 1, or its weighted clusters.
func tcpProxyClusters(fc *listenerv3.FilterChain) (map[string]uint32, error) {
	if _, err := envoyjudge.HTTPConnectionManager(fc); err == nil {
		return nil, errNoTCPProxy
	}
	for _, f := range fc.GetFilters() {
		if f.GetName() != "envoy.filters.network.tcp_proxy" {
			continue
		}
		var tp tcpproxyv3.TcpProxy
		if err := f.GetTypedConfig().UnmarshalTo(&tp); err != nil {
			return nil, err
		}
		if c := tp.GetCluster(); c != "" {
			return map[string]uint32{c: 1}, nil
		}
		out := map[string]uint32{}
		for _, wc := range tp.GetWeightedClusters().GetClusters() {
			out[wc.GetName()] += wc.GetWeight()
		}
		return out, nil
	}
	return nil, fmt.Errorf("filter chain %q has neither an http_connection_manager nor a tcp_proxy", fc.GetName())
}

// outboundListener is the listener Envoy hands a connection redirected to
// virtualOutbound (use_original_dst): the one bound to the original
// destination ip:port, else to 0.0.0.0:port, else virtualOutbound itself.
func outboundListener(s *sidecar, ip netip.Addr, port uint32) *listenerv3.Listener {
	var wildcard *listenerv3.Listener
	for _, l := range s.listeners {
		sa := l.GetAddress().GetSocketAddress()
		if sa == nil || sa.GetPortValue() != port || l.GetName() == "virtualInbound" {
			continue
		}
		switch sa.GetAddress() {
		case ip.String():
			return l
		case "0.0.0.0":
			wildcard = l
		}
	}
	if wildcard != nil {
		return wildcard
	}
	return s.listener("virtualOutbound")
}

// sortedKeys is for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
