// Package linkerd is smi-adapter's Linkerd backend. TrafficSplits become a
// ServiceProfile with dstOverrides (the product's default) or, for splits
// with matches and with splits=httproute, policy.linkerd.io HTTPRoutes
// attached to the root Service. TrafficTargets become Servers (deny by
// default), MeshTLSAuthentications naming the sources, AuthorizationPolicies,
// and HTTPRoutes for HTTP rules — planned together, as Linkerd authorizes
// each request on its one best route (overlap.go) — with the kubelet's
// probe routes kept authorized. Ports Linkerd carries as TCP (ports.go) get
// no HTTPRoute, inbound or outbound, and no split rule is left without a
// backend of weight above 0. Translate is pure; Backend applies it with
// the shared kubesink.
package linkerd

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd/api"
	"github.com/smi-adapter/smi-adapter/adapters/weights"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Diagnostic reasons of the Linkerd backend.
const (
	ReasonUnsupportedMatch = "UnsupportedMatch"
	ReasonSelectorNotExact = "SelectorNotExact"
	ReasonNoPorts          = "NoPorts"
	// ReasonProbeOpen: a probe route authorized for every network also
	// serves a request SMI may deny (GET /).
	ReasonProbeOpen = "ProbeRouteOpen"
	// ReasonWeightsApproximated: the split's ratio does not fit Linkerd's
	// weight encoding; the closest one that does is written.
	ReasonWeightsApproximated = "WeightsApproximated"
	// ReasonOpaquePort: a port Linkerd carries as TCP (tcpReason), where
	// HTTPRoutes and HTTP rules never apply.
	ReasonOpaquePort = "OpaquePort"
)

// Split modes.
const (
	SplitsServiceProfile = "serviceprofile" // dstOverrides (default); splits with matches still use HTTPRoute
	SplitsHTTPRoute      = "httproute"      // every split as HTTPRoute
)

// Options of the Linkerd translation.
type Options struct {
	ClusterDomain string // default cluster.local
	Splits        string // SplitsServiceProfile (default) or SplitsHTTPRoute
	// ProbeNetworks are the networks the kubelet's probes come from, as
	// Linkerd's own policyController.probeNetworks says (default: every
	// address, Linkerd's default too). The probe routes smi-adapter keeps
	// authorized on a Server are authorized for them only.
	ProbeNetworks []string
}

// DefaultProbeNetworks is Linkerd's own default for probeNetworks: every
// address.
var DefaultProbeNetworks = []string{"0.0.0.0/0", "::/0"}

func (o Options) withDefaults() Options {
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if len(o.ProbeNetworks) == 0 {
		o.ProbeNetworks = DefaultProbeNetworks
	}
	if o.Splits == "" {
		o.Splits = SplitsServiceProfile
	}
	return o
}

// Validate reports a bad option.
func (o Options) Validate() error {
	o = o.withDefaults()
	if o.Splits != SplitsServiceProfile && o.Splits != SplitsHTTPRoute {
		return fmt.Errorf("splits: %q is neither %s nor %s", o.Splits, SplitsServiceProfile, SplitsHTTPRoute)
	}
	for _, n := range o.ProbeNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			return fmt.Errorf("probe-networks: %q is not a CIDR: %w", n, err)
		}
	}
	return nil
}

// Result of translating one slice.
type Result struct {
	Objects  []kubesink.Object
	Problems model.Problems
}

var (
	gvServiceProfile = metav1.TypeMeta{APIVersion: "linkerd.io/v1alpha2", Kind: "ServiceProfile"}
	gvServer         = metav1.TypeMeta{APIVersion: "policy.linkerd.io/v1beta3", Kind: "Server"}
	gvAuthz          = metav1.TypeMeta{APIVersion: "policy.linkerd.io/v1alpha1", Kind: "AuthorizationPolicy"}
	gvMeshTLS        = metav1.TypeMeta{APIVersion: "policy.linkerd.io/v1alpha1", Kind: "MeshTLSAuthentication"}
	gvNetAuthn       = metav1.TypeMeta{APIVersion: "policy.linkerd.io/v1alpha1", Kind: "NetworkAuthentication"}
	gvHTTPRoute      = metav1.TypeMeta{APIVersion: "policy.linkerd.io/v1beta3", Kind: "HTTPRoute"}
)

// Translate turns one model slice into Linkerd objects (pure, deterministic).
func Translate(slice *model.Slice, opts Options) Result {
	o := opts.withDefaults()
	res := Result{Problems: model.Problems{}}
	if sp := slice.Split; sp != nil {
		res.Objects = append(res.Objects, split(sp, o, res.Problems)...)
	}
	if pol := slice.Access; pol != nil {
		res.Objects = append(res.Objects, access(pol, o, res.Problems)...)
		res.Objects = append(res.Objects, routeProfiles(pol, o, res.Problems)...)
	}
	for _, obj := range res.Objects {
		if rt, ok := obj.Obj.(*api.HTTPRoute); ok {
			storedForm(rt)
		}
	}
	return res
}

