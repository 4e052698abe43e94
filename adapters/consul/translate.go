// Package consul is smi-adapter's Consul backend: TrafficTargets become one
// service-intentions entry per destination, TrafficSplits a service-splitter
// (with a service-router for matches), and the service-defaults that L7
// features need — written through github.com/hashicorp/consul/api with
// check-and-set. Translate is pure; Backend applies its result with Sink.
package consul

import (
	"fmt"
	"sort"
	"strings"

	capi "github.com/hashicorp/consul/api"

	"github.com/smi-adapter/smi-adapter/adapters/weights"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Diagnostic reasons of the Consul backend.
const (
	ReasonUnsupportedMatch = "UnsupportedMatch"
	ReasonCollision        = "NameCollision"
)

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
	// wildcard destination with a "*" deny source: every service no
	// TrafficTarget names is closed too (SMI's deny by default), whatever the
	// agent's default intention policy. "allow" (default) leaves that to the
	// agent's configuration.
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
		res.Entries = append(res.Entries, Desired{Entry: &capi.ServiceIntentionsConfigEntry{Kind: capi.ServiceIntentions, Name: "*", Namespace: o.Namespace,
			Sources: []*capi.SourceIntention{{Name: "*", Namespace: o.Namespace, Action: capi.IntentionActionDeny, Type: capi.IntentionSourceConsul}}}})
	}
	if sp := slice.Split; sp != nil {
		res.Entries = append(res.Entries, split(sp, o)...)
	}
	if pol := slice.Access; pol != nil {
		res.Entries = append(res.Entries, intentions(pol, o, res.Problems)...)
	}
	return res
}

func defaults(ns, name string, src []model.ObjectRef) Desired {
	return Desired{Entry: &capi.ServiceConfigEntry{Kind: capi.ServiceDefaults, Name: name, Namespace: ns, Protocol: "http"}, Sources: src, Shared: true}
}

// SplitServiceName is the virtual service a router sends matched requests to.
func SplitServiceName(root string) string { return root + "-smi-split" }

func split(sp *model.Split, o Options) []Desired {
	src := []model.ObjectRef{sp.From}
	ns, root := ServiceName(sp.Root.Namespace, sp.Root.Name, o)
	var names []string
	var ws []int64
	for _, b := range sp.Backends {
		_, n := ServiceName(b.Service.Namespace, b.Service.Name, o)
		names = append(names, n)
		ws = append(ws, b.Weight)
	}
	hundredths := Hundredths(ws)
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
func Hundredths(ws []int64) []int64 {
	return weights.Scale(ws, 10000)
}

// intentions: one service-intentions entry for the destination. A source
// granted all traffic gets Action allow; a source granted HTTP matches gets
// one allow permission per match and a final deny, so nothing else it sends
// passes whatever the default policy; every other source meets the "*" deny.
func intentions(pol *model.AccessPolicy, o Options, p model.Problems) []Desired {
	src := pol.From
	report := func(msg string) {
		for _, ref := range src {
			p.Add(&model.Diagnostic{Object: ref, Severity: model.SeverityError, Reason: ReasonUnsupportedMatch, Message: msg})
		}
	}
	ns, dest := ServiceName(pol.Destination.Namespace, pol.Destination.Name, o)
	entry := &capi.ServiceIntentionsConfigEntry{Kind: capi.ServiceIntentions, Name: dest, Namespace: ns}
	l7 := false
	for _, g := range pol.Grants {
		sns, sname := ServiceName(g.Source.Namespace, g.Source.Name, o)
		si := &capi.SourceIntention{Name: sname, Namespace: sns, Type: capi.IntentionSourceConsul}
		all := false
		for _, r := range g.Rules {
			switch {
			case r.Protocol == model.ProtocolUDP:
				report(fmt.Sprintf("%s: intentions cannot express UDP; nothing is granted for this rule", r.Route))
			case r.Protocol == model.ProtocolTCP && len(r.Ports) > 0:
				report(fmt.Sprintf("%s: intentions have no port granularity, so a grant limited to ports %v cannot be expressed; nothing is granted for it", r.Route, r.Ports))
			case r.Protocol == model.ProtocolTCP:
				all = true
			case len(r.Ports) > 0:
				report(fmt.Sprintf("%s match %q: intentions have no port granularity, so an HTTP grant limited to ports %v cannot be expressed; nothing is granted for it", r.Route, r.Match, r.Ports))
			default:
				h := &capi.IntentionHTTPPermission{PathRegex: r.HTTP.PathRegex, Methods: r.HTTP.Methods}
				for _, hd := range r.HTTP.Headers {
					h.Header = append(h.Header, capi.IntentionHTTPHeaderPermission{Name: hd.Name, Regex: hd.Regex})
				}
				if h.PathRegex == "" && len(h.Methods) == 0 && len(h.Header) == 0 {
					h.PathPrefix = "/"
				}
				si.Permissions = append(si.Permissions, &capi.IntentionPermission{Action: capi.IntentionActionAllow, HTTP: h})
			}
		}
		switch {
		case all:
			si.Permissions = nil
			si.Action = capi.IntentionActionAllow
		case len(si.Permissions) > 0:
			l7 = true
			si.Permissions = append(si.Permissions, &capi.IntentionPermission{Action: capi.IntentionActionDeny, HTTP: &capi.IntentionHTTPPermission{PathPrefix: "/"}})
		default:
			continue // nothing expressible: the "*" deny covers it
		}
		entry.Sources = append(entry.Sources, si)
	}
	sort.Slice(entry.Sources, func(i, j int) bool {
		return entry.Sources[i].Namespace+"/"+entry.Sources[i].Name < entry.Sources[j].Namespace+"/"+entry.Sources[j].Name
	})
	entry.Sources = append(entry.Sources, &capi.SourceIntention{Name: "*", Namespace: wildcardNS(ns), Action: capi.IntentionActionDeny, Type: capi.IntentionSourceConsul})
	var out []Desired
	if l7 {
		out = append(out, defaults(ns, dest, src))
	}
	return append(out, Desired{Entry: entry, Sources: src})
}

func wildcardNS(ns string) string {
	if ns == "" {
		return ""
	}
	return strings.TrimSpace(ns)
}
