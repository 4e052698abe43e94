package consul_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// The xDS resource types a Consul sidecar's Envoy asks for over ADS.
const (
	typeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
)

// envoyBuild is the Envoy version the ADS client announces in its node
// (user_agent_build_version), as Envoy does: Consul refuses versions older
// than its supported list and tailors nothing else to it. 1.35.8 is the
// newest Envoy Consul 1.22.3 supports (envoyextensions xdscommon/ENVOY_VERSIONS).
var envoyBuild = &typev3.SemanticVersion{MajorNumber: 1, MinorNumber: 35, Patch: 8}

// xdsConfig is one consistent view of what the agent served a sidecar.
type xdsConfig struct {
	Clusters  map[string]*clusterv3.Cluster
	Listeners map[string]*listenerv3.Listener
	Routes    map[string]*routev3.RouteConfiguration
	// Generation counts the responses applied so far.
	Generation int
}

// adsClient is one sidecar's Envoy as the agent sees it: a Delta ADS stream
// (Consul 1.22 serves only DeltaAggregatedResources; the state-of-the-world
// StreamAggregatedResources answers "not implemented") with node.id the
// proxy's service ID, subscribing to every cluster and listener (wildcard)
// and to the route configurations the listeners' HttpConnectionManagers
// name over RDS, ACKing every response as Envoy does. Endpoints (EDS) are not
// asked for: no verdict depends on them.
type adsClient struct {
	proxyID string
	cancel  context.CancelFunc
	stream  discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient

	mu      sync.Mutex
	res     map[string]map[string]*anypb.Any // type URL -> name -> resource
	seen    map[string]bool                  // type URL -> a response arrived
	rdsSubs map[string]bool
	gen     int
	err     error
	changed chan struct{} // closed (and replaced) on every change
}

// dialXDS opens the gRPC connection to the agent's plaintext gRPC port.
func dialXDS(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// watchProxy starts the ADS stream of the sidecar proxyID of service svc.
func watchProxy(conn *grpc.ClientConn, proxyID, svc string) (*adsClient, error) {
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ADS stream for %s: %w", proxyID, err)
	}
	c := &adsClient{proxyID: proxyID, cancel: cancel, stream: stream,
		res: map[string]map[string]*anypb.Any{}, seen: map[string]bool{}, rdsSubs: map[string]bool{}, changed: make(chan struct{})}
	// The node `consul connect envoy` writes into Envoy's bootstrap.
	meta, err := structpb.NewStruct(map[string]any{"namespace": "default", "partition": "default"})
	if err != nil {
		cancel()
		return nil, err
	}
	node := &corev3.Node{
		Id:                   proxyID,
		Cluster:              svc,
		Metadata:             meta,
		UserAgentName:        "envoy",
		UserAgentVersionType: &corev3.Node_UserAgentBuildVersion{UserAgentBuildVersion: &corev3.BuildVersion{Version: envoyBuild}},
	}
	// Envoy asks for clusters first, then listeners; the node goes with the
	// first request of the stream.
	for i, t := range []string{typeCluster, typeListener} {
		req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: t}
		if i == 0 {
			req.Node = node
		}
		if err := stream.Send(req); err != nil {
			cancel()
			return nil, fmt.Errorf("ADS %s: subscribe %s: %w", proxyID, t, err)
		}
	}
	go c.recv()
	return c, nil
}

func (c *adsClient) Close() { c.cancel() }

func (c *adsClient) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *adsClient) recv() {
	for {
		resp, err := c.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "context canceled") {
				err = fmt.Errorf("stream closed: %w", err)
			}
			c.fail(fmt.Errorf("ADS %s: %w", c.proxyID, err))
			return
		}
		newRDS, err := c.apply(resp)
		if err != nil {
			// A resource the client cannot take ends the stream (Envoy would
			// NACK it and keep the previous version: no verdict from that).
			c.fail(fmt.Errorf("ADS %s: %w", c.proxyID, err))
			c.cancel()
			return
		}
		ack := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce}
		if err := c.stream.Send(ack); err != nil {
			c.fail(fmt.Errorf("ADS %s: ack: %w", c.proxyID, err))
			return
		}
		if len(newRDS) > 0 {
			if err := c.stream.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeRoute, ResourceNamesSubscribe: newRDS}); err != nil {
				c.fail(fmt.Errorf("ADS %s: subscribe routes: %w", c.proxyID, err))
				return
			}
		}
	}
}

