// Package istio is smi-adapter's Istio backend: TrafficSplits become
// VirtualServices (networking.istio.io/v1), TrafficTargets become ALLOW
// AuthorizationPolicies (security.istio.io/v1). Translate is pure (model in,
// Istio objects out); Backend applies the result with the shared kubesink.
package istio

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/adapters/weights"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/regexsize"
)

// GatewaysAnnotation is Flagger's hint: a JSON list of gateways the
// VirtualService binds to (include "mesh" to keep in-mesh traffic).
const GatewaysAnnotation = "VirtualService.v1alpha3.networking.istio.io/spec.gateways"

// Diagnostic reasons of the Istio backend.
const (
	ReasonUnsupportedMatch = "UnsupportedMatch"
	ReasonSelectorNotExact = "SelectorNotExact"
	ReasonInvalidHint      = "InvalidHint"
	ReasonHTTPRuleOnTCP    = "HTTPRuleOnTCPPort"
	ReasonTCPRuleOnHTTP    = "TCPRuleOnHTTPPort"
	// ReasonWeightsApproximated: the split's ratio does not fit the mesh's
	// weight encoding; the closest one that does is written.
	ReasonWeightsApproximated = "WeightsApproximated"
)

// Identity modes for AuthorizationPolicy sources.
const (
	IdentityServiceAccounts = "serviceAccounts" // source.serviceAccounts "<ns>/<sa>" (Istio >= 1.25)
	IdentityPrincipals      = "principals"      // source.principals "<trust-domain>/ns/<ns>/sa/<sa>"
)

// Weight modes for VirtualService routes.
const (
	WeightsExact   = "exact"   // the exact SMI ratio as relative integers (Istio >= 1.15)
	WeightsPercent = "percent" // integers summing to 100 (older Istio), largest remainder
)

// Options of the Istio translation.
type Options struct {
	ClusterDomain string // default cluster.local
	TrustDomain   string // default cluster.local (Istio's meshConfig.trustDomain)
	Identity      string // IdentityServiceAccounts (default) or IdentityPrincipals
	Weights       string // WeightsExact (default) or WeightsPercent
	// DefaultAccess "deny" writes one allow-nothing AuthorizationPolicy in
	// RootNamespace: it applies to every workload of the mesh, so a workload
	// no TrafficTarget names is closed too (SMI's deny by default). "allow"
	// (default) leaves workloads without a TrafficTarget to Istio's default: open.
	DefaultAccess string
	RootNamespace string // Istio's root namespace, default istio-system
}

// DefaultDenyName is the name of the mesh-wide allow-nothing policy.
const DefaultDenyName = "smi-adapter-default-deny"

func (o Options) withDefaults() Options {
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if o.TrustDomain == "" {
		o.TrustDomain = "cluster.local"
	}
	if o.Identity == "" {
		o.Identity = IdentityServiceAccounts
	}
	if o.Weights == "" {
		o.Weights = WeightsExact
	}
	if o.DefaultAccess == "" {
		o.DefaultAccess = "allow"
	}
	if o.RootNamespace == "" {
		o.RootNamespace = "istio-system"
	}
	return o
}

// Validate reports a bad option.
func (o Options) Validate() error {
	o = o.withDefaults()
	if o.Identity != IdentityServiceAccounts && o.Identity != IdentityPrincipals {
		return fmt.Errorf("identity: %q is neither %s nor %s", o.Identity, IdentityServiceAccounts, IdentityPrincipals)
	}
	if o.Weights != WeightsExact && o.Weights != WeightsPercent {
		return fmt.Errorf("weights: %q is neither %s nor %s", o.Weights, WeightsExact, WeightsPercent)
	}
	if o.DefaultAccess != "allow" && o.DefaultAccess != "deny" {
		return fmt.Errorf("default-access: %q is neither allow nor deny", o.DefaultAccess)
	}
	return nil
}

// Result of translating one slice.
type Result struct {
	Objects  []kubesink.Object
	Problems model.Problems
}

