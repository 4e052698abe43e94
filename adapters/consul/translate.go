// Package consul is smi-adapter's Consul backend: TrafficTargets become one
// service-intentions entry per destination, TrafficSplits a service-splitter
// (with a service-router for matches), and the service-defaults that L7
// features need — written through github.com/hashicorp/consul/api with
// check-and-set. Translate is pure; Backend applies its result with Sink.
package consul

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	capi "github.com/hashicorp/consul/api"

	"github.com/smi-adapter/smi-adapter/adapters/weights"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/regexsize"
)

// Diagnostic reasons of the Consul backend.
const (
	ReasonUnsupportedMatch = "UnsupportedMatch"
	ReasonCollision        = "NameCollision"
	// ReasonNamespaceCollapse: a source's Consul name also stands for
	// identities of that name in other namespaces that exist now (free
	// edition): an Error when one of them has no grant (nothing is granted to
	// the name), a Warning when all are granted (their rights are tied).
	ReasonNamespaceCollapse = "NamespaceCollapse"
)

// AnnotationConnectService is consul-k8s's pod annotation naming the Consul
// service a pod registers as (core/normalize.AnnotationConnectService, which
// decides what exists for model.Grant.Elsewhere; adapters do not import
// core/normalize).
const AnnotationConnectService = "consul.hashicorp.com/connect-service"

// Options of the Consul translation.
type Options struct {
	// Namespace is the Consul Enterprise namespace entries go to ("" for the
	// free edition, where every Kubernetes namespace shares one Consul namespace).
	Namespace string
	// MirrorNamespaces maps each Kubernetes namespace to the Consul
	// namespace MirrorPrefix+<namespace> (Consul Enterprise).
	MirrorNamespaces bool
	MirrorPrefix     string
	// DefaultAccess "deny" writes a service-intentions entry for the
	// wildcard destination with a "*" deny source (in every namespace, with
	// namespaces: defaultDeny): every service no TrafficTarget names is
	// closed too (SMI's deny by default), whatever the agent's default
	// intention policy. "allow" (default) leaves that to the agent's
	// configuration.
	DefaultAccess string
}

// ServiceName is the one mapping from a Kubernetes Service or ServiceAccount
// to a Consul service, as consul-k8s registers it: the same name (consul-k8s
// requires the ServiceAccount of a service's pods to carry the service's
// name), in the configured or mirrored Consul namespace.
func ServiceName(namespace, name string, o Options) (consulNamespace, consulName string) {
	if o.MirrorNamespaces {
		return o.MirrorPrefix + namespace, name
	}
	return o.Namespace, name
}

// Desired is one config entry smi-adapter wants.
type Desired struct {
	Entry   capi.ConfigEntry
	Sources []model.ObjectRef
	// Shared entries (service-defaults) may be wanted by several keys: they
	// carry all of them and go away with the last.
	Shared bool
	// Contested: another key wants the same entry (two Kubernetes objects
	// map to one Consul name). The entry's current owner keeps it; any other
	// claimant writes nothing.
	Contested bool
}

// EntryID names an entry across keys: kind, Consul namespace, name.
func EntryID(e capi.ConfigEntry) string {
	return e.GetKind() + "/" + e.GetNamespace() + "/" + e.GetName()
}

// Result of translating one slice.
type Result struct {
	Entries  []Desired
	Problems model.Problems
}

// Translate turns one model slice into Consul config entries (pure,
// deterministic). What Consul cannot express is left out and reported.
func Translate(slice *model.Slice, o Options) Result {
	res := Result{Problems: model.Problems{}}
	if slice.Key.Kind == model.KeyMesh && o.DefaultAccess == "deny" {
		res.Entries = append(res.Entries, Desired{Entry: defaultDeny(o)})
	}
	if sp := slice.Split; sp != nil {
		res.Entries = append(res.Entries, split(sp, o, res.Problems)...)
	}
	if pol := slice.Access; pol != nil && !pol.CrossNamespaceOnly {
		// A policy only TrafficTargets of another namespace's destination
		// point at (refused, CrossNamespace) writes nothing: its entry would
		// name that destination's Consul service and contest its grants.
		res.Entries = append(res.Entries, intentions(pol, o, res.Problems)...)
	}
	return res
}

func defaults(ns, name string, src []model.ObjectRef) Desired {
	return Desired{Entry: &capi.ServiceConfigEntry{Kind: capi.ServiceDefaults, Name: name, Namespace: ns, Protocol: "http"}, Sources: src, Shared: true}
}