// apply takes a response in and returns the RDS names to subscribe to.
func (c *adsClient) apply(resp *discoveryv3.DeltaDiscoveryResponse) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.res[resp.TypeUrl]
	if m == nil {
		m = map[string]*anypb.Any{}
		c.res[resp.TypeUrl] = m
	}
	for _, r := range resp.Resources {
		if r.Resource == nil {
			return nil, fmt.Errorf("%s %q without a body", resp.TypeUrl, r.Name)
		}
		if r.Resource.TypeUrl != resp.TypeUrl {
			return nil, fmt.Errorf("%s response carries %s", resp.TypeUrl, r.Resource.TypeUrl)
		}
		m[r.Name] = r.Resource
	}
	for _, n := range resp.RemovedResources {
		delete(m, n)
	}
	c.seen[resp.TypeUrl] = true
	c.gen++
	close(c.changed)
	c.changed = make(chan struct{})
	var subscribe []string
	if resp.TypeUrl == typeListener {
		for _, a := range m {
			l := &listenerv3.Listener{}
			if err := a.UnmarshalTo(l); err != nil {
				return nil, err
			}
			names, err := rdsNames(l)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				if !c.rdsSubs[n] {
					c.rdsSubs[n] = true
					subscribe = append(subscribe, n)
				}
			}
		}
	}
	sort.Strings(subscribe)
	return subscribe, nil
}

// rdsNames lists the route configurations a listener's
// HttpConnectionManagers take from RDS.
func rdsNames(l *listenerv3.Listener) ([]string, error) {
	var out []string
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			tc := f.GetTypedConfig()
			if tc == nil || tc.TypeUrl != "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager" {
				continue
			}
			hcm := &hcmv3.HttpConnectionManager{}
			if err := tc.UnmarshalTo(hcm); err != nil {
				return nil, err
			}
			if n := hcm.GetRds().GetRouteConfigName(); n != "" {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// snapshot decodes the current resources; ok is false until clusters and
// listeners arrived and every route configuration a listener names is there.
func (c *adsClient) snapshot() (cfg *xdsConfig, ok bool, changed <-chan struct{}, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, false, nil, c.err
	}
	changed = c.changed
	if !c.seen[typeCluster] || !c.seen[typeListener] {
		return nil, false, changed, nil
	}
	cfg = &xdsConfig{Clusters: map[string]*clusterv3.Cluster{}, Listeners: map[string]*listenerv3.Listener{}, Routes: map[string]*routev3.RouteConfiguration{}, Generation: c.gen}
	decode := func(t string, into func(name string) proto.Message) error {
		for name, a := range c.res[t] {
			if err := a.UnmarshalTo(into(name)); err != nil {
				return fmt.Errorf("%s %q: %w", t, name, err)
			}
		}
		return nil
	}
	if err := decode(typeCluster, func(n string) proto.Message { cfg.Clusters[n] = &clusterv3.Cluster{}; return cfg.Clusters[n] }); err != nil {
		return nil, false, nil, err
	}
	if err := decode(typeListener, func(n string) proto.Message { cfg.Listeners[n] = &listenerv3.Listener{}; return cfg.Listeners[n] }); err != nil {
		return nil, false, nil, err
	}
	if err := decode(typeRoute, func(n string) proto.Message { cfg.Routes[n] = &routev3.RouteConfiguration{}; return cfg.Routes[n] }); err != nil {
		return nil, false, nil, err
	}
	for _, l := range cfg.Listeners {
		names, err := rdsNames(l)
		if err != nil {
			return nil, false, nil, err
		}
		for _, n := range names {
			if cfg.Routes[n] == nil {
				return nil, false, changed, nil
			}
		}
	}
	return cfg, true, changed, nil
}

// await returns the first complete configuration for which check returns
// nil, waiting for the agent's updates up to timeout; on timeout the error
// says what check last said.
func (c *adsClient) await(timeout time.Duration, check func(*xdsConfig) error) (*xdsConfig, error) {
	deadline := time.After(timeout)
	last := errors.New("no complete configuration (clusters, listeners and their routes) yet")
	for {
		cfg, ok, changed, err := c.snapshot()
		if err != nil {
			return nil, err
		}
		if ok {
			if last = check(cfg); last == nil {
				return cfg, nil
			}
		}
		select {
		case <-changed:
		case <-deadline:
			return nil, fmt.Errorf("sidecar %s: after %s: %w", c.proxyID, timeout, last)
		}
	}
}