// Translate turns one model slice into Istio objects. It is pure and
// deterministic. What Istio cannot express exactly is left out (fail closed)
// and reported as a problem on the SMI objects concerned.
func Translate(slice *model.Slice, opts Options) Result {
	o := opts.withDefaults()
	res := Result{Problems: model.Problems{}}
	if slice.Key.Kind == model.KeyMesh && o.DefaultAccess == "deny" {
		// An ALLOW policy with no rules allows nothing; without a selector, in
		// the root namespace, it applies to every workload of the mesh.
		ap := &securityv1.AuthorizationPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy"},
			ObjectMeta: metav1.ObjectMeta{Namespace: o.RootNamespace, Name: DefaultDenyName},
		}
		res.Objects = append(res.Objects, kubesink.Object{Obj: ap})
	}
	if slice.Split != nil {
		if vs := virtualService(slice.Split, o, res.Problems); vs != nil {
			res.Objects = append(res.Objects, kubesink.Object{Obj: vs, Sources: []model.ObjectRef{slice.Split.From}})
		}
	}
	if slice.Access != nil {
		res.Objects = append(res.Objects, authorizationPolicies(slice.Access, o, res.Problems)...)
	}
	return res
}

// VirtualServiceName is the name of the VirtualService written for a root Service.
func VirtualServiceName(root string) string { return root + "-smi-split" }

// AuthorizationPolicyName is the name of the i-th AuthorizationPolicy of an identity.
// A ServiceAccount's name may be 253 characters long: past that the name is
// shortened with a hash (kubesink.ShortName).
func AuthorizationPolicyName(sa string, i int) string {
	if i == 0 {
		return kubesink.ShortName(sa + "-smi-access")
	}
	return kubesink.ShortName(fmt.Sprintf("%s-smi-access-%d", sa, i))
}

func fqdn(svc model.Service, o Options) string {
	return svc.Name + "." + svc.Namespace + ".svc." + o.ClusterDomain
}

// portKind says how Istio treats a Service port: its protocol comes from
// appProtocol, else from the port name's prefix; otherwise it is sniffed.
type portKind int

const (
	portHTTP portKind = iota
	portTCP
	portSniffed // Istio detects HTTP at run time: write both routes
	portUDP
)

func classify(p model.ServicePort) portKind {
	if p.Protocol == "UDP" {
		return portUDP
	}
	proto := strings.ToLower(p.AppProtocol)
	if proto == "" {
		proto, _, _ = strings.Cut(strings.ToLower(p.Name), "-")
	}
	switch proto {
	case "http", "http2", "grpc", "grpc-web", "h2c", "kubernetes.io/h2c":
		return portHTTP
	case "tcp", "tls", "https", "mongo", "mysql", "redis":
		return portTCP
	}
	return portSniffed
}

// protocolSource says what makes Istio treat p as it does.
func protocolSource(p model.ServicePort) string {
	if p.AppProtocol != "" {
		return fmt.Sprintf("appProtocol %q", p.AppProtocol)
	}
	return fmt.Sprintf("port name %q", p.Name)
}

