package consul_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	gproto "google.golang.org/protobuf/proto"
	"net/netip"
	"sort"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	capi "github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/envoyjudge"
)

// splitClient is the Consul service that sends a scenario's split requests:
// the SMI split question has no source. The underscore keeps it apart from
// every Kubernetes name (as adapters/consul's SplitServiceName does).
const splitClient = "smi_split-client"

// configTimeout bounds the wait for a sidecar's configuration to reflect
// the scenario's entries.
const configTimeout = 15 * time.Second

var loopback = netip.MustParseAddr("127.0.0.1")

// envoyView is what the agent's sidecars of one scenario are configured to
// do. For a scenario it registers, through the agent API, every destination
// and source service the scenario's requests use with a Connect sidecar
// proxy (a source gets an upstream, with a local bind port, to each
// destination it calls; splitClient one to each split root), opens one ADS
// stream per sidecar as its Envoy would, and answers from the listeners,
// routes and clusters the agent serves, decided by envoyjudge.
type envoyView struct {
	c           *capi.Client
	conn        *grpc.ClientConn
	opts        consul.Options
	trustDomain string

	pods       []*corev1.Pod             // the scenario's pods (consulName)
	registered []string                  // services registered on the agent
	upstreams  map[string][]string       // service -> upstream services
	binds      map[string]map[string]int // service -> upstream -> local bind port
	dests      map[string]bool           // services some access request calls
	proxies    map[string]*adsClient     // service -> its sidecar's ADS stream
	configs    map[string]*xdsConfig     // service -> its sidecar's configuration, once fresh
	protocols  map[string]string         // service -> protocol of its compiled discovery chain
}

func newEnvoyView(c *capi.Client, grpcAddr string, o consul.Options) (*envoyView, error) {
	conn, err := dialXDS(grpcAddr)
	if err != nil {
		return nil, err
	}
	roots, _, err := c.Agent().ConnectCARoots(nil)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("CA roots: %w", err)
	}
	if roots.TrustDomain == "" {
		_ = conn.Close()
		return nil, errors.New("the agent's CA roots carry no trust domain")
	}
	return &envoyView{c: c, conn: conn, opts: o, trustDomain: roots.TrustDomain}, nil
}

func (e *envoyView) Close() {
	_ = e.reset()
	_ = e.conn.Close()
}

// consulName is the Consul service an identity (namespace/name: a service
// account, or a split's Service) registers as, by consul-k8s's documented
// rule and not the adapter's code: the consul.hashicorp.com/connect-service
// annotation of a pod running as it, else its name (consul-k8s requires a
// pod's service account to be named as its service).
func (e *envoyView) consulName(identity string) string {
	ns, name, _ := strings.Cut(identity, "/")
	for _, p := range e.pods {
		sa := p.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		if p.Namespace == ns && sa == name {
			if v := strings.TrimSpace(p.Annotations["consul.hashicorp.com/connect-service"]); v != "" && !strings.Contains(v, ",") {
				return v
			}
		}
	}
	return name
}

// spiffe is the service identity Consul issues to a service's sidecar.
func (e *envoyView) spiffe(svc string) string {
	return "spiffe://" + e.trustDomain + "/ns/default/dc/dc1/svc/" + svc
}