// SplitServiceName is the virtual service a router sends matched requests
// to. The underscore keeps it apart from every real service: consul-k8s
// names services after Kubernetes Services, whose names (DNS labels) cannot
// hold one, while Consul accepts it (checked on the agent); "<root>-smi-split"
// was also a legal Service name, and with both present one split routed to
// the other's backends.
func SplitServiceName(root string) string { return root + "_smi-split" }

// splitProtocols: the appProtocols of a Kubernetes port that Consul's
// routers and splitters can carry.
var splitProtocols = map[string]bool{"http": true, "http2": true, "grpc": true, "h2c": true, "kubernetes.io/h2c": true, "grpc-web": true}

// tcpPort says why a port of the root is not an HTTP port ("" when it may
// be): its appProtocol names another protocol, or its name says tcp.
func tcpPort(p model.ServicePort) string {
	if p.AppProtocol != "" {
		if !splitProtocols[strings.ToLower(p.AppProtocol)] {
			return fmt.Sprintf("port %d has appProtocol %q", p.Port, p.AppProtocol)
		}
		return ""
	}
	if p.Name == "tcp" || strings.HasPrefix(p.Name, "tcp-") {
		return fmt.Sprintf("port %d is named %q", p.Port, p.Name)
	}
	return ""
}

func split(sp *model.Split, o Options, p model.Problems) []Desired {
	src := []model.ObjectRef{sp.From}
	if sp.Host {
		p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Message: fmt.Sprintf(
			"%s is a host name served by gateways (Flagger's service.hosts), not a Service: Consul splits services, so nothing is written", sp.Root.Name)})
		return nil
	}
	for _, rp := range sp.Root.Ports {
		if why := tcpPort(rp); why != "" && rp.Protocol == "TCP" {
			// Splitters need an http-like protocol along the whole chain;
			// setting http on a TCP service makes its connections fail.
			p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Message: fmt.Sprintf(
				"Consul splits only HTTP-like services, and %s's %s: nothing is written (traffic stays on the root; its service-defaults are left alone)", sp.Root.Name, why)})
			return nil
		}
	}
	for _, m := range sp.Matches {
		if err := regexTooLarge(m.Regexes()...); err != nil {
			p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Field: "spec.matches",
				Message: err.Error() + ": nothing is written (traffic stays on the root)"})
			return nil
		}
	}
	ns, root := ServiceName(sp.Root.Namespace, sp.Root.Name, o)
	root, ok := registeredName(sp.Root, root, "root", sp.From, p)
	if !ok {
		return nil
	}
	var names []string
	var ws []int64
	for _, b := range sp.Backends {
		_, n := ServiceName(b.Service.Namespace, b.Service.Name, o)
		if n, ok = registeredName(b.Service, n, "backend", sp.From, p); !ok {
			return nil
		}
		names = append(names, n)
		ws = append(ws, b.Weight)
	}
	hundredths := Hundredths(ws)
	// A splitter sends every request to the service, whatever its port, to
	// the backends: a backend with traffic that lacks one of the root's
	// ports would get that port's requests, which SMI keeps on the backends
	// that serve it (or the root).
	for i, b := range sp.Backends {
		if hundredths[i] == 0 {
			continue
		}
		for _, rp := range sp.Root.Ports {
			if rp.Protocol == "TCP" && !servesPort(b.Service, rp.Port) {
				p.Add(&model.Diagnostic{Object: sp.From, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Field: "spec.backends",
					Message: fmt.Sprintf("Consul splits all of %s's traffic alike, and backend %s, which gets traffic, lacks its port %d: nothing is written (traffic stays on the root)", sp.Root.Name, b.Service.Name, rp.Port)})
				return nil
			}
		}
	}
	splitter := &capi.ServiceSplitterConfigEntry{Kind: capi.ServiceSplitter, Name: root, Namespace: ns}
	if len(sp.Matches) > 0 {
		splitter.Name = SplitServiceName(root)
	}
	for i, n := range names {
		if hundredths[i] == 0 {
			continue // Consul gives a listed split traffic; a zero weight is left out
		}
		splitter.Splits = append(splitter.Splits, capi.ServiceSplit{Weight: float32(hundredths[i]) / 100, Service: n, Namespace: ns})
	}
	// Routers and splitters need an http-like protocol along the whole chain.
	out := []Desired{defaults(ns, root, src)}
	for _, n := range names {
		out = append(out, defaults(ns, n, src))
	}
	if len(sp.Matches) > 0 {
		out = append(out, defaults(ns, splitter.Name, src))
	}
	out = append(out, Desired{Entry: splitter, Sources: src})
	if len(sp.Matches) > 0 {
		router := &capi.ServiceRouterConfigEntry{Kind: capi.ServiceRouter, Name: root, Namespace: ns}
		for _, m := range sp.Matches {
			router.Routes = append(router.Routes, capi.ServiceRoute{
				Match:       &capi.ServiceRouteMatch{HTTP: routeMatch(m)},
				Destination: &capi.ServiceRouteDestination{Service: splitter.Name, Namespace: ns},
			})
		}
		out = append(out, Desired{Entry: router, Sources: src})
	}
	return out
}