func virtualService(sp *model.Split, o Options, p model.Problems) *networkingv1.VirtualService {
	vs := &networkingv1.VirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"},
		ObjectMeta: metav1.ObjectMeta{Namespace: sp.Root.Namespace, Name: VirtualServiceName(sp.Root.Name)},
	}
	if err := matchesTooLarge(sp.Matches); err != nil {
		// Envoy refuses the regex, and with it the route configuration of
		// every sidecar that gets this VirtualService.
		p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Field: "spec.matches",
			Message: err.Error() + ": nothing is split (traffic stays on the root Service)"})
		return nil
	}
	if sp.Host {
		return hostVirtualService(vs, sp, o, p)
	}
	vs.Spec.Hosts = []string{fqdn(sp.Root, o)}
	if raw, ok := sp.Hints[GatewaysAnnotation]; ok {
		var gws []string
		if err := json.Unmarshal([]byte(raw), &gws); err != nil {
			p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityWarning, Reason: ReasonInvalidHint,
				Field: "metadata.annotations[" + GatewaysAnnotation + "]", Message: "not a JSON list of gateway names; ignored: " + err.Error()})
		} else {
			vs.Spec.Gateways = gws
		}
	}
	for _, rp := range sp.Root.Ports {
		kind := classify(rp)
		if kind == portUDP {
			continue // Istio does not route UDP
		}
		dests := weighted(sp, rp, o, p)
		if len(dests) == 0 {
			continue
		}
		if kind == portHTTP || kind == portSniffed {
			vs.Spec.Http = append(vs.Spec.Http, httpRoutes(sp, rp, dests, o)...)
		}
		if kind == portTCP && len(sp.Matches) > 0 {
			// SMI splits the HTTP requests its matches select; Istio proxies
			// this port as TCP and sees no HTTP request to match.
			p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityWarning, Reason: model.ReasonUnsupportedMatch, Field: "spec.matches",
				Message: fmt.Sprintf("Istio treats port %d of Service %s as TCP (%s) and cannot match HTTP requests there: traffic on that port is not split (it stays on the root Service)", rp.Port, sp.Root.Name, protocolSource(rp))})
		}
		if (kind == portTCP || kind == portSniffed) && len(sp.Matches) == 0 {
			// Matches are HTTP matches: opaque TCP never matches them and stays on the root.
			var rd []*networkingapi.RouteDestination
			for _, d := range dests {
				rd = append(rd, &networkingapi.RouteDestination{Destination: d.Destination, Weight: d.Weight})
			}
			vs.Spec.Tcp = append(vs.Spec.Tcp, &networkingapi.TCPRoute{
				Match: []*networkingapi.L4MatchAttributes{{Port: uint32(rp.Port)}},
				Route: rd,
			})
		}
	}
	if len(vs.Spec.Http) == 0 && len(vs.Spec.Tcp) == 0 {
		return nil // nothing to split on any port: traffic stays on the root
	}
	return vs
}

// matchesTooLarge checks every regex a VirtualService would carry against
// the program size Envoy's RE2 accepts in istiod's bootstrap
// (re2.max_program_size.error_level); istiod's validation checks length only.
func matchesTooLarge(ms []model.HTTPMatch) error {
	for _, m := range ms {
		for _, re := range m.Regexes() {
			if err := regexsize.Check(re, regexsize.IstioProgramLimit); err != nil {
				return fmt.Errorf("Envoy would refuse the regex (re2.max_program_size.error_level is %d in istiod's bootstrap): %w", regexsize.IstioProgramLimit, err)
			}
		}
	}
	return nil
}