// reset closes the streams and deregisters the previous scenario's services
// (their sidecars go with them).
func (e *envoyView) reset() error {
	for _, p := range e.proxies {
		p.Close()
	}
	var errs []error
	for _, svc := range e.registered {
		if err := e.c.Agent().ServiceDeregister(svc); err != nil {
			errs = append(errs, fmt.Errorf("deregister %s: %w", svc, err))
		}
	}
	e.registered = nil
	e.upstreams, e.binds, e.dests, e.proxies, e.configs, e.protocols = nil, nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// load registers the services sc's requests use (after its entries were
// written) and starts their sidecars' ADS streams.
func (e *envoyView) load(sc *conformance.Scenario) error {
	if err := e.reset(); err != nil {
		return err
	}
	e.upstreams, e.binds, e.dests = map[string][]string{}, map[string]map[string]int{}, map[string]bool{}
	e.proxies, e.configs, e.protocols = map[string]*adsClient{}, map[string]*xdsConfig{}, map[string]string{}
	add := func(svc, upstream string) {
		if _, ok := e.upstreams[svc]; !ok {
			e.upstreams[svc] = nil
			e.binds[svc] = map[string]int{}
		}
		if upstream == "" || e.binds[svc][upstream] != 0 {
			return
		}
		e.binds[svc][upstream] = 30000 + len(e.upstreams[svc])
		e.upstreams[svc] = append(e.upstreams[svc], upstream)
	}
	for _, r := range sc.Access {
		if strings.EqualFold(r.Protocol, "UDP") {
			continue
		}
		dst := e.consulName(r.To)
		e.dests[dst] = true
		add(dst, "")
		add(e.consulName(r.From), dst)
	}
	for _, r := range sc.Split {
		add(splitClient, e.consulName(r.Root))
	}
	names := make([]string, 0, len(e.upstreams))
	for svc := range e.upstreams {
		names = append(names, svc)
	}
	sort.Strings(names)
	for _, svc := range names {
		var ups []capi.Upstream
		for _, u := range e.upstreams[svc] {
			ups = append(ups, capi.Upstream{DestinationType: capi.UpstreamDestTypeService, DestinationName: u, LocalBindAddress: "127.0.0.1", LocalBindPort: e.binds[svc][u]})
		}
		reg := &capi.AgentServiceRegistration{ID: svc, Name: svc, Port: 8080, Address: "127.0.0.1",
			Connect: &capi.AgentServiceConnect{SidecarService: &capi.AgentServiceRegistration{Proxy: &capi.AgentServiceConnectProxyConfig{Upstreams: ups}}}}
		if err := e.c.Agent().ServiceRegister(reg); err != nil {
			return fmt.Errorf("register %s with a sidecar: %w", svc, err)
		}
		e.registered = append(e.registered, svc)
	}
	for _, svc := range names {
		p, err := watchProxy(e.conn, svc+"-sidecar-proxy", svc)
		if err != nil {
			return err
		}
		e.proxies[svc] = p
	}
	return nil
}

// warm registers, once, every service the scenarios use and waits for their
// sidecars' first configuration, all at once: the first sidecar of a name
// waits ~200ms for its configuration (measured; the agent then keeps that
// name's leaf certificate), later ones a few milliseconds, so the scenarios'
// sidecars, registered one scenario after another, no longer wait.
func (e *envoyView) warm(scenarios []conformance.Scenario) error {
	all := &conformance.Scenario{Name: "warm-up"}
	for _, sc := range scenarios {
		all.Access = append(all.Access, sc.Access...)
		all.Split = append(all.Split, sc.Split...)
	}
	if err := e.load(all); err != nil {
		return err
	}
	errs := make(chan error, len(e.proxies))
	for _, p := range e.proxies {
		go func() {
			_, err := p.await(configTimeout, func(*xdsConfig) error { return nil })
			errs <- err
		}()
	}
	var first error
	for range e.proxies {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return errors.Join(first, e.reset())
}

// protocol is the protocol of svc's compiled discovery chain (its
// service-defaults, else the default tcp), read from the agent after the
// scenario's entries were written.
func (e *envoyView) protocol(svc string) (string, error) {
	if p, ok := e.protocols[svc]; ok {
		return p, nil
	}
	out, _, err := e.c.DiscoveryChain().Get(svc, nil, nil)
	if err != nil {
		return "", fmt.Errorf("discovery chain of %s: %w", svc, err)
	}
	e.protocols[svc] = out.Chain.Protocol
	return out.Chain.Protocol, nil
}

func httpLike(p string) bool { return p == "http" || p == "http2" || p == "grpc" }

// config returns svc's sidecar configuration once it reflects the entries
// the scenario wrote. Intentions, discovery chains and resolved service
// configs reach a sidecar registered after the writes through the server's
// own state store (blocking queries started after the writes), but the
// protocol merged into the proxy's registration comes from the agent's
// cache, which may still hold a previous scenario's: the configuration is
// taken only once every listener's kind (http_connection_manager or
// tcp_proxy) agrees with the protocol the agent reports now.
func (e *envoyView) config(svc string) (*xdsConfig, error) {
	if cfg := e.configs[svc]; cfg != nil {
		return cfg, nil
	}
	p := e.proxies[svc]
	if p == nil {
		return nil, fmt.Errorf("no sidecar registered for %s", svc)
	}
	want := map[string]bool{} // listener -> http_connection_manager expected
	if e.dests[svc] {
		proto, err := e.protocol(svc)
		if err != nil {
			return nil, err
		}
		want["public"] = httpLike(proto)
	}
	for _, u := range e.upstreams[svc] {
		proto, err := e.protocol(u)
		if err != nil {
			return nil, err
		}
		want[u] = httpLike(proto)
	}
	cfg, err := p.await(configTimeout, func(cfg *xdsConfig) error {
		for what, http := range want {
			var l *listenerv3.Listener
			var err error
			if what == "public" {
				l, err = publicListener(cfg)
			} else {
				l, err = upstreamListener(cfg, e.binds[svc][what])
			}
			if err != nil {
				return err
			}
			for _, fc := range l.GetFilterChains() {
				_, herr := envoyjudge.HTTPConnectionManager(fc)
				if herr != nil && !errors.Is(herr, envoyjudge.ErrNoHTTPConnectionManager) {
					return herr
				}
				if (herr == nil) != http {
					return fmt.Errorf("listener %s: http_connection_manager=%v, but the protocol of %s is %q", l.GetName(), herr == nil, what, e.protocols[what])
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.configs[svc] = cfg
	return cfg, nil
}

// publicListener is the sidecar's inbound listener.
func publicListener(cfg *xdsConfig) (*listenerv3.Listener, error) {
	var found *listenerv3.Listener
	for name, l := range cfg.Listeners {
		if strings.HasPrefix(name, "public_listener") {
			if found != nil {
				return nil, fmt.Errorf("two public listeners: %s and %s", found.GetName(), name)
			}
			found = l
		}
	}
	if found == nil {
		return nil, errors.New("no public_listener")
	}
	return found, nil
}

// upstreamListener is the outbound listener on a local bind port.
func upstreamListener(cfg *xdsConfig, port int) (*listenerv3.Listener, error) {
	for _, l := range cfg.Listeners {
		if sa := l.GetAddress().GetSocketAddress(); sa != nil && sa.GetPortValue() == uint32(port) && !strings.HasPrefix(l.GetName(), "public_listener") {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no upstream listener on port %d", port)
}

func listenerPort(l *listenerv3.Listener) uint32 {
	return l.GetAddress().GetSocketAddress().GetPortValue()
}

// rdsRoutes returns the RDS route configuration of the chain's
// HttpConnectionManager (nil when inline).
func rdsRoutes(cfg *xdsConfig, fc *listenerv3.FilterChain) (*routev3.RouteConfiguration, error) {
	hcm, err := envoyjudge.HTTPConnectionManager(fc)
	if err != nil {
		return nil, err
	}
	name := hcm.GetRds().GetRouteConfigName()
	if name == "" {
		return nil, nil
	}
	rc := cfg.Routes[name]
	if rc == nil {
		return nil, fmt.Errorf("route configuration %q not served", name)
	}
	return rc, nil
}

// tcpProxyClusters reads the tcp_proxy filter of a chain without an
// HttpConnectionManager (envoyjudge decides HTTP routing only).
func tcpProxyClusters(fc *listenerv3.FilterChain) (map[string]uint32, error) {
	for _, f := range fc.GetFilters() {
		tc := f.GetTypedConfig()
		if tc == nil || tc.TypeUrl != "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy" {
			continue
		}
		var tp tcpproxyv3.TcpProxy
		if err := tc.UnmarshalTo(&tp); err != nil {
			return nil, err
		}
		switch cs := tp.GetClusterSpecifier().(type) {
		case *tcpproxyv3.TcpProxy_Cluster:
			return map[string]uint32{cs.Cluster: 1}, nil
		case *tcpproxyv3.TcpProxy_WeightedClusters:
			out := map[string]uint32{}
			for _, c := range cs.WeightedClusters.GetClusters() {
				out[c.GetName()] += c.GetWeight()
			}
			return out, nil
		}
		return nil, fmt.Errorf("tcp_proxy %q without a cluster", f.GetName())
	}
	return nil, errors.New("filter chain has neither an http_connection_manager nor a tcp_proxy")
}

// upstreamTLS is the TLS a cluster's connections to the mesh carry.
func upstreamTLS(c *clusterv3.Cluster) (*tlsv3.UpstreamTlsContext, error) {
	ts := c.GetTransportSocket()
	if ts == nil || ts.GetTypedConfig() == nil {
		return nil, fmt.Errorf("cluster %s has no TLS transport socket", c.GetName())
	}
	var u tlsv3.UpstreamTlsContext
	if err := ts.GetTypedConfig().UnmarshalTo(&u); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.GetName(), err)
	}
	return &u, nil
}

// clusterService is the Consul service a mesh cluster reaches: the one whose
// SPIFFE identity its TLS validation context requires of the server.
func (e *envoyView) clusterService(cfg *xdsConfig, name string) (string, error) {
	c := cfg.Clusters[name]
	if c == nil {
		return "", fmt.Errorf("route names cluster %q, which the agent does not serve (Envoy answers 503)", name)
	}
	u, err := upstreamTLS(c)
	if err != nil {
		return "", err
	}
	var svcs []string
	prefix := e.spiffe("")
	for _, m := range u.GetCommonTlsContext().GetValidationContext().GetMatchTypedSubjectAltNames() {
		if m.GetSanType() != tlsv3.SubjectAltNameMatcher_URI {
			continue
		}
		uri := m.GetMatcher().GetExact()
		if !strings.HasPrefix(uri, prefix) {
			return "", fmt.Errorf("cluster %s requires server identity %q, not a service of trust domain %s", name, uri, e.trustDomain)
		}
		svcs = append(svcs, strings.TrimPrefix(uri, prefix))
	}
	if len(svcs) != 1 {
		return "", fmt.Errorf("cluster %s requires server identities %v, want exactly one", name, svcs)
	}
	return svcs[0], nil
}

// leaf reads the client certificate a cluster presents.
func leaf(u *tlsv3.UpstreamTlsContext) (*x509.Certificate, error) {
	certs := u.GetCommonTlsContext().GetTlsCertificates()
	if len(certs) != 1 {
		return nil, fmt.Errorf("%d client certificates, want 1", len(certs))
	}
	block, _ := pem.Decode([]byte(certs[0].GetCertificateChain().GetInlineString()))
	if block == nil {
		return nil, errors.New("client certificate is not inline PEM")
	}
	return x509.ParseCertificate(block.Bytes)
}

// httpRequest is the scenario's request as Envoy's HTTP filters see it:
// header names lower case, none without a name, the Host header as
// :authority (the Kubernetes service name when the scenario gives none).
func httpRequest(method, path string, headers map[string]string, host string) *envoyjudge.HTTPRequest {
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/"
	}
	h := &envoyjudge.HTTPRequest{Method: method, Path: path, Authority: host, Headers: map[string]string{}}
	for k, v := range headers {
		k = strings.ToLower(k)
		if k == "" {
			continue // a header without a name is no header (the access fuzzer's inputs without one)
		}
		if k == "host" || k == ":authority" {
			h.Authority = v
			continue
		}
		h.Headers[k] = v
	}
	return h
}

// outbound follows a request the app of svc sends to its upstream's local
// bind port: the sidecar's upstream listener (plaintext from the app),
// then its http_connection_manager route or its tcp_proxy. It returns the
// clusters the request may go to with their weights; denied (with why) when
// the sidecar does not forward it at all.
func (e *envoyView) outbound(svc, upstream string, h *envoyjudge.HTTPRequest) (clusters map[string]uint32, denied string, err error) {
	cfg, err := e.config(svc)
	if err != nil {
		return nil, "", err
	}
	port := e.binds[svc][upstream]
	l, err := upstreamListener(cfg, port)
	if err != nil {
		return nil, "", err
	}
	req := envoyjudge.Request{Plaintext: true, SourceIP: loopback, DestinationIP: loopback, DestinationPort: uint32(port), HTTP: h}
	fc, err := envoyjudge.FilterChain(l, req)
	if errors.Is(err, envoyjudge.ErrNoFilterChain) {
		return nil, "no filter chain of " + l.GetName() + " takes the connection", nil
	}
	if err != nil {
		return nil, "", err
	}
	if _, herr := envoyjudge.HTTPConnectionManager(fc); herr == nil {
		if h == nil {
			return nil, l.GetName() + " is an http_connection_manager, which carries only HTTP", nil
		}
		rc, err := rdsRoutes(cfg, fc)
		if err != nil {
			return nil, "", err
		}
		d, err := envoyjudge.HTTPRoute(fc, rc, req)
		if err != nil {
			return nil, "", err
		}
		switch {
		case d.NotFound:
			return nil, "no route of " + l.GetName() + " matches (404)", nil
		case d.DirectResponse != nil:
			return nil, fmt.Sprintf("route %q answers %d itself", d.Route, *d.DirectResponse), nil
		case d.Redirect != nil:
			return nil, fmt.Sprintf("route %q redirects", d.Route), nil
		}
		return d.Clusters, "", nil
	} else if !errors.Is(herr, envoyjudge.ErrNoHTTPConnectionManager) {
		return nil, "", herr
	}
	c, err := tcpProxyClusters(fc)
	return c, "", err
}

// allowed decides an access request on the configuration the agent serves:
// the source's sidecar routes it (it must reach exactly the destination's
// cluster), then the destination's sidecar takes the mTLS connection on its
// public listener with the source's leaf certificate, the SNI and ALPN of
// that cluster, and envoyjudge applies its RBAC filters.
func (e *envoyView) allowed(src, dst string, r conformance.AccessRequest, proto string) (bool, error) {
	var h *envoyjudge.HTTPRequest
	if proto == "HTTP" {
		h = httpRequest(r.Method, r.Path, r.Headers, dst)
	}
	clusters, denied, err := e.outbound(src, dst, h)
	if err != nil || denied != "" {
		return false, err
	}
	var cluster string
	elsewhere := false // a splitter or router sends dst's requests to other services
	for name, w := range clusters {
		if w == 0 {
			continue
		}
		svc, err := e.clusterService(e.configs[src], name)
		if err != nil {
			return false, err
		}
		if svc != dst {
			elsewhere = true
		}
		if svc == dst || cluster == "" {
			cluster = name
		}
	}
	if cluster == "" {
		return false, fmt.Errorf("%s's sidecar sends the request nowhere (%v)", src, clusters)
	}
	u, err := upstreamTLS(e.configs[src].Clusters[cluster])
	if err != nil {
		return false, err
	}
	if svc, _ := e.clusterService(e.configs[src], cluster); elsewhere && svc != dst {
		// SMI's access is to dst's pods, whatever routing sends the
		// client's requests for dst elsewhere: the connection is decided
		// on dst's public listener, with the client's own leaf certificate
		// and dst's SNI (Consul's <service>.<namespace>.<dc>.internal.<trust domain>.consul).
		_, rest, ok := strings.Cut(u.GetSni(), ".")
		if !ok {
			return false, fmt.Errorf("%s's cluster %s: SNI %q", src, cluster, u.GetSni())
		}
		u = gproto.Clone(u).(*tlsv3.UpstreamTlsContext)
		u.Sni = dst + "." + rest
	}
	cert, err := leaf(u)
	if err != nil {
		return false, fmt.Errorf("%s's cluster %s: %w", src, cluster, err)
	}
	var uris []string
	for _, uri := range cert.URIs {
		uris = append(uris, uri.String())
	}
	if len(uris) != 1 || uris[0] != e.spiffe(src) {
		return false, fmt.Errorf("%s's leaf certificate names %v, want %s", src, uris, e.spiffe(src))
	}
	dcfg, err := e.config(dst)
	if err != nil {
		return false, err
	}
	l, err := publicListener(dcfg)
	if err != nil {
		return false, err
	}
	req := envoyjudge.Request{
		PrincipalURIs: uris, PeerDNSSANs: cert.DNSNames, PeerSubject: cert.Subject.String(),
		SNI: u.GetSni(), ALPN: u.GetCommonTlsContext().GetAlpnProtocols(),
		SourceIP: loopback, DestinationIP: loopback, DestinationPort: listenerPort(l), HTTP: h,
	}
	fc, err := envoyjudge.FilterChain(l, req)
	if errors.Is(err, envoyjudge.ErrNoFilterChain) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if h == nil {
		ok, err := envoyjudge.NetworkRBAC(fc, req)
		if err != nil || !ok {
			return false, err
		}
		if _, herr := envoyjudge.HTTPConnectionManager(fc); herr == nil {
			return false, nil // raw TCP meets an http_connection_manager
		} else if !errors.Is(herr, envoyjudge.ErrNoHTTPConnectionManager) {
			return false, herr
		}
		return true, nil
	}
	var rc *routev3.RouteConfiguration
	if _, herr := envoyjudge.HTTPConnectionManager(fc); herr == nil {
		if rc, err = rdsRoutes(dcfg, fc); err != nil {
			return false, err
		}
	}
	return envoyjudge.Authorize(fc, rc, req)
}

// split says over which services the split client's sidecar spreads the
// request to root, with the weights of its route (or tcp_proxy).
func (e *envoyView) split(root string, r conformance.SplitRequest) (map[string]int64, error) {
	clusters, denied, err := e.outbound(splitClient, root, httpRequest(r.Method, r.Path, r.Headers, root))
	if err != nil {
		return nil, err
	}
	if denied != "" {
		return nil, fmt.Errorf("the client's sidecar does not forward the request: %s", denied)
	}
	out := map[string]int64{}
	for name, w := range clusters {
		svc, err := e.clusterService(e.configs[splitClient], name)
		if err != nil {
			return nil, err
		}
		out[svc] += int64(w)
	}
	return out, nil
}