// registeredName is the Consul name of a split's Service: the one name
// consul-k8s registers the pods it selects under (their connect-service
// annotation), else name. Pods registering under several names cannot be
// routed as one service: the split is reported and nothing is written.
func registeredName(s model.Service, name, role string, from model.ObjectRef, p model.Problems) (string, bool) {
	switch len(s.RegisteredNames) {
	case 0:
		return name, true
	case 1:
		return s.RegisteredNames[0], true
	}
	p.Add(&model.Diagnostic{Object: from, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Field: "spec",
		Message: fmt.Sprintf("the pods of the %s Service %s register in Consul under several names %v (consul.hashicorp.com/connect-service): Consul cannot route them as one service, nothing is written (traffic stays on the root)", role, s.Name, s.RegisteredNames)})
	return "", false
}

func servesPort(s model.Service, port int32) bool {
	for _, p := range s.Ports {
		if p.Port == port && p.Protocol == "TCP" {
			return true
		}
	}
	return false
}

// regexTooLarge checks regexes Envoy will compile (routers' and
// intentions' matches become safe_regex) against the program size Consul's
// Envoy bootstrap accepts (re2.max_program_size.error_level): Envoy
// refuses a larger one with the whole listener or route configuration.
func regexTooLarge(res ...string) error {
	for _, re := range res {
		if err := regexsize.Check(re, regexsize.ConsulProgramLimit); err != nil {
			return fmt.Errorf("Envoy would refuse the regex (re2.max_program_size.error_level is %d in Consul's bootstrap): %w", regexsize.ConsulProgramLimit, err)
		}
	}
	return nil
}

// routeMatch: Consul's regexes are Envoy's (RE2, full match), like the model's.
func routeMatch(m model.HTTPMatch) *capi.ServiceRouteHTTPMatch {
	h := &capi.ServiceRouteHTTPMatch{PathRegex: m.PathRegex, Methods: m.Methods}
	for _, hd := range m.Headers {
		h.Header = append(h.Header, capi.ServiceRouteHTTPMatchHeader{Name: hd.Name, Regex: hd.Regex})
	}
	if h.PathRegex == "" && len(h.Methods) == 0 && len(h.Header) == 0 {
		h.PathPrefix = "/"
	}
	return h
}

// Hundredths turns relative weights into hundredths of a percent that sum to
// exactly 10000 (Consul wants splits that total 100 with two decimals), by
// largest remainder (weights.Scale): a zero weight gets 0, a positive weight
// at least 1.
// Representable says whether Envoy receives h hundredths of a percent
// when a splitter says h: the agent stores a weight as float32(h)/100
// (NormalizeServiceSplitWeight) and gives Envoy int(weight*100) in float32
// arithmetic (agent/xds/routes.go), which truncates — 70.59 reaches Envoy
// as 7058, and the weights then sum to less than 10000.
func Representable(h int64) bool {
	f := float32(h) / 100
	return int64(f*100) == h
}