// hostVirtualService: Flagger's service.hosts — the split's root is a host
// the named gateways serve. The VirtualService binds the host to those
// gateways and splits its HTTP traffic over the backends, each on its port
// named "http" (Flagger's service port) or its only port.
func hostVirtualService(vs *networkingv1.VirtualService, sp *model.Split, o Options, p model.Problems) *networkingv1.VirtualService {
	fail := func(msg string) *networkingv1.VirtualService {
		p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Message: msg + ": nothing is written"})
		return nil
	}
	var gws []string
	if err := json.Unmarshal([]byte(sp.Hints[GatewaysAnnotation]), &gws); err != nil || len(gws) == 0 {
		return fail(fmt.Sprintf("%s is a host name, and annotation %s is not a JSON list of the gateways that serve it", sp.Root.Name, GatewaysAnnotation))
	}
	if len(sp.Matches) > 0 {
		return fail(fmt.Sprintf("a split of the host %s with matches would leave unmatched requests nowhere to go (there is no root Service)", sp.Root.Name))
	}
	vs.Spec.Hosts = []string{sp.Root.Name}
	vs.Spec.Gateways = gws
	var ws []int64
	var dests []*networkingapi.HTTPRouteDestination
	for _, b := range sp.Backends {
		port := int32(0)
		for _, bp := range b.Service.Ports {
			if bp.Name == "http" || len(b.Service.Ports) == 1 {
				port = bp.Port
			}
		}
		if port == 0 {
			return fail(fmt.Sprintf("backend %s has several ports and none named http, so it is not clear which one the host's traffic goes to", b.Service.Name))
		}
		ws = append(ws, b.Weight)
		dests = append(dests, &networkingapi.HTTPRouteDestination{
			Destination: &networkingapi.Destination{Host: fqdn(b.Service, o), Port: &networkingapi.PortSelector{Number: uint32(port)}}})
	}
	bounded, exact := weights.Bounded(ws, maxWeightSum)
	if !exact {
		p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityWarning, Reason: ReasonWeightsApproximated, Message: fmt.Sprintf(
			"the weights sum past what Envoy accepts for a route: written as %v, the closest ratio that fits", bounded)})
	}
	if o.Weights == WeightsPercent {
		bounded = weights.Scale(ws, 100)
	}
	for i := range dests {
		dests[i].Weight = int32(bounded[i])
	}
	vs.Spec.Http = []*networkingapi.HTTPRoute{{Name: "split", Route: dests}}
	return vs
}

func httpRoutes(sp *model.Split, rp model.ServicePort, dests []*networkingapi.HTTPRouteDestination, o Options) []*networkingapi.HTTPRoute {
	port := uint32(rp.Port)
	if len(sp.Matches) == 0 {
		return []*networkingapi.HTTPRoute{{
			Name:  fmt.Sprintf("split-%d", rp.Port),
			Match: []*networkingapi.HTTPMatchRequest{{Port: port}},
			Route: dests,
		}}
	}
	var mr []*networkingapi.HTTPMatchRequest
	for _, m := range sp.Matches {
		mr = append(mr, matchRequests(m, port)...)
	}
	return []*networkingapi.HTTPRoute{
		{Name: fmt.Sprintf("split-%d", rp.Port), Match: mr, Route: dests},
		{ // everything else goes to the root Service as usual
			Name:  fmt.Sprintf("root-%d", rp.Port),
			Match: []*networkingapi.HTTPMatchRequest{{Port: port}},
			Route: []*networkingapi.HTTPRouteDestination{{Destination: &networkingapi.Destination{
				Host: fqdn(sp.Root, o), Port: &networkingapi.PortSelector{Number: port}}}},
		},
	}
}

// matchRequests: Istio's method holds one value, so a match with several
// methods becomes one match request per method (OR-ed); regexes are full-match
// in Istio and the model's are written for full match already.
func matchRequests(m model.HTTPMatch, port uint32) []*networkingapi.HTTPMatchRequest {
	base := func() *networkingapi.HTTPMatchRequest {
		r := &networkingapi.HTTPMatchRequest{Port: port}
		if m.PathRegex != "" {
			r.Uri = &networkingapi.StringMatch{MatchType: &networkingapi.StringMatch_Regex{Regex: m.PathRegex}}
		}
		for _, h := range m.Headers {
			if r.Headers == nil {
				r.Headers = map[string]*networkingapi.StringMatch{}
			}
			r.Headers[h.Name] = &networkingapi.StringMatch{MatchType: &networkingapi.StringMatch_Regex{Regex: h.Regex}}
		}
		return r
	}
	if len(m.Methods) == 0 {
		return []*networkingapi.HTTPMatchRequest{base()}
	}
	var out []*networkingapi.HTTPMatchRequest
	for _, meth := range m.Methods {
		r := base()
		r.Method = &networkingapi.StringMatch{MatchType: &networkingapi.StringMatch_Exact{Exact: meth}}
		out = append(out, r)
	}
	return out
}