// storedForm writes out what Linkerd's HTTPRoute schema defaults (a rule
// without matches matches every path, a match without a path matches the
// prefix "/", a backend is a core Service of weight 1): the same meaning, and the
// object is stored as it is written — else smi-adapter, comparing what it
// wants with what is stored, would rewrite it on every reconcile.
func storedForm(rt *api.HTTPRoute) {
	core := ""
	for i := range rt.Spec.Rules {
		r := &rt.Spec.Rules[i]
		if len(r.Matches) == 0 {
			r.Matches = []api.HTTPRouteMatch{{}}
		}
		for j := range r.Matches {
			if r.Matches[j].Path == nil {
				r.Matches[j].Path = &api.PathMatch{Type: "PathPrefix", Value: "/"}
			}
		}
		for j := range r.BackendRefs {
			b := &r.BackendRefs[j]
			if b.Group == nil {
				b.Group = &core
			}
			if b.Kind == "" {
				b.Kind = "Service"
			}
			if b.Weight == nil {
				b.Weight = ptr(int32(1))
			}
		}
	}
}

// routeProfiles gives each Service in front of the destination a
// ServiceProfile whose routes are the HTTP matches granted to it, so that
// Linkerd's per-route metrics follow the SMI routes. ServiceProfile
// conditions have no header matching: a match's route covers its path and
// methods only (metrics, not access, depend on it); a match with neither is
// left out. A Service that is a split root gets none: its ServiceProfile
// belongs to the split, and one would make Linkerd ignore its HTTPRoutes.
func routeProfiles(pol *model.AccessPolicy, o Options, p model.Problems) []kubesink.Object {
	type named struct {
		name string
		m    model.HTTPMatch
	}
	seen := map[string]bool{}
	var routes []named
	for _, g := range pol.Grants {
		for _, r := range g.Rules {
			if r.Protocol != model.ProtocolHTTP || (r.HTTP.PathRegex == "" && len(r.HTTP.Methods) == 0) {
				continue
			}
			name := r.Route.Name + "/" + r.Match
			if r.Match == "" {
				name = r.Route.Name
			}
			k := name + "|" + matchKey(*r.HTTP)
			if seen[k] {
				continue
			}
			seen[k] = true
			if l := regexLimit(r.HTTP.PathRegex); r.HTTP.PathRegex != "" && l != "" {
				// The proxy compiles a ServiceProfile's regexes with Rust's
				// regex crate too, and would refuse the whole profile.
				for _, ref := range pol.From {
					p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityWarning, Reason: "RouteMetricsSkipped", Message: fmt.Sprintf(
						"route %s gets no per-route metrics: %s", name, l)})
				}
				continue
			}
			routes = append(routes, named{name, *r.HTTP})
		}
	}
	if len(routes) == 0 {
		return nil
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].name < routes[j].name })
	var out []kubesink.Object
	for _, svc := range pol.Services {
		if svc.SplitRoot {
			for _, ref := range pol.From {
				p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityWarning, Reason: "RouteMetricsSkipped", Message: fmt.Sprintf(
					"Service %s is the root of a TrafficSplit: its ServiceProfile belongs to the split, so no per-route metrics routes are written for it", svc.Name)})
			}
			continue
		}
		prof := &api.ServiceProfile{TypeMeta: gvServiceProfile, ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace, Name: ServiceProfileName(svc.Name, svc.Namespace, o.ClusterDomain)}}
		for _, rt := range routes {
			prof.Spec.Routes = append(prof.Spec.Routes, api.RouteSpec{Name: rt.name, Condition: condition(rt.m)})
		}
		out = append(out, kubesink.Object{Obj: prof, Sources: pol.From})
	}
	return out
}