func Hundredths(ws []int64) []int64 {
	out := weights.Scale(ws, 10000)
	var sum float64
	for _, w := range ws {
		sum += float64(w)
	}
	share := func(i int) float64 { return float64(ws[i]) * 10000 / sum }
	// A weight the agent would truncate moves by a few hundredths and
	// another positive weight the other way, both staying representable, at
	// the least cost in distance to the exact shares.
	for i := range out {
		if ws[i] <= 0 || Representable(out[i]) {
			continue
		}
		dirs := []int64{1, -1, 2, -2, 3, -3}
		bestJ, bestD, bestCost := -1, int64(0), math.Inf(1)
		for _, d := range dirs {
			ni := out[i] + d
			if ni < 1 || !Representable(ni) {
				continue
			}
			for j := range out {
				nj := out[j] - d
				if j == i || ws[j] <= 0 || nj < 1 || !Representable(nj) {
					continue
				}
				cost := math.Abs(float64(ni)-share(i)) - math.Abs(float64(out[i])-share(i)) +
					math.Abs(float64(nj)-share(j)) - math.Abs(float64(out[j])-share(j))
				if cost < bestCost {
					bestJ, bestD, bestCost = j, d, cost
				}
			}
		}
		if bestJ >= 0 {
			out[i] += bestD
			out[bestJ] -= bestD
		}
	}
	return out
}

// rights is what Consul can grant one SMI source: everything, or a list of
// HTTP permissions (keyed by the model match, in order).
type rights struct {
	all   bool
	keys  []string
	perms map[string]*capi.IntentionHTTPPermission
	from  []model.ObjectRef
	who   []model.Identity
	// grants are the SMI grants that collapsed onto this Consul source.
	grants []model.Grant
}

func (r *rights) empty() bool { return !r.all && len(r.keys) == 0 }

func (r *rights) clone() *rights {
	return &rights{all: r.all, keys: slices.Clone(r.keys), perms: maps.Clone(r.perms), from: slices.Clone(r.from),
		who: slices.Clone(r.who), grants: slices.Clone(r.grants)}
}

// intersect narrows r to what both r and o grant.
func (r *rights) intersect(o *rights) {
	switch {
	case o.all:
	case r.all:
		r.all, r.keys, r.perms = false, o.keys, o.perms
	default:
		var keys []string
		for _, k := range r.keys {
			if o.perms[k] != nil {
				keys = append(keys, k)
			}
		}
		r.keys = keys
	}
}

func (r *rights) same(o *rights) bool {
	if r.all || o.all {
		return r.all == o.all
	}
	return slices.Equal(r.keys, o.keys)
}

