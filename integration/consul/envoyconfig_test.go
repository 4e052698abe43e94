package consul_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	httprbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	capi "github.com/hashicorp/consul/api"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/envoyjudge"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// rbacHeaders collects the header matchers of every permission of the HTTP
// RBAC filters of a listener's chains.
func rbacHeaders(t *testing.T, cfg *xdsConfig) []*routev3.HeaderMatcher {
	t.Helper()
	l, err := publicListener(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []*routev3.HeaderMatcher
	var walk func(p *rbacv3.Permission)
	walk = func(p *rbacv3.Permission) {
		switch r := p.GetRule().(type) {
		case *rbacv3.Permission_Header:
			out = append(out, r.Header)
		case *rbacv3.Permission_AndRules:
			for _, q := range r.AndRules.GetRules() {
				walk(q)
			}
		case *rbacv3.Permission_OrRules:
			for _, q := range r.OrRules.GetRules() {
				walk(q)
			}
		case *rbacv3.Permission_NotRule:
			walk(r.NotRule)
		}
	}
	for _, fc := range l.GetFilterChains() {
		hcm, err := envoyjudge.HTTPConnectionManager(fc)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range hcm.GetHttpFilters() {
			if f.GetName() != "envoy.filters.http.rbac" {
				continue
			}
			var cfg httprbacv3.RBAC
			if err := f.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
				t.Fatal(err)
			}
			for _, p := range cfg.GetRules().GetPolicies() {
				for _, perm := range p.GetPermissions() {
					walk(perm)
				}
			}
		}
	}
	return out
}

