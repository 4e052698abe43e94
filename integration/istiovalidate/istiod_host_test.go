package istiovalidate

import (
	"fmt"
	"strings"
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	httprbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/envoyjudge"
	"github.com/smi-adapter/smi-adapter/integration/conformance/istiojudge"
)

// hostConfig matches the host three ways in a VirtualService and in an
// AuthorizationPolicy: a header named "host", a header named ":authority",
// and the dedicated field (VirtualService authority, operation hosts).
const hostConfig = strictMTLS + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.default.svc.cluster.local]
  http:
  - name: by-host-header
    match: [{headers: {host: {exact: web.default.svc.cluster.local}}}]
    route: [{destination: {host: web-a.default.svc.cluster.local}}]
  - name: by-authority-header
    match: [{headers: {":authority": {exact: web.default.svc.cluster.local}}}]
    route: [{destination: {host: web-b.default.svc.cluster.local}}]
  - name: by-authority-field
    match: [{authority: {exact: web}}]
    route: [{destination: {host: web-c.default.svc.cluster.local}}]
  - name: rest
    route: [{destination: {host: web.default.svc.cluster.local}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: default}
spec:
  selector: {matchLabels: {app: api}}
  rules:
  - when: [{key: "request.headers[host]", values: [a.example.com]}]
  - when: [{key: "request.headers[:authority]", values: [b.example.com]}]
  - to: [{operation: {hosts: [c.example.com]}}]
`

// headerNames lists the header matchers of an RBAC policy, as name=matcher.
func headerNames(p *rbacv3.Policy) []string {
	var out []string
	h := func(m *routev3.HeaderMatcher) {
		if m != nil {
			out = append(out, fmt.Sprintf("%s=%s", m.GetName(), strings.Join(strings.Fields(m.GetStringMatch().String()), " ")))
		}
	}
	var perm func(*rbacv3.Permission)
	perm = func(x *rbacv3.Permission) {
		h(x.GetHeader())
		for _, r := range x.GetAndRules().GetRules() {
			perm(r)
		}
		for _, r := range x.GetOrRules().GetRules() {
			perm(r)
		}
	}
	var prin func(*rbacv3.Principal)
	prin = func(x *rbacv3.Principal) {
		h(x.GetHeader())
		for _, r := range x.GetAndIds().GetIds() {
			prin(r)
		}
		for _, r := range x.GetOrIds().GetIds() {
			prin(r)
		}
	}
	for _, x := range p.GetPermissions() {
		perm(x)
	}
	for _, x := range p.GetPrincipals() {
		prin(x)
	}
	return out
}

// TestIstiodHostAndAuthority pins how istiod writes a host match into Envoy
// configuration, and what Envoy then does with it (envoyjudge): a match on a
// header named "host" is passed through verbatim as a HeaderMatcher on
// "host" (which Envoy's request header map looks up as :authority, the
// HTTP/1 Host header); ":authority" and the dedicated fields (VirtualService
// authority, operation hosts) become matchers on :authority, the hosts one
// ignoring case. A VirtualService match only ever sees the authorities that
// select the Service's virtual host (its own names and cluster IP). It also
// runs an SMI match on the "host" header through the translator, istiod and
// istiojudge, and logs what each says.
func TestIstiodHostAndAuthority(t *testing.T) {
	port := []corev1.ServicePort{{Name: "http", Port: 80}}
	objs := []runtime.Object{
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "api-0", Labels: map[string]string{"app": "api"}},
			Spec: corev1.PodSpec{ServiceAccountName: "api", Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "api"}, Spec: corev1.ServiceSpec{Ports: port, Selector: map[string]string{"app": "api"}}},
	}
	for _, s := range []string{"web", "web-a", "web-b", "web-c"} {
		objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: s}, Spec: corev1.ServiceSpec{Ports: port}})
	}
	quiet()
	j := &istiodJudge{t: t}
	defer j.Close()
	if err := j.start(hostConfig, j.kubeObjects(objs)); err != nil {
		t.Fatal(err)
	}

	// VirtualService: the client's outbound route configuration.
	rc := j.sidecarOf(nil, "default").routes["80"]
	var vh *routev3.VirtualHost
	for _, v := range rc.GetVirtualHosts() {
		if v.GetName() == "web.default.svc.cluster.local:80" {
			vh = v
		}
	}
	if vh == nil {
		t.Fatal("no virtual host for web")
	}
	want := map[string]string{"by-host-header": "host", "by-authority-header": ":authority", "by-authority-field": ":authority"}
	for _, r := range vh.GetRoutes() {
		if name, ok := want[r.GetName()]; ok {
			hs := r.GetMatch().GetHeaders()
			if len(hs) != 1 || hs[0].GetName() != name {
				t.Errorf("VirtualService route %s: header matchers %v, want one on %q", r.GetName(), hs, name)
			}
			t.Logf("VirtualService route %s -> Envoy route match headers %v", r.GetName(), hs)
		}
	}
	t.Logf("virtual host %s domains %v", vh.GetName(), vh.GetDomains())
	for _, c := range []struct {
		authority, route string
	}{
		{"web.default.svc.cluster.local", "by-host-header"}, // "host" finds :authority
		{"web", "by-authority-field"},
		{"web.default", "rest"},
		{"a.example.com", "allow_any"}, // another authority never reaches web's routes
	} {
		d, err := envoyjudge.Route(rc, envoyjudge.Request{HTTP: &envoyjudge.HTTPRequest{Method: "GET", Path: "/", Authority: c.authority}})
		if err != nil || d.Route != c.route {
			t.Errorf("authority %s: route %q (%v), want %q", c.authority, d.Route, err, c.route)
		}
		t.Logf("authority %s -> virtual host %s, route %s, clusters %v", c.authority, d.VirtualHost, d.Route, d.Clusters)
	}

	// AuthorizationPolicy: the destination's inbound HTTP RBAC filter.
	api := j.sidecarOf(j.pods[0], "default")
	var rules *rbacv3.RBAC
	for _, fc := range api.listener("virtualInbound").GetFilterChains() {
		hcm, err := envoyjudge.HTTPConnectionManager(fc)
		if err != nil {
			continue
		}
		for _, f := range hcm.GetHttpFilters() {
			if f.GetName() == "envoy.filters.http.rbac" {
				var cfg httprbacv3.RBAC
				if err := f.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
					t.Fatal(err)
				}
				rules = cfg.GetRules()
			}
		}
		break
	}
	for rule, name := range []string{"host", ":authority", ":authority"} {
		p := rules.GetPolicies()[fmt.Sprintf("ns[default]-policy[api]-rule[%d]", rule)]
		hs := headerNames(p)
		if len(hs) != 1 || !strings.HasPrefix(hs[0], name+"=") {
			t.Errorf("AuthorizationPolicy rule %d: header matchers %v, want one on %q", rule, hs, name)
		}
		t.Logf("AuthorizationPolicy rule %d -> Envoy RBAC header matchers %v", rule, hs)
	}
	for _, c := range []struct {
		host  string
		allow bool
	}{
		{"a.example.com", true},  // request.headers[host]: "host" finds :authority
		{"A.example.com", false}, // ... exact, case-sensitive
		{"b.example.com", true},  // request.headers[:authority]
		{"B.example.com", false}, // ... exact, case-sensitive
		{"c.example.com", true},  // operation hosts
		{"C.EXAMPLE.COM", true},  // ... ignore_case
		{"c.example.com:80", false},
	} {
		ok, err := j.Allowed(conformance.AccessRequest{From: "default/web", To: "default/api", Port: 80, Method: "GET", Path: "/", Headers: map[string]string{"host": c.host}})
		if err != nil || ok != c.allow {
			t.Errorf("Host %s: allowed=%v (%v), want %v", c.host, ok, err, c.allow)
		}
	}

	// An SMI match on the host header, through the product path.
	sc := conformance.Scenario{Name: "host-header", Objects: `
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules: [{kind: HTTPRouteGroup, name: routes, matches: [host]}]
  sources: [{kind: ServiceAccount, name: web}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes}
spec:
  matches: [{name: host, headers: {host: "api\\.example\\.com"}}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: split-routes}
spec:
  matches: [{name: host, headers: {host: "web"}}]
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s}
spec:
  service: web
  matches: [{kind: HTTPRouteGroup, name: split-routes}]
  backends: [{service: web-a, weight: 1}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-a}