// weighted lists the backends that serve the root port, with Istio weights.
func weighted(sp *model.Split, rp model.ServicePort, o Options, p model.Problems) []*networkingapi.HTTPRouteDestination {
	var names []string
	var ws []int64
	for _, b := range sp.Backends {
		serves := false
		for _, bp := range b.Service.Ports {
			serves = serves || (bp.Port == rp.Port && bp.Protocol == rp.Protocol)
		}
		if serves {
			names = append(names, fqdn(b.Service, o))
			ws = append(ws, b.Weight)
		}
	}
	var total int64
	for _, w := range ws {
		total += w
	}
	if total == 0 {
		return nil
	}
	var iw []int32
	if o.Weights == WeightsPercent {
		iw = Percent(ws)
	} else {
		bounded, exact := weights.Bounded(ws, maxWeightSum)
		iw = int32s(bounded)
		if !exact {
			p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityWarning, Reason: ReasonWeightsApproximated, Message: fmt.Sprintf(
				"the weights of port %d sum past what Envoy accepts for a route (each an int32, the sum at most 2^32-1): written as %v, the closest ratio that fits", rp.Port, iw)})
		}
	}
	out := make([]*networkingapi.HTTPRouteDestination, len(names))
	for i, n := range names {
		out[i] = &networkingapi.HTTPRouteDestination{
			Destination: &networkingapi.Destination{Host: n, Port: &networkingapi.PortSelector{Number: uint32(rp.Port)}},
			Weight:      iw[i],
		}
	}
	return out
}

// maxWeightSum bounds an Istio route's weights: each is an int32, and Envoy
// refuses a route configuration whose weighted clusters sum past 2^32-1.
// Keeping the sum within int32 satisfies both.
const maxWeightSum = 1<<31 - 1

// Percent turns relative weights into integers that sum to 100 by the
// largest-remainder method (weights.Scale): a backend with weight 0 gets 0,
// one with a positive weight at least 1 (1,1,1,0 is 34,33,33,0).
func Percent(ws []int64) []int32 {
	return int32s(weights.Scale(ws, 100))
}

func int32s(ws []int64) []int32 {
	out := make([]int32, len(ws))
	for i, w := range ws {
		out[i] = int32(w)
	}
	return out
}

// authorizationPolicies: one ALLOW policy per exact workload selector of the
// destination identity. The ALLOW policy itself closes the workloads to
// everything it does not list (SMI's deny by default).
func authorizationPolicies(pol *model.AccessPolicy, o Options, p model.Problems) []kubesink.Object {
	rules := accessRules(pol, o, p)
	reportHTTPOnTCP(pol, p)
	if !pol.Workloads.Exact {
		// No AuthorizationPolicy can select those pods without selecting the
		// other identity's pods too (and granting them, or closing them to,
		// what SMI gives this identity). What then reaches them is Istio's
		// default for a workload without a policy of its own.
		state := "they are NOT protected: with default-access=allow Istio lets every source reach them (set default-access=deny to close them)"
		if o.DefaultAccess == "deny" {
			state = "they are closed to every source (default-access=deny), including the sources SMI grants"
		}
		for _, ref := range pol.From {
			p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityError, Reason: ReasonSelectorNotExact, Message: fmt.Sprintf(
				"Istio selects workloads by labels and some pods running as %s share all their labels with pods of other service accounts, so no AuthorizationPolicy covers them: %s — give them a distinguishing label",
				pol.Destination, state)})
		}
	}
	var out []kubesink.Object
	for i, sel := range pol.Workloads.Selectors {
		ap := &securityv1.AuthorizationPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy"},
			ObjectMeta: metav1.ObjectMeta{Namespace: pol.Destination.Namespace, Name: AuthorizationPolicyName(pol.Destination.Name, i)},
		}
		ap.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: sel}
		ap.Spec.Action = securityapi.AuthorizationPolicy_ALLOW
		ap.Spec.Rules = rules
		out = append(out, kubesink.Object{Obj: ap, Sources: pol.From})
	}
	return out
}