// TestConsulEnvoyHostHeaderPermission: Consul copies an intention
// permission's header name verbatim into the HTTP RBAC filter of the
// destination's public listener: "host" becomes a HeaderMatcher named
// "host", ":authority" one named ":authority" (the agent accepts both).
// Envoy keeps the HTTP/1 Host header as :authority and looks the legacy name
// "host" up as :authority (source/common/http/header_map_impl.cc,
// StaticLookupTable<RequestHeaderMap>: "map a legacy host header to
// :authority"), so both match the request's host.
//
// envoyjudge answers otherwise for "host" (its httpView.get: "a matcher on
// host finds nothing"); until it models the alias, the rows it gets wrong
// are logged, not failed (reported to the lead).
func TestConsulEnvoyHostHeaderPermission(t *testing.T) {
	own, err := harness.StartConsul()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	ce := own.Client.ConfigEntries()
	host := func(name, exact string) *capi.IntentionHTTPPermission {
		return &capi.IntentionHTTPPermission{Header: []capi.IntentionHTTPHeaderPermission{{Name: name, Exact: exact}}}
	}
	all := &capi.IntentionHTTPPermission{PathPrefix: "/"}
	for _, e := range []capi.ConfigEntry{
		&capi.ServiceConfigEntry{Kind: capi.ServiceDefaults, Name: "api", Protocol: "http"},
		&capi.ServiceIntentionsConfigEntry{Kind: capi.ServiceIntentions, Name: "api", Sources: []*capi.SourceIntention{
			// allow only Host api.example, as smi-adapter writes a grant
			{Name: "web", Type: capi.IntentionSourceConsul, Permissions: []*capi.IntentionPermission{
				{Action: capi.IntentionActionAllow, HTTP: host("host", "api.example")}, {Action: capi.IntentionActionDeny, HTTP: all}}},
			{Name: "admin", Type: capi.IntentionSourceConsul, Permissions: []*capi.IntentionPermission{
				{Action: capi.IntentionActionAllow, HTTP: host(":authority", "api.example")}, {Action: capi.IntentionActionDeny, HTTP: all}}},
			// deny Host evil.example, allow the rest
			{Name: "batch", Type: capi.IntentionSourceConsul, Permissions: []*capi.IntentionPermission{
				{Action: capi.IntentionActionDeny, HTTP: host("host", "evil.example")}, {Action: capi.IntentionActionAllow, HTTP: all}}},
			{Name: "*", Type: capi.IntentionSourceConsul, Action: capi.IntentionActionDeny},
		}},
	} {
		if _, _, err := ce.Set(e, nil); err != nil {
			t.Fatalf("write %s %s: %v", e.GetKind(), e.GetName(), err)
		}
	}
	v, err := newEnvoyView(own.Client, own.GRPCAddr, consul.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	req := func(from, h string) conformance.AccessRequest {
		return conformance.AccessRequest{From: "default/" + from, To: "default/api", Port: 80, Method: "GET", Path: "/", Headers: map[string]string{"Host": h}}
	}
	cases := []struct {
		r    conformance.AccessRequest
		want bool // what Envoy does
		host bool // decided by a matcher named "host"
	}{
		{req("web", "api.example"), true, true},
		{req("web", "other.example"), false, true},
		{req("admin", "api.example"), true, false},
		{req("admin", "other.example"), false, false},
		{req("batch", "evil.example"), false, true},
		{req("batch", "api.example"), true, true},
	}
	sc := &conformance.Scenario{Name: "host-header"}
	for _, c := range cases {
		sc.Access = append(sc.Access, c.r)
	}
	if err := v.load(sc); err != nil {
		t.Fatal(err)
	}
	cfg, err := v.config("api")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range rbacHeaders(t, cfg) {
		if h.GetStringMatch().GetExact() != "" {
			names = append(names, h.GetName()+"="+h.GetStringMatch().GetExact())
		}
	}
	slices.Sort(names)
	if want := []string{":authority=api.example", "host=api.example", "host=evil.example"}; !slices.Equal(names, want) {
		t.Errorf("exact header matchers of api's HTTP RBAC: %v, want %v", names, want)
	}
	for _, c := range cases {
		got, err := v.allowed(v.consulName(c.r.From), "api", c.r, "HTTP")
		if err != nil {
			t.Fatalf("%s: %v", c.r, err)
		}
		if got != c.want {
			t.Errorf("%s: allowed=%v, want %v", c.r, got, c.want)
		}
	}
}

// TestConsulEnvoyRE2ProgramSize pins where Consul raises Envoy's RE2
// program size limit (Envoy's default error level is 100, which long
// generated regexes exceed): in the bootstrap `consul connect envoy` writes
// (layered_runtime static layer re2.max_program_size.error_level: 1048576),
// not in the xDS configuration the agent serves (listeners, routes and
// clusters carry no runtime).
func TestConsulEnvoyRE2ProgramSize(t *testing.T) {
	own, err := harness.StartConsul()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	bin, err := harness.ConsulBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := own.Client.Agent().ServiceRegister(&capi.AgentServiceRegistration{Name: "api", Port: 8080,
		Connect: &capi.AgentServiceConnect{SidecarService: &capi.AgentServiceRegistration{}}}); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "connect", "envoy", "-bootstrap", "-sidecar-for", "api", "-http-addr", "http://"+own.Addr, "-grpc-addr", own.GRPCAddr)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("consul connect envoy -bootstrap: %v\n%s", err, stderr.String())
	}
	var boot struct {
		Node struct {
			ID       string            `json:"id"`
			Cluster  string            `json:"cluster"`
			Metadata map[string]string `json:"metadata"`
		} `json:"node"`
		DynamicResources struct {
			ADSConfig struct {
				APIType string `json:"api_type"`
			} `json:"ads_config"`
		} `json:"dynamic_resources"`
		LayeredRuntime struct {
			Layers []struct {
				Name        string         `json:"name"`
				StaticLayer map[string]any `json:"static_layer"`
			} `json:"layers"`
		} `json:"layered_runtime"`
	}
	if err := json.Unmarshal(out, &boot); err != nil {
		t.Fatalf("bootstrap is not JSON: %v\n%s", err, out)
	}
	var level any
	for _, l := range boot.LayeredRuntime.Layers {
		if v, ok := l.StaticLayer["re2.max_program_size.error_level"]; ok {
			level = v
		}
	}
	if level != float64(1048576) {
		t.Errorf("bootstrap layered_runtime re2.max_program_size.error_level = %v, want 1048576\n%s", level, out)
	}
	// The ADS client speaks to the agent as this bootstrap's Envoy would:
	// Delta ADS, with the same node.
	if boot.DynamicResources.ADSConfig.APIType != "DELTA_GRPC" {
		t.Errorf("bootstrap ads_config api_type %q, want DELTA_GRPC", boot.DynamicResources.ADSConfig.APIType)
	}
	if boot.Node.ID != "api-sidecar-proxy" || boot.Node.Cluster != "api" || boot.Node.Metadata["namespace"] != "default" || boot.Node.Metadata["partition"] != "default" {
		t.Errorf("bootstrap node %+v", boot.Node)
	}
	// The xDS configuration carries no runtime: nothing of it names the key.
	v, err := newEnvoyView(own.Client, own.GRPCAddr, consul.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p, err := watchProxy(v.conn, "api-sidecar-proxy", "api")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.await(configTimeout, func(cfg *xdsConfig) error { return nil }); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for typ, res := range p.res {
		for name, a := range res {
			if bytes.Contains(a.GetValue(), []byte("re2.max_program_size")) {
				t.Errorf("%s %s names re2.max_program_size", typ, name)
			}
		}
	}
}
