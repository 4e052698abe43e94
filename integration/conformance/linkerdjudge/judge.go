// Package linkerdjudge decides what Linkerd does with the resources
// smi-adapter's Linkerd backend writes for a conformance scenario. It runs the
// product path (normalize, then linkerd.Translate) and evaluates the
// resulting objects by Linkerd's semantics, written independently of the
// translator, after Linkerd's documentation and its proxy's route matching.
// It refuses what it does not read (strict.go): a field it does not evaluate
// (MeshTLSAuthentication identities, HTTPRoute hostnames, filters,
// queryParams, Server matchExpressions, ...) or a value it does not (an
// identityRef of another kind than ServiceAccount, a parentRef, targetRef or
// requiredAuthenticationRef of another group or namespace, a backendRef
// without the request's port, networks narrower than every address) fails
// Load instead of being judged as if it were not there:
//
//   - Inbound: a Server selects pods by labels and a port. With no Server the
//     cluster's default inbound policy applies (DefaultInbound). A Server's
//     accessPolicy deny admits only what an AuthorizationPolicy authorizes; an
//     AuthorizationPolicy needs all of its required authentications (a
//     MeshTLSAuthentication's identities, a NetworkAuthentication's networks).
//     A policy targeting the Server covers all its traffic; one targeting an
//     HTTPRoute covers requests that route chose. With HTTPRoutes attached to
//     the Server, a request takes ONE route, as linkerd2-proxy's
//     linkerd-http-route picks it: each route's best rule (its best match:
//     the path match length — a regex or exact path counts the whole
//     request path, a prefix its own length, "/" 1 — then a method match,
//     then the number of header matches; a rule without matches is "/"),
//     the best route, ties to the oldest then the first by name; only that
//     route's authorizations apply, and a request no route matches is
//     refused (404). Routes are taken as created together: a request on
//     which routes that rank the same decide differently is an
//     AgeDependentError (its decision depends on creation timestamps), or,
//     unless StrictTies, refused when the translation reported what it
//     could not express.
//     Raw TCP, and every connection to a Server with proxyProtocol opaque,
//     never reaches routes. Linkerd does not proxy UDP.
//   - Outbound: when smi-adapter wrote a ServiceProfile for the root, the
//     judge does not read it: Linkerd's own destination service (Profiles, a
//     ProfileSource) holds it on a kube-apiserver and answers GetProfile for
//     <root>.<ns>.svc.<domain>:<port> as it does for a proxy. A profile with
//     dstOverrides spreads every request over their authorities (each must
//     carry the port asked for) by their decimilli weights, weight 0 dropped;
//     one with routes and no dstOverrides keeps the request on the root; in
//     both cases the proxy ignores the root's HTTPRoutes. The default
//     profile (neither) leaves the request to HTTPRoutes, as when there is no
//     ServiceProfile: HTTPRoutes attached to the root Service choose the best
//     route and rule as inbound; no match, or nothing attached, goes to the
//     root. A rule whose backends all weigh 0 is an error (the proxy drops
//     them, and a distribution with no backend never becomes ready: the
//     request hangs). A port Linkerd's destination service marks opaque (the
//     Service's config.linkerd.io/opaque-ports, else the default opaque
//     ports) is TCP: HTTPRoutes never apply to it.
//     Without Profiles a ServiceProfile split is an error, never a guess.
//   - Regex matches are Linkerd's, decided by Rust's regex crate (Linkerd's
//     engine, as the oracle of integration/tools/rustregex): the
//     leftmost-first match must span the whole value. A regex Rust refuses is
//     an error: Linkerd's policy controller would refuse the route.
package linkerdjudge

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

type ref struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Port      *int32 `json:"port"`
}

type meta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

type object struct {
	Kind     string          `json:"kind"`
	Metadata meta            `json:"metadata"`
	Spec     json.RawMessage `json:"spec"`
}