// accessRules turns grants into Istio rules. Rules with the same "to" and
// "when" are merged across sources (at most 16 service accounts per source entry).
func accessRules(pol *model.AccessPolicy, o Options, p model.Problems) []*securityapi.Rule {
	type group struct {
		to      *securityapi.Rule_To
		when    []*securityapi.Condition
		sources []string
	}
	groups := map[string]*group{}
	var order []string
	for _, g := range pol.Grants {
		src := sourceName(g.Source, o)
		for _, r := range g.Rules {
			to, when, ok := ruleTarget(r, g.From, p)
			if !ok {
				continue
			}
			k := signature(to, when)
			gr := groups[k]
			if gr == nil {
				gr = &group{to: to, when: when}
				groups[k] = gr
				order = append(order, k)
			}
			if !contains(gr.sources, src) {
				gr.sources = append(gr.sources, src)
			}
		}
	}
	sort.Strings(order)
	var rules []*securityapi.Rule
	for _, k := range order {
		gr := groups[k]
		sort.Strings(gr.sources)
		for start := 0; start < len(gr.sources); start += 16 {
			end := min(start+16, len(gr.sources))
			s := &securityapi.Source{}
			if o.Identity == IdentityPrincipals {
				s.Principals = gr.sources[start:end]
			} else {
				s.ServiceAccounts = gr.sources[start:end]
			}
			rule := &securityapi.Rule{From: []*securityapi.Rule_From{{Source: s}}, When: gr.when}
			if gr.to != nil {
				rule.To = []*securityapi.Rule_To{gr.to}
			}
			rules = append(rules, rule)
		}
	}
	return rules
}

// maxQuoted bounds a regex or a piece of one quoted in a condition message
// (a class written out can be long; the route and match name say which).
const maxQuoted = 160

func bounded(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return s[:maxQuoted] + "…"
}

func sourceName(id model.Identity, o Options) string {
	if o.Identity == IdentityPrincipals {
		return o.TrustDomain + "/ns/" + id.Namespace + "/sa/" + id.Name
	}
	return id.Namespace + "/" + id.Name
}

// ruleTarget expresses one model rule as Istio's to/when, or reports why it
// cannot (ok=false: the rule grants nothing in Istio — fail closed).
func ruleTarget(r model.Rule, from []model.ObjectRef, p model.Problems) (*securityapi.Rule_To, []*securityapi.Condition, bool) {
	unsupported := func(msg string) (*securityapi.Rule_To, []*securityapi.Condition, bool) {
		for _, ref := range from {
			p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Message: msg})
		}
		return nil, nil, false
	}
	op := &securityapi.Operation{}
	for _, port := range r.Ports {
		op.Ports = append(op.Ports, strconv.Itoa(int(port)))
	}
	var when []*securityapi.Condition
	switch r.Protocol {
	case model.ProtocolUDP:
		return unsupported(fmt.Sprintf("%s: Istio does not proxy UDP, so it can neither allow nor deny it; nothing is written for this rule", r.Route))
	case model.ProtocolHTTP:
		m := r.HTTP
		if m.PathRegex != "" {
			paths, err := PathPatterns(m.PathRegex)
			if errors.Is(err, ErrMatchesNothing) {
				return nil, nil, false // matches no request: grants nothing, exactly as SMI
			}
			if err != nil {
				return unsupported(fmt.Sprintf("%s match %q: Istio authorization has no regex paths and %s cannot be written as exact or prefix paths (%s); this match grants nothing", r.Route, r.Match, bounded(m.PathRegex), bounded(err.Error())))
			}
			op.Paths = paths
		}
		op.Methods = append(op.Methods, m.Methods...)
		for _, h := range m.Headers {
			vals, err := ValuePatterns(h.Regex)
			if errors.Is(err, ErrMatchesNothing) {
				return nil, nil, false // no header value matches: grants nothing, exactly as SMI
			}
			if err != nil {
				return unsupported(fmt.Sprintf("%s match %q: header %s regex %q cannot be written as Istio exact/prefix/suffix values (%s); this match grants nothing", r.Route, r.Match, h.Name, bounded(h.Regex), bounded(err.Error())))
			}
			when = append(when, &securityapi.Condition{Key: "request.headers[" + h.Name + "]", Values: vals})
		}
	}
	if r.Protocol == model.ProtocolHTTP && len(op.Paths) == 0 && len(op.Methods) == 0 {
		// Keep the rule HTTP-only: without an HTTP field an Istio rule also
		// admits raw TCP, which an HTTPRouteGroup never grants. "*" matches
		// every request path.
		op.Paths = []string{"*"}
	}
	if len(op.Ports) == 0 && len(op.Paths) == 0 && len(op.Methods) == 0 {
		return nil, when, true // all traffic on every port (a TCPRoute without ports)
	}
	return &securityapi.Rule_To{Operation: op}, when, true
}