// intentions: one service-intentions entry for the destination. A source
// granted all traffic gets Action allow; a source granted HTTP matches gets
// one allow permission per match and a final deny, so nothing else it sends
// passes whatever the default policy; every other source meets the "*" deny.
//
// Consul names a source by its service name alone (and, in Consul
// Enterprise, a Consul namespace): in the free edition ns-a/web and ns-b/web
// are the same source, and Consul refuses an entry that lists one name
// twice. Each Consul name gets one source, with only what SMI grants every
// identity it stands for (the intersection, so none gets more than SMI
// grants it); where their rights differ, the difference fails closed and
// both sides' TrafficTargets say so.
func intentions(pol *model.AccessPolicy, o Options, p model.Problems) []Desired {
	src := pol.From
	report := func(from []model.ObjectRef, msg string) {
		for _, ref := range from {
			p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Message: msg})
		}
	}
	ns, dest := ServiceName(pol.Destination.Namespace, pol.Destination.Name, o)
	entry := &capi.ServiceIntentionsConfigEntry{Kind: capi.ServiceIntentions, Name: dest, Namespace: ns}
	bySource := map[string]*rights{}
	var order []string
	for _, g := range pol.Grants {
		from := g.From
		if len(from) == 0 {
			from = src
		}
		g.From = from
		r := &rights{perms: map[string]*capi.IntentionHTTPPermission{}, from: from, who: []model.Identity{g.Source}, grants: []model.Grant{g}}
		for _, rl := range g.Rules {
			switch {
			case rl.Protocol == model.ProtocolUDP:
				report(from, fmt.Sprintf("%s: intentions cannot express UDP; nothing is granted for this rule", rl.Route))
			case rl.Protocol == model.ProtocolTCP && len(rl.Ports) > 0:
				report(from, fmt.Sprintf("%s: intentions have no port granularity, so a grant limited to ports %v cannot be expressed; nothing is granted for it", rl.Route, rl.Ports))
			case rl.Protocol == model.ProtocolTCP:
				r.all = true
			case len(rl.Ports) > 0:
				report(from, fmt.Sprintf("%s match %q: intentions have no port granularity, so an HTTP grant limited to ports %v cannot be expressed; nothing is granted for it", rl.Route, rl.Match, rl.Ports))
			default:
				if err := regexTooLarge(rl.HTTP.Regexes()...); err != nil {
					report(from, fmt.Sprintf("%s match %q: %v; nothing is granted for it (fail closed)", rl.Route, rl.Match, err))
					continue
				}
				h := &capi.IntentionHTTPPermission{PathRegex: rl.HTTP.PathRegex, Methods: rl.HTTP.Methods}
				for _, hd := range rl.HTTP.Headers {
					h.Header = append(h.Header, capi.IntentionHTTPHeaderPermission{Name: hd.Name, Regex: hd.Regex})
				}
				if h.PathRegex == "" && len(h.Methods) == 0 && len(h.Header) == 0 {
					h.PathPrefix = "/"
				}
				k := permissionKey(h)
				if r.perms[k] == nil {
					r.perms[k] = h
					r.keys = append(r.keys, k)
				}
			}
		}
		if r.all {
			r.keys, r.perms = nil, map[string]*capi.IntentionHTTPPermission{}
		}
		sort.Strings(r.keys)
		// The source's pods may register under other names (consul-k8s's
		// connect-service annotation): each is a source with its rights.
		names := g.SourceNames
		if len(names) == 0 {
			names = []string{g.Source.Name}
		}
		for i, n := range names {
			r := r
			if i > 0 {
				r = r.clone()
			}
			sns, sname := ServiceName(g.Source.Namespace, n, o)
			name := sns + "/" + sname
			prev := bySource[name]
			if prev == nil {
				bySource[name] = r
				order = append(order, name)
				continue
			}
			if !prev.same(r) {
				msg := fmt.Sprintf("Consul names %s and %s the same source %q (all Kubernetes namespaces share one Consul namespace): it gets only what SMI grants both, the rest of each grant fails closed",
					identities(prev.who), g.Source, sname)
				report(prev.from, msg)
				report(from, msg)
			}
			prev.intersect(r)
			prev.who = append(prev.who, g.Source)
			prev.from = append(prev.from, from...)
			prev.grants = append(prev.grants, g)
		}
	}
	sort.Strings(order)
	if !o.MirrorNamespaces {
		for _, name := range order {
			_, sname, _ := strings.Cut(name, "/")
			collapse(sname, bySource[name], pol, p)
		}
	}
	l7 := false
	for _, name := range order {
		r := bySource[name]
		if r.empty() {
			continue // nothing expressible: the "*" deny covers it
		}
		sns, sname, _ := strings.Cut(name, "/")
		si := &capi.SourceIntention{Name: sname, Namespace: sns, Type: capi.IntentionSourceConsul}
		if r.all {
			si.Action = capi.IntentionActionAllow
		} else {
			l7 = true
			for _, k := range r.keys {
				si.Permissions = append(si.Permissions, &capi.IntentionPermission{Action: capi.IntentionActionAllow, HTTP: r.perms[k]})
			}
			si.Permissions = append(si.Permissions, &capi.IntentionPermission{Action: capi.IntentionActionDeny, HTTP: &capi.IntentionHTTPPermission{PathPrefix: "/"}})
		}
		entry.Sources = append(entry.Sources, si)
	}
	entry.Sources = append(entry.Sources, denyEveryone(o))
	// The destination's pods may register under other names (consul-k8s's
	// connect-service annotation): each gets the same entry, or its
	// sidecars would meet only the agent's default policy.
	dests := pol.Workloads.ServiceNames
	if len(dests) == 0 {
		dests = []string{pol.Destination.Name}
	}
	var out []Desired
	for _, n := range dests {
		_, name := ServiceName(pol.Destination.Namespace, n, o)
		e := entry
		if name != dest {
			c := *entry
			c.Name = name
			e = &c
		}
		if l7 {
			out = append(out, defaults(ns, name, src))
		}
		out = append(out, Desired{Entry: e, Sources: src})
	}
	return out
}