// condition: all of the path and the methods (one method per condition,
// so several are an any).
func condition(m model.HTTPMatch) *api.RequestMatch {
	var parts []*api.RequestMatch
	if m.PathRegex != "" {
		parts = append(parts, &api.RequestMatch{PathRegex: m.PathRegex})
	}
	switch len(m.Methods) {
	case 0:
	case 1:
		parts = append(parts, &api.RequestMatch{Method: m.Methods[0]})
	default:
		anyOf := &api.RequestMatch{}
		for _, meth := range m.Methods {
			anyOf.Any = append(anyOf.Any, &api.RequestMatch{Method: meth})
		}
		parts = append(parts, anyOf)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return &api.RequestMatch{All: parts}
}

// ServiceProfileName is the name Linkerd looks up for a Service.
func ServiceProfileName(svc, ns, clusterDomain string) string {
	return svc + "." + ns + ".svc." + clusterDomain
}

// SplitUsesHTTPRoute says whether a split is written as HTTPRoutes: a
// ServiceProfile cannot split per route, and once a ServiceProfile exists
// Linkerd ignores the Service's outbound HTTPRoutes, so one root never gets
// both. A ServiceProfile also splits every port of its host alike (its
// dstOverrides carry no port), so a split whose backends do not all serve
// every port of the root is written as HTTPRoutes, one per port, too. With
// splits=httproute a root with a port Linkerd carries as TCP (tcpReason)
// keeps the ServiceProfile when it splits every port exactly: HTTPRoutes
// never apply to TCP, the proxy's TCP stack follows dstOverrides.
func SplitUsesHTTPRoute(sp *model.Split, o Options) bool {
	if len(sp.Matches) > 0 {
		return true
	}
	if _, _, ok := profileSplitsAlike(sp); !ok {
		return true
	}
	return o.withDefaults().Splits == SplitsHTTPRoute && len(tcpRootPorts(sp)) == 0
}

// profileSplitsAlike says whether every backend with traffic serves every
// TCP port of the root (a ServiceProfile then splits each port exactly);
// if not, it names a backend and the port it lacks.
func profileSplitsAlike(sp *model.Split) (backend string, port int32, ok bool) {
	for _, rp := range sp.Root.Ports {
		if rp.Protocol != "TCP" {
			continue
		}
		for _, b := range sp.Backends {
			if b.Weight > 0 && !serves(b.Service, rp.Port) {
				return b.Service.Name, rp.Port, false
			}
		}
	}
	return "", 0, true
}

// tcpRootPorts: why each TCP port of the root that Linkerd carries as TCP
// (never HTTP) is, by port.
func tcpRootPorts(sp *model.Split) map[int32]string {
	out := map[int32]string{}
	for _, rp := range sp.Root.Ports {
		if rp.Protocol != "TCP" {
			continue
		}
		if why := servicePortTCP(rp); why != "" {
			out[rp.Port] = why
		}
	}
	return out
}

// Weight bounds of what Linkerd carries. The destination service sends a
// ServiceProfile's dstOverride weights to the proxy as
// uint32(weight.MilliValue() * 10), decimillis: the weights must sum to at
// most 429,496 (so no weight, nor the proxy's total, wraps past 2^32-1). An
// HTTPRoute's backendRef weight is at most 1,000,000 (the CRD's bound).
const (
	maxProfileWeightSum = 429496
	maxRouteWeightSum   = 1000000
)

// splitWeights are the split's weights within bound, with a warning on the
// split when its ratio had to be approximated.
func splitWeights(sp *model.Split, bound int64, what string, p model.Problems) []int64 {
	ws := make([]int64, len(sp.Backends))
	for i, b := range sp.Backends {
		ws[i] = b.Weight
	}
	out, exact := weights.Bounded(ws, bound)
	if !exact {
		p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityWarning, Reason: ReasonWeightsApproximated, Message: fmt.Sprintf(
			"the weights' ratio does not fit %s (at most %d in all): written as %v, the closest ratio that does", what, bound, out)})
	}
	return out
}

func serves(s model.Service, port int32) bool {
	for _, p := range s.Ports {
		if p.Port == port && p.Protocol == "TCP" {
			return true
		}
	}
	return false
}

func split(sp *model.Split, o Options, p model.Problems) []kubesink.Object {
	if sp.Host {
		p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Message: fmt.Sprintf(
			"%s is a host name served by gateways (Flagger's service.hosts), not a Service: Linkerd splits Services, so nothing is written", sp.Root.Name)})
		return nil
	}
	var ports []int32
	for _, p := range sp.Root.Ports {
		if p.Protocol == "TCP" {
			ports = append(ports, p.Port)
		}
	}
	if len(ports) == 0 {
		return nil
	}
	if !SplitUsesHTTPRoute(sp, o) {
		if o.Splits == SplitsHTTPRoute {
			tcp := tcpRootPorts(sp)
			for _, port := range ports {
				if why := tcp[port]; why != "" {
					p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityWarning, Reason: ReasonOpaquePort, Field: "spec.service", Message: fmt.Sprintf(
						"splits=httproute, but port %d of %s %s: Linkerd carries it as TCP, which HTTPRoutes never split; the split is written as a ServiceProfile, which splits every port of %s alike (TCP too)", port, sp.Root.Name, why, sp.Root.Name)})
				}
			}
		}
		return profileSplit(sp, o, p)
	}
	return routeSplit(sp, ports, o, p)
}