func signature(to *securityapi.Rule_To, when []*securityapi.Condition) string {
	var b strings.Builder
	if to != nil {
		op := to.Operation
		fmt.Fprintf(&b, "ports=%v paths=%v methods=%v", op.Ports, op.Paths, op.Methods)
	}
	for _, c := range when {
		fmt.Fprintf(&b, " when %s=%v", c.Key, c.Values)
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// reportHTTPOnTCP: Istio evaluates methods and paths only on ports it treats
// as HTTP. An SMI HTTP rule reaching a port Istio treats as TCP therefore
// denies that traffic (fail closed); say so.
//
// Conversely, a port Istio treats as HTTP is served by an HTTP connection
// manager only: raw TCP that is not HTTP is closed there, so a TCP rule
// grants nothing but HTTP on it.
func reportHTTPOnTCP(pol *model.AccessPolicy, p model.Problems) {
	seen := map[string]bool{}
	for _, g := range pol.Grants {
		for _, r := range g.Rules {
			if r.Protocol != model.ProtocolHTTP && r.Protocol != model.ProtocolTCP {
				continue
			}
			for _, svc := range pol.Services {
				for _, sp := range svc.Ports {
					kind := classify(sp)
					if (r.Protocol == model.ProtocolHTTP && kind != portTCP) || (r.Protocol == model.ProtocolTCP && kind != portHTTP) {
						continue
					}
					target := containerPort(sp, pol.Workloads.Ports)
					if len(r.Ports) > 0 && !containsPort(r.Ports, target) {
						continue
					}
					msg := fmt.Sprintf("%s match %q is an HTTP rule, but Istio treats port %d of Service %s (%s) as TCP and never matches HTTP rules there: that traffic is denied",
						r.Route, r.Match, sp.Port, svc.Name, protocolSource(sp))
					reason := ReasonHTTPRuleOnTCP
					if r.Protocol == model.ProtocolTCP {
						msg = fmt.Sprintf("%s grants TCP, but Istio treats port %d of Service %s (%s) as HTTP and closes raw TCP that is not HTTP there: only HTTP is let through",
							r.Route, sp.Port, svc.Name, protocolSource(sp))
						reason = ReasonTCPRuleOnHTTP
					}
					for _, ref := range g.From {
						if seen[ref.String()+msg] {
							continue
						}
						seen[ref.String()+msg] = true
						p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityWarning, Reason: reason, Message: msg})
					}
				}
			}
		}
	}
}

// containerPort resolves a Service port's target to a container port number.
func containerPort(sp model.ServicePort, ports []model.ContainerPort) int32 {
	if sp.TargetPort == "" {
		return sp.Port
	}
	if n, err := strconv.Atoi(sp.TargetPort); err == nil {
		return int32(n)
	}
	for _, cp := range ports {
		if cp.Name == sp.TargetPort {
			return cp.Port
		}
	}
	return 0
}

func containsPort(ports []int32, p int32) bool {
	for _, x := range ports {
		if x == p {
			return true
		}
	}
	return false
}