// collapse checks a Consul source against the identities of its name that
// exist now in other namespaces (model.Grant.Elsewhere), which Consul's
// free edition cannot tell from the SMI sources the name stands for. If one
// of them is not an SMI source of this destination, granting the name would
// grant it too: nothing is granted to the name (fail closed) and every
// TrafficTarget carrying one of its grants says so. If all of them are SMI
// sources, the intersection already keeps each within its grant; each grant
// gets a warning that its rights are tied to theirs.
func collapse(sname string, r *rights, pol *model.AccessPolicy, p model.Problems) {
	if r.empty() {
		return // nothing is written for the name: nothing is widened
	}
	var denied []model.Identity
	for _, g := range r.grants {
		for _, id := range g.Elsewhere {
			if !slices.Contains(r.who, id) && !slices.Contains(denied, id) {
				denied = append(denied, id)
			}
		}
	}
	if len(denied) > 0 {
		sort.Slice(denied, func(i, j int) bool { return denied[i].String() < denied[j].String() })
		msg := fmt.Sprintf("Consul names source %s by its name %q alone (all Kubernetes namespaces share one Consul namespace), and %s %s now "+
			"(a pod running as service account %q or registered as %q by its %s annotation, or a Service named %q) with no grant to %s: granting %q would grant %s too, so nothing is granted to %q (fail closed)",
			identities(r.who), sname, identities(denied), plural(denied, "exists", "exist"), sname, sname, AnnotationConnectService, sname, pol.Destination, sname, plural(denied, "it", "them"), sname)
		for _, ref := range uniqueRefs(r.from) {
			p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityError, Reason: ReasonNamespaceCollapse, Message: msg})
		}
		r.all, r.keys = false, nil
		return
	}
	for _, g := range r.grants {
		if len(g.Elsewhere) == 0 {
			continue
		}
		msg := fmt.Sprintf("Consul names source %s by its name %q alone (all Kubernetes namespaces share one Consul namespace), as it does %s, which %s now and %s granted too: "+
			"their rights to %s are tied, each gets only what SMI grants all of them", g.Source, sname, identities(g.Elsewhere),
			plural(g.Elsewhere, "exists", "exist"), plural(g.Elsewhere, "is", "are"), pol.Destination)
		for _, ref := range uniqueRefs(g.From) {
			p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityWarning, Reason: ReasonNamespaceCollapse, Message: msg})
		}
	}
}

// plural picks the word agreeing with the number of ids.
func plural(ids []model.Identity, one, many string) string {
	if len(ids) == 1 {
		return one
	}
	return many
}

// uniqueRefs: refs without repeats, in order.
func uniqueRefs(refs []model.ObjectRef) []model.ObjectRef {
	var out []model.ObjectRef
	for _, r := range refs {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func identities(ids []model.Identity) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.String()
	}
	return strings.Join(parts, ", ")
}

// permissionKey is a canonical string of an HTTP permission.
func permissionKey(h *capi.IntentionHTTPPermission) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q|%q|%s", h.PathRegex, h.PathPrefix, strings.Join(h.Methods, ","))
	for _, hd := range h.Header {
		fmt.Fprintf(&b, "|%q=%q", hd.Name, hd.Regex)
	}
	return b.String()
}

// Namespaced reports whether o writes Consul Enterprise namespaces (a
// configured namespace, or mirrored Kubernetes namespaces): then a source
// without a Namespace means only the entry's own namespace.
func (o Options) Namespaced() bool { return o.MirrorNamespaces || o.Namespace != "" }

// everyNamespace is the Namespace of a source that must match callers in
// every Consul namespace: "*" with namespaces, "" (the one namespace) in the
// free edition, whose agent refuses namespace fields.
func everyNamespace(o Options) string {
	if o.Namespaced() {
		return "*"
	}
	return ""
}

// denyEveryone is the source that denies every caller no other source of the
// entry names: Name "*" in every namespace. A "*" source in the entry's own
// namespace alone would leave callers of other namespaces to the agent's
// default policy (allow, without ACLs).
func denyEveryone(o Options) *capi.SourceIntention {
	return &capi.SourceIntention{Name: "*", Namespace: everyNamespace(o), Action: capi.IntentionActionDeny, Type: capi.IntentionSourceConsul}
}

// defaultDeny is default-access=deny's entry: the wildcard destination with
// denyEveryone. Its own namespace is the configured one, which every
// Kubernetes namespace maps to, or with mirrored namespaces "*" (every
// namespace: a mirrored destination lives in the namespace of its Kubernetes
// namespace, so an entry of one namespace would close only that one).
func defaultDeny(o Options) *capi.ServiceIntentionsConfigEntry {
	ns := o.Namespace
	if o.MirrorNamespaces {
		ns = "*"
	}
	return &capi.ServiceIntentionsConfigEntry{Kind: capi.ServiceIntentions, Name: "*", Namespace: ns, Sources: []*capi.SourceIntention{denyEveryone(o)}}
}