// profileSplit: one ServiceProfile serves every port of the root's host.
// Its dstOverrides name backends without a port: Linkerd's destination
// service then gives each the port the client asked for (an explicit port
// would be kept for every port of the root). Every backend with traffic
// serves every port of the root (SplitUsesHTTPRoute). A profile whose
// dstOverrides all weigh 0 would leave the proxy no backend (its
// distribution never becomes ready): none is written.
func profileSplit(sp *model.Split, o Options, p model.Problems) []kubesink.Object {
	ws := splitWeights(sp, maxProfileWeightSum, "Linkerd's ServiceProfile weights (sent to the proxy in decimillis as a uint32)", p)
	prof := &api.ServiceProfile{TypeMeta: gvServiceProfile, ObjectMeta: metav1.ObjectMeta{
		Namespace: sp.Root.Namespace, Name: ServiceProfileName(sp.Root.Name, sp.Root.Namespace, o.ClusterDomain)}}
	var total int64
	for i, b := range sp.Backends {
		total += ws[i]
		prof.Spec.DstOverrides = append(prof.Spec.DstOverrides, &api.WeightedDst{
			Authority: fmt.Sprintf("%s.%s.svc.%s", b.Service.Name, b.Service.Namespace, o.ClusterDomain),
			Weight:    *resource.NewQuantity(ws[i], resource.DecimalSI),
		})
	}
	if total == 0 {
		return nil
	}
	return []kubesink.Object{{Obj: prof, Sources: []model.ObjectRef{sp.From}}}
}

// routeSplit writes HTTPRoutes per port of the root. A port Linkerd
// carries as TCP gets none (HTTPRoutes never apply there), nor does a port
// no backend with a weight serves: a rule whose backends all weigh 0 (the
// proxy drops them) has no backend, and every request it matches would
// wait and fail; such a port stays on the root Service.
func routeSplit(sp *model.Split, ports []int32, o Options, p model.Problems) []kubesink.Object {
	src := []model.ObjectRef{sp.From}
	ws := splitWeights(sp, maxRouteWeightSum, "an HTTPRoute's backendRef weights", p)
	matches := routeMatches(sp.Matches)
	for _, m := range matches {
		if l := matchLimit(m); l != "" {
			p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Message: fmt.Sprintf(
				"%s: nothing is split (traffic stays on the root Service)", l)})
			return nil
		}
	}
	tcp := tcpRootPorts(sp)
	var out []kubesink.Object
	for _, port := range ports {
		if why := tcp[port]; why != "" {
			reportTCPSplitPort(sp, why, port, p)
			continue
		}
		var backends []api.BackendRef
		var total int64
		for i, b := range sp.Backends {
			if serves(b.Service, port) {
				backends = append(backends, api.BackendRef{Name: b.Service.Name, Port: ptr(port), Weight: ptr(int32(ws[i]))})
				total += ws[i]
			}
		}
		if total == 0 {
			if len(backends) > 0 {
				p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityWarning, Reason: model.ReasonNoTraffic, Field: "spec.backends", Message: fmt.Sprintf(
					"every backend that serves port %d has weight 0: Linkerd drops such backends and would have none to send the port's requests to, so port %d is not split (its requests stay on the root Service)", port, port)})
			}
			continue
		}
		if len(backends) > maxRuleBackends {
			p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Message: fmt.Sprintf(
				"%d backends serve port %d; a Linkerd HTTPRoute rule allows %d: port %d is not split (traffic stays on the root Service)", len(backends), port, maxRuleBackends, port)})
			continue
		}
		out = append(out, portRoutes(sp, port, backends, matches, src)...)
	}
	return out
}

// reportTCPSplitPort says what becomes of a split on a root port Linkerd
// carries as TCP: with matches, nothing is lost (HTTP matches never match
// TCP, whose connections stay on the root, as SMI says for unmatched
// traffic); without, the port is not split, as only a ServiceProfile splits
// TCP and one would split the root's other ports wrongly.
func reportTCPSplitPort(sp *model.Split, why string, port int32, p model.Problems) {
	if len(sp.Matches) > 0 {
		p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityWarning, Reason: ReasonOpaquePort, Field: "spec.service", Message: fmt.Sprintf(
			"port %d of %s %s: Linkerd carries it as TCP, where HTTP matches never apply, so its connections stay on the root Service (no HTTPRoute is written for it)", port, sp.Root.Name, why)})
		return
	}
	msg := fmt.Sprintf("port %d of %s %s: Linkerd carries it as TCP, where HTTPRoutes never apply; only a ServiceProfile splits TCP, and it splits every port of the root alike", port, sp.Root.Name, why)
	if b, bp, ok := profileSplitsAlike(sp); !ok {
		msg += fmt.Sprintf(", but backend %s lacks port %d", b, bp)
	}
	p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Field: "spec.service", Message: msg + fmt.Sprintf(
		": port %d is not split (its connections stay on the root Service)", port)})
}