spec: {ports: [{port: 80}]}
`, Access: []conformance.AccessRequest{{From: "default/web", To: "default/api", Port: 80, Method: "GET", Path: "/", Headers: map[string]string{"host": "api.example.com"}, Allow: true}}}
	decoded, err := sc.Decode()
	if err != nil {
		t.Fatal(err)
	}
	model := &conformance.ModelJudge{}
	second := &istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}}
	x := &istiodJudge{t: t, Options: istio.Options{DefaultAccess: "deny"}}
	defer x.Close()
	for _, jj := range []conformance.Judge{model, second, x} {
		if err := jj.Load(decoded); err != nil {
			t.Fatal(err)
		}
	}
	r := sc.Access[0]
	for _, jj := range []conformance.Judge{model, second, x} {
		ok, err := jj.Allowed(r)
		t.Logf("SMI host match: %s: %s allows=%v %v", r, jj.Name(), ok, err)
	}
	// The split: a client calling web with Host web (only the Service's own
	// names reach its virtual host, so only they can meet the match).
	sr := conformance.SplitRequest{Root: "default/web", Port: 80, Method: "GET", Path: "/", Headers: map[string]string{"host": "web"}}
	for _, jj := range []conformance.Judge{model, second, x} {
		got, err := jj.Split(sr)
		t.Logf("SMI host match: split %s: %s says %v %v", sr, jj.Name(), got, err)
	}
	t.Logf("what the translator wrote:\n%s", x.Config)
}