type server struct {
	PodSelector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"podSelector"`
	Port          json.RawMessage `json:"port"`
	AccessPolicy  string          `json:"accessPolicy"`
	ProxyProtocol string          `json:"proxyProtocol"`
}

type authz struct {
	TargetRef                  ref   `json:"targetRef"`
	RequiredAuthenticationRefs []ref `json:"requiredAuthenticationRefs"`
}

type match struct {
	Path *struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"path"`
	Headers []struct {
		Type  string `json:"type"`
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`
	Method string `json:"method"`
}

type route struct {
	ParentRefs []ref `json:"parentRefs"`
	Rules      []struct {
		Matches     []match      `json:"matches"`
		BackendRefs []backendRef `json:"backendRefs"`
	} `json:"rules"`
}

type backendRef struct {
	Name   string `json:"name"`
	Port   *int32 `json:"port"`
	Weight *int32 `json:"weight"`
}

// RegexEngine answers as Linkerd's regex engine does
// (*harness.RustRegex).
type RegexEngine interface {
	Match(pattern string, inputs ...string) (compiled bool, refusal string, matches []harness.RustMatch, err error)
}

// Judge is the Linkerd judge.
type Judge struct {
	Options linkerd.Options
	// Regex is Rust's regex crate; required.
	Regex RegexEngine
	// DefaultInbound is the cluster's default inbound policy for ports no
	// Server selects: "all-unauthenticated" (Linkerd's default) or "deny".
	DefaultInbound string
	// StrictTies: a request that routes of equal rank decide differently is
	// always an AgeDependentError; else, when the translation reported what
	// it could not express (FailedClosed), it is refused.
	StrictTies bool
	// Profiles is Linkerd's destination service: it decides every split of
	// a root smi-adapter wrote a ServiceProfile for. Without it such a split
	// is an error (enough for judging access only).
	Profiles ProfileSource
	objs     []object
	pods     []*corev1.Pod
	services []*corev1.Service
	closed   []*model.Diagnostic
	regexErr error
	// gen is the Profiles generation holding the loaded scenario.
	gen int64
}

var (
	_ conformance.Judge              = (*Judge)(nil)
	_ conformance.FailClosedReporter = (*Judge)(nil)
)

// Name implements conformance.Judge.
func (j *Judge) Name() string { return "linkerd" }

// FailedClosed implements conformance.FailClosedReporter.
func (j *Judge) FailedClosed() []*model.Diagnostic { return j.closed }

// Load implements conformance.Judge.
func (j *Judge) Load(objs []runtime.Object) error {
	*j = Judge{Options: j.Options, DefaultInbound: j.DefaultInbound, Regex: j.Regex, Profiles: j.Profiles, StrictTies: j.StrictTies}
	if j.Regex == nil {
		return fmt.Errorf("linkerd judge: no regex engine (start Rust's regex oracle, harness.StartRustRegex)")
	}
	t, err := conformance.Translate(objs, false, func(s *model.Slice) ([]kubesink.Object, model.Problems) {
		r := linkerd.Translate(s, j.Options)
		return r.Objects, r.Problems
	})
	if err != nil {
		return err
	}
	j.pods, j.closed = t.Pods, t.FailedClosed
	for _, o := range objs {
		if s, ok := o.(*corev1.Service); ok {
			j.services = append(j.services, s)
		}
	}
	var profiles []*unstructured.Unstructured
	for _, b := range t.Objects {
		var obj object
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		if err := readable(obj); err != nil {
			return err
		}
		j.objs = append(j.objs, obj)
		if obj.Kind == "ServiceProfile" {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(b); err != nil {
				return err
			}
			profiles = append(profiles, u)
		}
	}
	if j.Profiles == nil {
		return nil
	}
	return j.applyProfiles(profiles)
}

// applyProfiles writes the scenario's Services and smi-adapter's
// ServiceProfiles where Linkerd's destination service reads them, then asks
// it for every TCP port of every Service with a ServiceProfile, as a proxy
// would: each answer must be one the proxy can use (proxyTargets).
func (j *Judge) applyProfiles(profiles []*unstructured.Unstructured) error {
	var objs []*unstructured.Unstructured
	if len(profiles) > 0 {
		for _, s := range j.services {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
			if err != nil {
				return err
			}
			u := &unstructured.Unstructured{Object: m}
			u.SetAPIVersion("v1")
			u.SetKind("Service")
			objs = append(objs, u)
		}
		objs = append(objs, profiles...)
	}
	gen, err := j.Profiles.Apply(objs)
	if err != nil {
		return fmt.Errorf("Linkerd's destination service: %w", err)
	}
	j.gen = gen
	for _, p := range profiles {
		for _, s := range j.services {
			if linkerd.ServiceProfileName(s.Name, namespaceOf(s.Namespace), j.domain()) != p.GetName() || namespaceOf(s.Namespace) != p.GetNamespace() {
				continue
			}
			for _, port := range tcpPorts(s) {
				if _, _, err := j.askProfile(p.GetNamespace(), s.Name, port); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func namespaceOf(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

func tcpPorts(s *corev1.Service) []int32 {
	var out []int32
	for _, p := range s.Spec.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			out = append(out, p.Port)
		}
	}
	return out
}

func (j *Judge) domain() string {
	if j.Options.ClusterDomain == "" {
		return "cluster.local"
	}
	return j.Options.ClusterDomain
}

func (j *Judge) each(kind, ns string, fn func(object)) {
	for _, o := range j.objs {
		if o.Kind == kind && o.Metadata.Namespace == ns {
			fn(o)
		}
	}
}

// Allowed implements conformance.Judge.
func (j *Judge) Allowed(r conformance.AccessRequest) (bool, error) {
	ok, err := j.allowed(r)
	return decided(j, ok, err)
}

func (j *Judge) allowed(r conformance.AccessRequest) (bool, error) {
	proto := r.Proto()
	if proto == "UDP" {
		return false, &conformance.Inexpressible{Reason: "Linkerd does not proxy UDP: it neither allows nor denies it"}
	}
	ns, _, _ := strings.Cut(r.To, "/")
	pod := conformance.PodOf(j.pods, r.To)
	if pod == nil {
		return false, fmt.Errorf("no pod runs as %s", r.To)
	}
	var srv *object
	j.each("Server", ns, func(o object) {
		var s server
		_ = json.Unmarshal(o.Spec, &s)
		if srv == nil && selects(s.PodSelector.MatchLabels, pod.Labels) && portIs(s.Port, r.Port, pod) {
			oo := o
			srv = &oo
		}
	})
	if srv == nil {
		return j.DefaultInbound != "deny", nil
	}
	var s server
	_ = json.Unmarshal(srv.Spec, &s)
	if s.AccessPolicy == "all-unauthenticated" {
		return true, nil
	}
	fromNS, fromSA, _ := strings.Cut(r.From, "/")
	authorized := func(target ref) bool {
		ok := false
		j.each("AuthorizationPolicy", ns, func(o object) {
			var a authz
			_ = json.Unmarshal(o.Spec, &a)
			if a.TargetRef.Kind != target.Kind || a.TargetRef.Name != target.Name {
				return
			}
			all := len(a.RequiredAuthenticationRefs) > 0
			for _, req := range a.RequiredAuthenticationRefs {
				all = all && j.authenticated(ns, req, fromNS, fromSA)
			}
			ok = ok || all
		})
		return ok
	}
	serverAuthorized := authorized(ref{Kind: "Server", Name: srv.Metadata.Name})
	if proto != "HTTP" || s.ProxyProtocol == "opaque" {
		// Raw TCP, or an opaque Server: the proxy forwards the connection
		// without reading a request, so no route applies.
		return serverAuthorized, nil
	}
	// HTTP: the one best route of those attached to the Server, as
	// linkerd-http-route picks it; without any, Linkerd's default route
	// (every request) carries the Server's authorizations.
	var routes []namedRoute
	j.each("HTTPRoute", ns, func(o object) {
		var rt route
		_ = json.Unmarshal(o.Spec, &rt)
		if attachedTo(rt, "Server", srv.Metadata.Name) {
			routes = append(routes, namedRoute{o.Metadata.Name, rt})
		}
	})
	if len(routes) == 0 {
		return serverAuthorized, nil
	}
	best, tied := j.bestRoutes(routes, r.Method, r.Path, r.Headers)
	if best == nil {
		return false, nil // no route matches: the proxy answers 404
	}
	verdict := func(rt *namedRoute) bool {
		return serverAuthorized || authorized(ref{Kind: "HTTPRoute", Name: rt.name})
	}
	ok := verdict(best)
	for _, t := range tied {
		if verdict(t) != ok {
			if !j.StrictTies && len(j.closed) > 0 {
				// The translation reported what it could not carry: the
				// request may be refused (fail closed).
				return false, nil
			}
			return false, &AgeDependentError{Request: r.String(), Routes: []string{best.name, t.name}, Allowed: map[string]bool{best.name: ok, t.name: !ok}}
		}
	}
	return ok, nil
}

// AgeDependentError: the request's best route is one of several that rank
// the same and decide it differently. Linkerd's policy controller orders
// such routes by creation timestamp, then name, and the proxy takes the
// first: the decision depends on when the routes were created, which the
// translation does not fix.
type AgeDependentError struct {
	Request string
	Routes  []string
	Allowed map[string]bool
}

func (e *AgeDependentError) Error() string {
	return fmt.Sprintf("%s: HTTPRoutes %s rank the same for it and decide it differently (%v): the oldest wins, so the decision depends on their creation timestamps", e.Request, strings.Join(e.Routes, " and "), e.Allowed)
}

// namedRoute is an HTTPRoute with its name.
type namedRoute struct {
	name string
	rt   route
}

// bestRoutes picks a request's route as linkerd2-proxy does
// (linkerd-http-route's find): each route's best rule (each rule's best
// match; a rule without matches is the "/" prefix; among equals the first),
// and the best route among them, routes in the order Linkerd's policy
// controller sends them — oldest first, then by name. Every route here is
// taken as created at the same time (so by name), and tied are the other
// routes that rank the same: with other creation times one of them wins.
func (j *Judge) bestRoutes(routes []namedRoute, method, path string, headers map[string]string) (best *namedRoute, tied []*namedRoute) {
	sort.Slice(routes, func(a, b int) bool { return routes[a].name < routes[b].name })
	var bestScore score
	for i := range routes {
		sc, ok := j.routeScore(routes[i].rt, method, path, headers)
		switch {
		case !ok:
		case best == nil || bestScore.less(sc):
			best, bestScore, tied = &routes[i], sc, nil
		case !sc.less(bestScore): // equal
			tied = append(tied, &routes[i])
		}
	}
	return best, tied
}

// routeScore is the score of a route's best rule for a request.
func (j *Judge) routeScore(rt route, method, path string, headers map[string]string) (score, bool) {
	var best score
	found := false
	for _, rule := range rt.Rules {
		if sc, ok := j.bestMatch(rule.Matches, method, path, headers); ok && (!found || best.less(sc)) {
			best, found = sc, true
		}
	}
	return best, found
}

func (j *Judge) authenticated(ns string, req ref, fromNS, fromSA string) bool {
	ok := false
	j.each(req.Kind, ns, func(o object) {
		if o.Metadata.Name != req.Name {
			return
		}
		switch req.Kind {
		case "MeshTLSAuthentication":
			var m struct {
				IdentityRefs []ref `json:"identityRefs"`
			}
			_ = json.Unmarshal(o.Spec, &m)
			for _, id := range m.IdentityRefs {
				idNS := id.Namespace
				if idNS == "" {
					idNS = ns
				}
				ok = ok || (id.Kind == "ServiceAccount" && id.Name == fromSA && idNS == fromNS)
			}
		case "NetworkAuthentication":
			ok = true // every test client is in 0.0.0.0/0
		}
	})
	return ok
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func portIs(raw json.RawMessage, port int32, pod *corev1.Pod) bool {
	var n int32
	if json.Unmarshal(raw, &n) == nil {
		return n == port
	}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == name && cp.ContainerPort == port {
					return true
				}
			}
		}
	}
	return false
}

func attachedTo(rt route, kind, name string) bool {
	for _, p := range rt.ParentRefs {
		if p.Kind == kind && p.Name == name {
			return true
		}
	}
	return false
}

// score orders matched rules as Linkerd's proxy does.
type score struct {
	pathLen int
	method  bool
	headers int
}

func (a score) less(b score) bool {
	if a.pathLen != b.pathLen {
		return a.pathLen < b.pathLen
	}
	if a.method != b.method {
		return !a.method
	}
	return a.headers < b.headers
}

// spans: Linkerd's regex match — leftmost-first, spanning the whole value —
// as Rust's regex crate decides it. A refused regex or a failing oracle is
// kept as the judge's error and matches nothing.
func (j *Judge) spans(re, v string) bool {
	ok, refusal, ms, err := j.Regex.Match(re, v)
	switch {
	case err != nil:
		j.regexErr = err
		return false
	case !ok:
		j.regexErr = fmt.Errorf("Linkerd's regex engine refuses %q, written by smi-adapter: %s", re, refusal)
		return false
	}
	return ms[0].Whole
}

// decided returns the judge's verdict unless a regex could not be decided.
func decided[T any](j *Judge, v T, err error) (T, error) {
	if err == nil && j.regexErr != nil {
		err, j.regexErr = j.regexErr, nil
	}
	return v, err
}

func (j *Judge) bestMatch(ms []match, method, path string, headers map[string]string) (score, bool) {
	if len(ms) == 0 {
		return score{pathLen: 1}, true // no matches: PathPrefix "/"
	}
	var best score
	found := false
	for _, m := range ms {
		sc := score{pathLen: 1}
		if m.Method != "" {
			if m.Method != method { // the proxy compares http::Method values: case matters
				continue
			}
			sc.method = true
		}
		if m.Path != nil {
			switch m.Path.Type {
			case "Exact":
				if path != m.Path.Value {
					continue
				}
				sc.pathLen = len(path)
			case "PathPrefix":
				p := strings.TrimRight(m.Path.Value, "/")
				if m.Path.Value == "/" {
					sc.pathLen = 1
					break
				}
				rest, ok := strings.CutPrefix(strings.TrimRight(path, "/"), p)
				if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
					continue
				}
				sc.pathLen = len(p)
			case "RegularExpression":
				if !j.spans(m.Path.Value, path) {
					continue
				}
				sc.pathLen = len(path)
			}
		}
		ok := true
		for _, h := range m.Headers {
			v, present := "", false
			for k, val := range headers {
				if strings.EqualFold(k, h.Name) {
					v, present = val, true
				}
			}
			switch {
			case !present:
				ok = false
			case h.Type == "Exact":
				ok = ok && v == h.Value
			default:
				ok = ok && j.spans(h.Value, v)
			}
		}
		if !ok {
			continue
		}
		sc.headers = len(m.Headers)
		if !found || best.less(sc) {
			best, found = sc, true
		}
	}
	return best, found
}

// Split implements conformance.Judge.
func (j *Judge) Split(r conformance.SplitRequest) (map[string]int64, error) {
	out, err := j.split(r)
	return decided(j, out, err)
}

func (j *Judge) split(r conformance.SplitRequest) (map[string]int64, error) {
	ns, name, _ := strings.Cut(r.Root, "/")
	toRoot := map[string]int64{name: 1}
	spName := linkerd.ServiceProfileName(name, ns, j.domain())
	hasProfile := false
	j.each("ServiceProfile", ns, func(o object) { hasProfile = hasProfile || o.Metadata.Name == spName })
	if hasProfile {
		out, useProfile, err := j.profileSplit(ns, name, r.Port)
		if err != nil || useProfile {
			return out, err
		}
	}
	if why := j.opaqueRootPort(ns, name, r.Port); why != "" {
		// The proxy forwards the connection as TCP: HTTPRoutes never apply.
		return toRoot, nil
	}
	var routes []namedRoute
	j.each("HTTPRoute", ns, func(o object) {
		var rt route
		_ = json.Unmarshal(o.Spec, &rt)
		for _, p := range rt.ParentRefs {
			if p.Kind == "Service" && p.Name == name && (p.Port == nil || *p.Port == r.Port) {
				routes = append(routes, namedRoute{o.Metadata.Name, rt})
				return
			}
		}
	})
	best, tied := j.bestRoutes(routes, r.Method, r.Path, r.Headers)
	if best == nil {
		return toRoot, nil
	}
	out, err := j.ruleBackends(*best, r)
	if err != nil {
		return nil, err
	}
	for _, t := range tied {
		if o, err := j.ruleBackends(*t, r); err != nil || !sameMap(o, out) {
			return nil, fmt.Errorf("HTTPRoutes %s and %s rank the same for the request and split it differently: the oldest wins, so the split depends on their creation timestamps", best.name, t.name)
		}
	}
	return out, nil
}

// ruleBackends: where the route's best rule for the request sends it, by
// weight. The proxy drops backends of weight 0; a rule left with none has
// a distribution that never becomes ready: its requests wait and fail.
func (j *Judge) ruleBackends(nr namedRoute, r conformance.SplitRequest) (map[string]int64, error) {
	var best score
	var backends []backendRef
	found := false
	for _, rule := range nr.rt.Rules {
		if sc, ok := j.bestMatch(rule.Matches, r.Method, r.Path, r.Headers); ok && (!found || best.less(sc)) {
			best, backends, found = sc, rule.BackendRefs, true
		}
	}
	out := map[string]int64{}
	for _, b := range backends {
		if b.Port == nil || *b.Port != r.Port {
			// SMI sends a port's traffic to the same port of the backends.
			return nil, fmt.Errorf("HTTPRoute %s sends port %d's requests to backend %s on port %v", nr.name, r.Port, b.Name, portString(b.Port))
		}
		w := int64(1)
		if b.Weight != nil {
			w = int64(*b.Weight)
		}
		if w > 0 {
			out[b.Name] += w
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the best rule of HTTPRoute %s for the request has no backend of weight above 0 (%d backendRefs): the proxy drops weight-0 backends, and a distribution with none never becomes ready, so the request waits and fails", nr.name, len(backends))
	}
	return out, nil
}

func portString(p *int32) string {
	if p == nil {
		return "(none)"
	}
	return strconv.Itoa(int(*p))
}

// defaultOpaquePorts is Linkerd's proxy.opaquePorts default.
const defaultOpaquePorts = "25,587,3306,4444,5432,6379,9300,11211"

// opaqueRootPort says why Linkerd's destination service marks port of
// Service ns/name opaque (its config.linkerd.io/opaque-ports annotation, or
// without one the default opaque ports), or "".
func (j *Judge) opaqueRootPort(ns, name string, port int32) string {
	for _, s := range j.services {
		if s.Name != name || namespaceOf(s.Namespace) != ns {
			continue
		}
		list, annotated := s.Annotations["config.linkerd.io/opaque-ports"]
		if !annotated {
			list = defaultOpaquePorts
		}
		if inPortList(list, port) {
			if annotated {
				return fmt.Sprintf("port %d is in the Service's config.linkerd.io/opaque-ports", port)
			}
			return fmt.Sprintf("port %d is one of Linkerd's default opaque ports", port)
		}
	}
	return ""
}

// inPortList: port is in a comma-separated list of ports and ranges (a-b),
// as Linkerd's opaque-ports annotation is written.
func inPortList(list string, port int32) bool {
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && int(port) >= l && int(port) <= h {
			return true
		}
	}
	return false
}

// profileSplit is where the proxy sends a request to root ns/name on port,
// from the profile Linkerd's destination service gives it; useProfile is
// false when that is the default profile (the proxy then follows the
// root's HTTPRoutes). A request without a port is asked on every TCP port of
// the root, which must all answer alike.
func (j *Judge) profileSplit(ns, name string, port int32) (out map[string]int64, useProfile bool, err error) {
	if j.Profiles == nil {
		return nil, false, fmt.Errorf("smi-adapter wrote ServiceProfile %s/%s for the root: only Linkerd's destination service decides its split, and the judge has none (Judge.Profiles)",
			ns, linkerd.ServiceProfileName(name, ns, j.domain()))
	}
	ports := []int32{port}
	if port == 0 {
		ports = nil
		for _, s := range j.services {
			if s.Name == name && namespaceOf(s.Namespace) == ns {
				ports = tcpPorts(s)
			}
		}
		if len(ports) == 0 {
			return nil, false, fmt.Errorf("a request without a port to %s/%s, which has no TCP port to ask Linkerd's destination service for", ns, name)
		}
	}
	for i, p := range ports {
		o, use, err := j.askProfile(ns, name, p)
		if err != nil {
			return nil, false, err
		}
		if i > 0 && (use != useProfile || !sameMap(o, out)) {
			return nil, false, fmt.Errorf("Linkerd's destination service splits port %d of %s/%s as %v and port %d as %v", ports[0], ns, name, out, p, o)
		}
		out, useProfile = o, use
	}
	return out, useProfile, nil
}

// askProfile asks Linkerd's destination service for root ns/name on port
// and says what the proxy does with the answer (see proxyTargets).
func (j *Judge) askProfile(ns, name string, port int32) (map[string]int64, bool, error) {
	path := fmt.Sprintf("%s.%s.svc.%s:%d", name, ns, j.domain(), port)
	p, err := j.Profiles.GetProfile(j.gen, path, fmt.Sprintf(`{"ns":%q}`, ns))
	if err != nil {
		return nil, false, fmt.Errorf("GetProfile %s: %w", path, err)
	}
	out, use, err := j.proxyTargets(p, ns, name, port)
	if err != nil {
		return nil, false, fmt.Errorf("GetProfile %s answers %s: %w", path, p.Raw, err)
	}
	return out, use, nil
}

// proxyTargets: what Linkerd's proxy does with profile p of root ns/name
// asked on port. dstOverrides are the concrete Services, by their decimilli
// weights (weight 0 dropped); each authority must be a Service of ns on
// the port asked (a backend on another port than the client's is a bug).
// Routes without dstOverrides keep the request on the root; neither is the
// default profile: useProfile false.
func (j *Judge) proxyTargets(p *harness.LinkerdProfile, ns, name string, port int32) (map[string]int64, bool, error) {
	if len(p.DstOverrides) == 0 {
		return map[string]int64{name: 1}, len(p.Routes) > 0, nil
	}
	suffix := "." + ns + ".svc." + j.domain()
	out := map[string]int64{}
	for _, d := range p.DstOverrides {
		host, ps, err := net.SplitHostPort(d.Authority)
		if err != nil {
			return nil, false, fmt.Errorf("dstOverride authority %q has no port: %v", d.Authority, err)
		}
		if ps != strconv.Itoa(int(port)) {
			return nil, false, fmt.Errorf("dstOverride authority %q sends port %d's traffic to port %s", d.Authority, port, ps)
		}
		svc, ok := strings.CutSuffix(host, suffix)
		if !ok || svc == "" || strings.Contains(svc, ".") {
			return nil, false, fmt.Errorf("dstOverride authority %q is not a Service of namespace %s", d.Authority, ns)
		}
		if d.Weight > 0 {
			out[svc] += int64(d.Weight)
		}
	}
	if len(out) == 0 {
		return nil, false, fmt.Errorf("every dstOverride has weight 0: the proxy has no backend to pick")
	}
	return out, true, nil
}

func sameMap(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Description says who decides what (conformance.Describer).
func (j *Judge) Description() string {
	dest := fmt.Sprintf("Linkerd's destination service (linkerd2 %s: the profile a proxy receives from GetProfile)", harness.LinkerdDestinationVersion)
	regex := fmt.Sprintf("regexes by Rust's regex crate %s", harness.RustRegexVersion)
	if j.Options.Splits == linkerd.SplitsHTTPRoute {
		profiles := "a ServiceProfile on a split root (none is written in this mode) would be judged by " + dest
		if j.Profiles == nil {
			profiles = "a ServiceProfile on a split root would not be judged (no destination service: an error)"
		}
		return fmt.Sprintf("Every split is written as HTTPRoutes (splits=httproute) and judged, like access, by this judge's model of Linkerd's HTTPRoute and policy semantics (Linkerd's policy controller and proxy do not run here); %s; %s.", profiles, regex)
	}
	profiles := "ServiceProfile splits judged by " + dest
	if j.Profiles == nil {
		profiles = "ServiceProfile splits not judged (no destination service: an error)"
	}
	return fmt.Sprintf("%s; splits written as HTTPRoutes (those with matches, or with a backend lacking one of the root's ports) and access by this judge's model of Linkerd's HTTPRoute and policy semantics; %s.", profiles, regex)
}