// portRoutes: the HTTPRoutes of one port of the root, every rule with the
// same backends.
func portRoutes(sp *model.Split, port int32, backends []api.BackendRef, matches []api.HTTPRouteMatch, src []model.ObjectRef) []kubesink.Object {
	var rules []api.HTTPRouteRule
	if len(sp.Matches) == 0 {
		rules = []api.HTTPRouteRule{{BackendRefs: backends}}
	} else {
		for _, chunk := range chunks(matches, maxRuleMatches) {
			rules = append(rules, api.HTTPRouteRule{Matches: chunk, BackendRefs: backends})
		}
	}
	// Routes of at most maxRouteRules rules each: Gateway API precedence
	// across routes of one parent is the same as within one, and every
	// rule has the same backends, so the meaning is kept.
	var out []kubesink.Object
	for i, group := range chunks(rules, maxRouteRules-1) {
		name := kubesink.ShortName(fmt.Sprintf("%s-smi-split-%d", sp.Root.Name, port))
		if i > 0 {
			name = kubesink.ShortName(fmt.Sprintf("%s-smi-split-%d-%d", sp.Root.Name, port, i))
		}
		rt := &api.HTTPRoute{TypeMeta: gvHTTPRoute, ObjectMeta: metav1.ObjectMeta{Namespace: sp.Root.Namespace, Name: name}}
		rt.Spec.ParentRefs = []api.ParentRef{{Group: "core", Kind: "Service", Name: sp.Root.Name, Port: ptr(port)}}
		rt.Spec.Rules = group
		if i == 0 && len(sp.Matches) > 0 {
			// Everything else goes to the root as usual. A rule without
			// matches is Gateway API's "/" prefix, the least specific of all.
			rt.Spec.Rules = append(rt.Spec.Rules, api.HTTPRouteRule{BackendRefs: []api.BackendRef{{Name: sp.Root.Name, Port: ptr(port)}}})
		}
		out = append(out, kubesink.Object{Obj: rt, Sources: src})
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// routeMatches: one HTTPRoute match per method (a match holds one method).
// Linkerd's proxy "full-matches" a regex by taking the leftmost-first match
// and checking that it spans the whole value, which is narrower than a full
// match for alternations ("yes|yesno" never matches "yesno"). Anchoring both
// ends makes the two the same: the model's path regexes already are
// ("^(?:re).*$"), header regexes are wrapped here.
func routeMatches(ms []model.HTTPMatch) []api.HTTPRouteMatch {
	var out []api.HTTPRouteMatch
	for _, m := range ms {
		base := api.HTTPRouteMatch{}
		if m.PathRegex != "" {
			base.Path = &api.PathMatch{Type: "RegularExpression", Value: m.PathRegex}
		}
		for _, h := range m.Headers {
			base.Headers = append(base.Headers, api.HeaderMatch{Type: "RegularExpression", Name: h.Name, Value: "^(?:" + h.Regex + ")$"})
		}
		if len(m.Methods) == 0 {
			if base.Path == nil && len(base.Headers) == 0 {
				base.Path = &api.PathMatch{Type: "PathPrefix", Value: "/"}
			}
			out = append(out, base)
			continue
		}
		for _, meth := range m.Methods {
			x := base
			x.Method = meth
			out = append(out, x)
		}
	}
	return out
}

func chunks[T any](in []T, n int) [][]T {
	var out [][]T
	for len(in) > n {
		out = append(out, in[:n])
		in = in[n:]
	}
	if len(in) > 0 {
		out = append(out, in)
	}
	return out
}

// access writes, for each exact selector of the destination's pods and each
// port it serves: a Server (accessPolicy deny: nothing is allowed that is
// not authorized), and the authorizations the grants call for.
func access(pol *model.AccessPolicy, o Options, p model.Problems) []kubesink.Object {
	src := pol.From
	report := func(reason, msg string) {
		for _, ref := range src {
			p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityError, Reason: reason, Message: msg})
		}
	}
	if !pol.Workloads.Exact {
		report(ReasonSelectorNotExact, fmt.Sprintf("Linkerd selects pods by labels and some pods running as %s share all their labels with pods of other service accounts; no Server covers them — give them a distinguishing label", pol.Destination))
	}
	// Which ports each grant reaches.
	allPorts := map[int32]bool{}
	for _, cp := range pol.Workloads.Ports {
		if cp.Protocol == "TCP" {
			allPorts[cp.Port] = true
		}
	}
	byPort := map[int32]*grantOnPort{}
	at := func(port int32) *grantOnPort {
		g := byPort[port]
		if g == nil {
			g = &grantOnPort{http: map[string][]model.Identity{}, m: map[string]model.HTTPMatch{}, label: map[string]string{}, from: map[string][]sourceRefs{}}
			byPort[port] = g
		}
		return g
	}
	for port := range allPorts {
		at(port) // every port gets a Server: deny by default
	}
	for _, g := range pol.Grants {
		for _, r := range g.Rules {
			if r.Protocol == model.ProtocolUDP {
				report(ReasonUnsupportedMatch, fmt.Sprintf("%s: Linkerd does not proxy UDP, so it can neither allow nor deny it; nothing is written for this rule", r.Route))
				continue
			}
			ports := r.Ports
			if len(ports) == 0 {
				for port := range allPorts {
					ports = append(ports, port)
				}
				if len(ports) == 0 {
					if pol.Workloads.Pods == 0 {
						// Nothing runs as the identity yet: nothing to program
						// until a pod starts (its ports then come with it).
						continue
					}
					report(ReasonNoPorts, fmt.Sprintf("%s grants all ports of %s, but its pods declare no container ports: Linkerd Servers need ports, so nothing is authorized", r.Route, pol.Destination))
					continue
				}
			}
			for _, port := range ports {
				gp := at(port)
				if r.Protocol == model.ProtocolTCP {
					gp.l4 = appendID(gp.l4, g.Source)
					continue
				}
				k := matchKey(*r.HTTP)
				gp.http[k] = appendID(gp.http[k], g.Source)
				gp.m[k] = *r.HTTP
				if _, ok := gp.label[k]; !ok {
					gp.label[k] = ruleLabel(r)
				}
				gp.from[k] = append(gp.from[k], sourceRefs{g.Source, g.From})
			}
		}
	}
	ports := make([]int32, 0, len(byPort))
	for port := range byPort {
		ports = append(ports, port)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })

	ns, sa := pol.Destination.Namespace, pol.Destination.Name
	var out []kubesink.Object
	mtas := map[string]string{} // identity set -> MeshTLSAuthentication name
	mta := func(ids []model.Identity) api.TargetRef {
		k := idsKey(ids)
		name, ok := mtas[k]
		if !ok {
			name = kubesink.ShortName(fmt.Sprintf("%s-smi-clients-%d", sa, len(mtas)))
			mtas[k] = name
			m := &api.MeshTLSAuthentication{TypeMeta: gvMeshTLS, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
			for _, id := range ids {
				m.Spec.IdentityRefs = append(m.Spec.IdentityRefs, api.TargetRef{Kind: "ServiceAccount", Name: id.Name, Namespace: id.Namespace})
			}
			out = append(out, kubesink.Object{Obj: m, Sources: src})
		}
		return api.TargetRef{Group: "policy.linkerd.io", Kind: "MeshTLSAuthentication", Name: name}
	}
	probesNeeded := false
	limitReported := map[string]bool{}
	plans := map[int32]routePlan{} // the same for every selector
	for si, sel := range pol.Workloads.Selectors {
		for _, port := range ports {
			gp := byPort[port]
			server := serverName(sa, si, port)
			tcp := containerPortTCP(pol, port)
			out = append(out, kubesink.Object{Obj: &api.Server{TypeMeta: gvServer,
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: server},
				Spec: api.ServerSpec{PodSelector: &metav1.LabelSelector{MatchLabels: sel}, Port: intstr.FromInt32(port),
					// "unknown" is Linkerd's schema default, written out: an
					// object stored unlike it is written would be rewritten on
					// every reconcile.
					ProxyProtocol: proxyProtocol(tcp), AccessPolicy: "deny"}}, Sources: src})
			serverRef := api.TargetRef{Group: "policy.linkerd.io", Kind: "Server", Name: server}
			if len(gp.l4) > 0 {
				out = append(out, authz(ns, kubesink.ShortName(server+"-l4"), serverRef, mta(sortIDs(gp.l4)), src))
			}
			if len(gp.http) == 0 {
				continue
			}
			if tcp != "" {
				if si == 0 {
					for _, ref := range src {
						p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityWarning, Reason: ReasonOpaquePort, Field: "spec.rules", Message: fmt.Sprintf(
							"port %d of %s %s: Linkerd carries it as TCP (its Server says proxyProtocol opaque), where HTTP rules never apply, so the HTTP grants %s give nothing on it (fail closed; a TCPRoute grants the port)",
							port, pol.Destination, tcp, strings.Join(gp.labels(), ", "))})
					}
				}
				continue
			}
			keys := gp.keys()
			plan, planned := plans[port]
			if !planned {
				plan = planRoutes(port, gp.grants(keys), gp.l4)
				plans[port] = plan
			}
			if si == 0 {
				for _, g := range plan.gaps {
					refs := src
					if g.grant >= 0 {
						refs = gp.grantedBy(keys[g.grant], g.missing)
					}
					for _, ref := range refs {
						d := *g.diag
						d.Object = ref
						p.Add(&d)
					}
				}
			}
			routes := make([]plannedRoute, 0, len(keys)+len(plan.intersections))
			routes = append(append(routes, plan.routes...), plan.intersections...)
			for ri, pr := range routes {
				name := kubesink.ShortName(fmt.Sprintf("%s-r%d", server, ri))
				k := keys[min(ri, len(keys)-1)]
				if pr.grant < 0 {
					// the requests grants both[0] and both[1] share
					name = kubesink.ShortName(fmt.Sprintf("%s-r%d-%d", server, pr.both[0], pr.both[1]))
					k = keys[pr.both[0]] + "&" + keys[pr.both[1]]
				}
				rt := &api.HTTPRoute{TypeMeta: gvHTTPRoute, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
				rt.Spec.ParentRefs = []api.ParentRef{{Group: "policy.linkerd.io", Kind: "Server", Name: server}}
				for _, chunk := range chunks(plannedMatches(pr), maxRuleMatches) {
					rt.Spec.Rules = append(rt.Spec.Rules, api.HTTPRouteRule{Matches: chunk})
				}
				if l := routeLimit(rt); l != "" {
					if !limitReported[k] {
						limitReported[k] = true
						report(ReasonUnsupportedMatch, fmt.Sprintf("%s; the match grants nothing (fail closed)", l))
					}
					continue
				}
				out = append(out, kubesink.Object{Obj: rt, Sources: src})
				out = append(out, authz(ns, name, api.TargetRef{Group: "policy.linkerd.io", Kind: "HTTPRoute", Name: name}, mta(pr.sources), src))
			}
			if plan.catchAll {
				// HTTPRoutes on a Server replace its default route: keep every
				// other request reachable for the sources granted all traffic.
				name := kubesink.ShortName(server + "-all")
				rt := &api.HTTPRoute{TypeMeta: gvHTTPRoute, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
				rt.Spec.ParentRefs = []api.ParentRef{{Group: "policy.linkerd.io", Kind: "Server", Name: server}}
				rt.Spec.Rules = []api.HTTPRouteRule{{Matches: []api.HTTPRouteMatch{{Path: &api.PathMatch{Type: "PathPrefix", Value: "/"}}}}}
				out = append(out, kubesink.Object{Obj: rt, Sources: src})
			}
			// HTTPRoutes on a Server also remove Linkerd's default probe
			// routes: authorize the kubelet's probes explicitly.
			var probes []api.HTTPRouteMatch
			for _, pr := range pol.Workloads.Probes {
				if pr.Port == port {
					probes = append(probes, api.HTTPRouteMatch{Path: &api.PathMatch{Type: "Exact", Value: pr.Path}, Method: "GET"})
				}
			}
			if len(probes) > 0 {
				probesNeeded = true
				name := kubesink.ShortName(server + "-probes")
				rt := &api.HTTPRoute{TypeMeta: gvHTTPRoute, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
				rt.Spec.ParentRefs = []api.ParentRef{{Group: "policy.linkerd.io", Kind: "Server", Name: server}}
				for _, chunk := range chunks(probes, maxRuleMatches) {
					rt.Spec.Rules = append(rt.Spec.Rules, api.HTTPRouteRule{Matches: chunk})
				}
				out = append(out, kubesink.Object{Obj: rt, Sources: src})
				out = append(out, authz(ns, name, api.TargetRef{Group: "policy.linkerd.io", Kind: "HTTPRoute", Name: name},
					api.TargetRef{Group: "policy.linkerd.io", Kind: "NetworkAuthentication", Name: kubeletName(sa)}, src))
			}
		}
	}
	if probesNeeded {
		na := &api.NetworkAuthentication{TypeMeta: gvNetAuthn, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: kubeletName(sa)}}
		for _, n := range o.ProbeNetworks {
			na.Spec.Networks = append(na.Spec.Networks, api.Network{CIDR: n})
		}
		out = append(out, kubesink.Object{Obj: na, Sources: src})
		if slices.Equal(o.ProbeNetworks, DefaultProbeNetworks) {
			for _, pr := range pol.Workloads.Probes {
				if pr.Path == "/" {
					for _, ref := range src {
						p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityWarning, Reason: ReasonProbeOpen, Message: fmt.Sprintf(
							"the kubelet probes GET / on port %d of %s: that request stays authorized for any client, meshed or not, as probe routes are on every network; set the backend's probe-networks to the kubelet's source networks (Linkerd's policyController.probeNetworks) to narrow it", pr.Port, pol.Destination)})
					}
					break
				}
			}
		}
	}
	return out
}

// grantOnPort is what the grants of an identity allow on one port.
type grantOnPort struct {
	l4    []model.Identity            // sources with all traffic on the port
	http  map[string][]model.Identity // match key -> sources
	m     map[string]model.HTTPMatch
	label map[string]string // match key -> where it comes from
	from  map[string][]sourceRefs
}

// sourceRefs: the SMI objects that grant a source a match.
type sourceRefs struct {
	source model.Identity
	refs   []model.ObjectRef
}

// grantedBy: the SMI objects that grant the match of key to any of ids,
// sorted and once each.
func (gp *grantOnPort) grantedBy(key string, ids []model.Identity) []model.ObjectRef {
	var out []model.ObjectRef
	for _, sr := range gp.from[key] {
		if slices.Contains(ids, sr.source) {
			for _, ref := range sr.refs {
				if !slices.Contains(out, ref) {
					out = append(out, ref)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// keys: the HTTP match keys, sorted (they number the routes).
func (gp *grantOnPort) keys() []string {
	keys := make([]string, 0, len(gp.http))
	for k := range gp.http {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// labels: where the HTTP matches come from, sorted.
func (gp *grantOnPort) labels() []string {
	var out []string
	for _, k := range gp.keys() {
		out = append(out, gp.label[k])
	}
	return out
}

// grants: the HTTP grants of keys, for planRoutes.
func (gp *grantOnPort) grants(keys []string) []portGrant {
	out := make([]portGrant, len(keys))
	for i, k := range keys {
		out[i] = portGrant{key: k, match: gp.m[k], sources: sortIDs(gp.http[k]), label: gp.label[k]}
	}
	return out
}

// ruleLabel names where an HTTP rule comes from, for messages.
func ruleLabel(r model.Rule) string {
	if r.Match == "" {
		return r.Route.String()
	}
	return fmt.Sprintf("%s match %q", r.Route, r.Match)
}

// proxyProtocol is the Server's proxyProtocol for a port tcpReason says
// carries TCP (why) or not (""): opaque, or Linkerd's detection.
func proxyProtocol(why string) string {
	if why != "" {
		return "opaque"
	}
	return "unknown"
}

// plannedMatches: the HTTPRoute matches of a planned route; an expanded
// one also matches each SMI method explicitly.
func plannedMatches(pr plannedRoute) []api.HTTPRouteMatch {
	ms := []model.HTTPMatch{pr.match}
	if pr.expanded {
		m := pr.match
		m.Methods = smiMethods
		ms = append(ms, m)
	}
	return routeMatches(ms)
}

// serverName is the name of the Server of one selector and port of an
// identity; every name the access objects take is shortened with a hash
// past 253 characters (kubesink.ShortName: a ServiceAccount's name may be
// 253 characters long itself).
func serverName(sa string, selector int, port int32) string {
	if selector == 0 {
		return kubesink.ShortName(fmt.Sprintf("%s-smi-%d", sa, port))
	}
	return kubesink.ShortName(fmt.Sprintf("%s-smi-%d-%d", sa, selector, port))
}

func kubeletName(sa string) string { return kubesink.ShortName(sa + "-smi-kubelet") }

func authz(ns, name string, target, authn api.TargetRef, src []model.ObjectRef) kubesink.Object {
	return kubesink.Object{Obj: &api.AuthorizationPolicy{TypeMeta: gvAuthz, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: api.AuthorizationPolicySpec{TargetRef: target, RequiredAuthenticationRefs: []api.TargetRef{authn}}}, Sources: src}
}

func appendID(list []model.Identity, id model.Identity) []model.Identity {
	for _, x := range list {
		if x == id {
			return list
		}
	}
	return append(list, id)
}

func sortIDs(ids []model.Identity) []model.Identity {
	out := append([]model.Identity{}, ids...)
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func idsKey(ids []model.Identity) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.String()
	}
	return strings.Join(parts, ",")
}

func matchKey(m model.HTTPMatch) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q|%s", m.PathRegex, strings.Join(m.Methods, ","))
	for _, h := range m.Headers {
		fmt.Fprintf(&b, "|%q=%q", h.Name, h.Regex)
	}
	return b.String()
}
