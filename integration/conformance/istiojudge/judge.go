// Package istiojudge decides what Istio does with the resources smi-adapter's
// Istio backend writes for a conformance scenario. It runs the real product
// path (normalize, then istio.Translate) and evaluates the resulting Istio
// objects by Istio's documented semantics — written independently of the
// translator:
//
//   - AuthorizationPolicy: policies apply to a workload through selector
//     matchLabels in its namespace; if any DENY rule matches, deny; if no ALLOW
//     policy applies, allow; if any ALLOW rule matches, allow; else deny. A rule
//     matches when any of its from, any of its to, and all of its when match.
//     Operation paths and values: exact, "prefix*", "*suffix", "*" (presence).
//     HTTP-only fields (methods, paths, request headers) never match TCP traffic.
//     Istio does not intercept UDP.
//   - VirtualService: the one whose hosts name the root; http routes in order,
//     the first route with a matching match request wins (match requests are
//     OR-ed, their fields AND-ed; uri/header regex is RE2 full match); traffic
//     is spread by relative weight; no matching route means the original
//     destination.
package istiojudge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
)

// The judge reads Istio objects as their JSON (what the apiserver stores), so
// that it depends on Istio's documented API shape, not the translator's Go values.
type stringMatch struct {
	Exact  string `json:"exact"`
	Prefix string `json:"prefix"`
	Regex  string `json:"regex"`
}

type virtualService struct {
	Metadata struct{ Namespace string } `json:"metadata"`
	Spec     vsSpec                     `json:"spec"`
}

// vsSpec is the part of a VirtualService the judge reads; it is decoded
// strictly: a field the judge does not evaluate fails the load.
type vsSpec struct {
	Hosts []string `json:"hosts"`
	HTTP  []struct {
		// Name only labels the route (in metrics and logs).
		Name  string `json:"name"`
		Match []struct {
			URI     *stringMatch            `json:"uri"`
			Method  *stringMatch            `json:"method"`
			Headers map[string]*stringMatch `json:"headers"`
			Port    int32                   `json:"port"`
		} `json:"match"`
		Route []routeDestination `json:"route"`
	} `json:"http"`
	// Tcp routes are what Istio uses for a port it treats as TCP.
	TCP []struct {
		Match []struct {
			Port int32 `json:"port"`
		} `json:"match"`
		Route []routeDestination `json:"route"`
	} `json:"tcp"`
}

type routeDestination struct {
	Destination struct {
		Host string `json:"host"`
		// Port of the backend: evaluated, the request's own port is the only one SMI's split sends to.
		Port *struct {
			Number uint32 `json:"number"`
		} `json:"port"`
	} `json:"destination"`
	Weight int64 `json:"weight"`
}

type authorizationPolicy struct {
	Metadata struct{ Namespace string } `json:"metadata"`
	Spec     struct {
		Selector *struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Action string `json:"action"`
		Rules  []rule `json:"rules"`
	} `json:"spec"`
}

// Judge is the Istio judge.
type Judge struct {
	Options istio.Options
	vss     []virtualService
	aps     []authorizationPolicy
	pods    []*corev1.Pod
	// services are the scenario's Services: their ports' names and
	// appProtocols say which ports Istio treats as TCP.
	services []*corev1.Service
	closed   []*model.Diagnostic
}

var (
	_ conformance.Judge              = (*Judge)(nil)
	_ conformance.FailClosedReporter = (*Judge)(nil)
)

// Name implements conformance.Judge.
func (j *Judge) Name() string { return "istio" }

// FailedClosed implements conformance.FailClosedReporter.
func (j *Judge) FailedClosed() []*model.Diagnostic { return j.closed }

// Load implements conformance.Judge: it translates the scenario with the
// Istio backend and keeps the objects.
func (j *Judge) Load(objs []runtime.Object) error {
	*j = Judge{Options: j.Options}
	t, err := conformance.Translate(objs, true, func(s *model.Slice) ([]kubesink.Object, model.Problems) {
		r := istio.Translate(s, j.Options)
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
	for _, b := range t.Objects {
		var head struct{ Kind string }
		if err := json.Unmarshal(b, &head); err != nil {
			return err
		}
		switch head.Kind {
		case "VirtualService":
			var vs virtualService
			if err := json.Unmarshal(b, &vs); err != nil {
				return err
			}
			if err := strictSpec(b, &vs.Spec); err != nil {
				return fmt.Errorf("VirtualService: %w", err)
			}
			j.vss = append(j.vss, vs)
		case "AuthorizationPolicy":
			var ap authorizationPolicy
			if err := json.Unmarshal(b, &ap); err != nil {
				return err
			}
			if err := strictSpec(b, &ap.Spec); err != nil {
				return fmt.Errorf("AuthorizationPolicy: %w", err)
			}
			if err := readable(ap); err != nil {
				return fmt.Errorf("AuthorizationPolicy %s: %w", ap.Metadata.Namespace, err)
			}
			j.aps = append(j.aps, ap)
		}
	}
	return nil
}

// Allowed implements conformance.Judge.
func (j *Judge) Allowed(r conformance.AccessRequest) (bool, error) {
	proto := r.Proto()
	if proto == "UDP" {
		return false, &conformance.Inexpressible{Reason: "Istio does not intercept UDP: it neither allows nor denies it"}
	}
	ns, _, _ := strings.Cut(r.To, "/")
	pod := conformance.PodOf(j.pods, r.To)
	if pod == nil {
		return false, fmt.Errorf("no pod runs as %s", r.To)
	}
	switch j.podPortProtocol(pod, r.Port) {
	case "tcp":
		// Istio proxies the port as TCP: an HTTP request is bytes to it,
		// and rules with HTTP fields never match there.
		proto = "TCP"
	case "http":
		if proto == "TCP" {
			// Only an HTTP connection manager serves the port: raw TCP
			// that is not HTTP is closed before any policy.
			return false, nil
		}
	}
	labels := pod.Labels
	root := j.Options.RootNamespace
	if root == "" {
		root = "istio-system"
	}
	anyAllow := false
	for _, ap := range j.aps {
		// Policies in the root namespace apply to the whole mesh.
		if (ap.Metadata.Namespace != ns && ap.Metadata.Namespace != root) || !selects(ap, labels) {
			continue
		}
		action := ap.Spec.Action
		if action == "" {
			action = "ALLOW"
		}
		matched := false
		for _, rule := range ap.Spec.Rules {
			if ruleMatches(rule, r, proto, j.Options) {
				matched = true
				break
			}
		}
		switch action {
		case "DENY":
			if matched {
				return false, nil
			}
		case "ALLOW":
			anyAllow = true
			if matched {
				return true, nil
			}
		}
	}
	return !anyAllow, nil
}

// strictSpec decodes an object's spec into spec, refusing any field spec
// does not hold: a field the judge does not read.
func strictSpec(obj []byte, spec any) error {
	var whole struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(obj, &whole); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(whole.Spec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(spec); err != nil {
		return fmt.Errorf("a field the judge does not read: %w", err)
	}
	return nil
}

// readable refuses the values of an AuthorizationPolicy the judge does not
// evaluate: actions other than ALLOW and DENY, conditions on anything but
// request headers, wildcards in serviceAccounts (Istio matches those
// exactly; principals take Istio's prefix/suffix patterns).
func readable(ap authorizationPolicy) error {
	switch ap.Spec.Action {
	case "", "ALLOW", "DENY":
	default:
		return fmt.Errorf("action %q: the judge evaluates ALLOW and DENY only", ap.Spec.Action)
	}
	for i, rl := range ap.Spec.Rules {
		for _, c := range rl.When {
			if !strings.HasPrefix(c.Key, "request.headers[") || !strings.HasSuffix(c.Key, "]") {
				return fmt.Errorf("rules[%d].when key %q: the judge evaluates request.headers[...] only", i, c.Key)
			}
		}
		for _, f := range rl.From {
			for _, sa := range f.Source.ServiceAccounts {
				if strings.Contains(sa, "*") || strings.Count(sa, "/") != 1 {
					return fmt.Errorf("rules[%d].from serviceAccounts %q: not <namespace>/<name>", i, sa)
				}
			}
		}
	}
	return nil
}

func selects(ap authorizationPolicy, labels map[string]string) bool {
	if ap.Spec.Selector == nil {
		return true
	}
	for k, v := range ap.Spec.Selector.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// rule is one AuthorizationPolicy rule, as the apiserver stores it.
type rule struct {
	From []struct {
		Source struct {
			Principals      []string `json:"principals"`
			ServiceAccounts []string `json:"serviceAccounts"`
		} `json:"source"`
	} `json:"from"`
	To []struct {
		Operation struct {
			Ports   []string `json:"ports"`
			Methods []string `json:"methods"`
			Paths   []string `json:"paths"`
		} `json:"operation"`
	} `json:"to"`
	When []struct {
		Key    string   `json:"key"`
		Values []string `json:"values"`
	} `json:"when"`
}

func ruleMatches(rl rule, r conformance.AccessRequest, proto string, o istio.Options) bool {
	if len(rl.From) > 0 {
		ns, sa, _ := strings.Cut(r.From, "/")
		td := o.TrustDomain
		if td == "" {
			td = "cluster.local"
		}
		ok := false
		for _, f := range rl.From {
			for _, s := range f.Source.ServiceAccounts {
				ok = ok || s == ns+"/"+sa
			}
			// Principals are Istio string patterns: exact, "prefix*",
			// "*suffix" or "*".
			ok = ok || anyPattern(f.Source.Principals, td+"/ns/"+ns+"/sa/"+sa)
		}
		if !ok {
			return false
		}
	}
	if len(rl.To) > 0 {
		ok := false
		for _, to := range rl.To {
			op := to.Operation
			m := true
			if len(op.Ports) > 0 {
				m = m && contains(op.Ports, strconv.Itoa(int(r.Port)))
			}
			if len(op.Methods) > 0 {
				m = m && proto == "HTTP" && contains(op.Methods, strings.ToUpper(r.Method))
			}
			if len(op.Paths) > 0 {
				m = m && proto == "HTTP" && anyPattern(op.Paths, r.Path)
			}
			ok = ok || m
		}
		if !ok {
			return false
		}
	}
	for _, c := range rl.When {
		name, isHeader := strings.CutPrefix(c.Key, "request.headers[")
		if !isHeader || proto != "HTTP" {
			return false
		}
		name = strings.ToLower(strings.TrimSuffix(name, "]"))
		v, present := header(r.Headers, name)
		if !present || !anyPattern(c.Values, v) {
			return false
		}
	}
	return true
}

func header(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.ToLower(k) == name {
			return v, true
		}
	}
	return "", false
}

// anyPattern: Istio's exact, "prefix*", "*suffix" and "*" string patterns.
func anyPattern(patterns []string, s string) bool {
	for _, p := range patterns {
		switch {
		case p == "*":
			return true
		case strings.HasSuffix(p, "*") && strings.HasPrefix(s, strings.TrimSuffix(p, "*")):
			return true
		case strings.HasPrefix(p, "*") && strings.HasSuffix(s, strings.TrimPrefix(p, "*")):
			return true
		case p == s:
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Split implements conformance.Judge.
func (j *Judge) Split(r conformance.SplitRequest) (map[string]int64, error) {
	ns, name, _ := strings.Cut(r.Root, "/")
	domain := j.Options.ClusterDomain
	if domain == "" {
		domain = "cluster.local"
	}
	host := name + "." + ns + ".svc." + domain
	toRoot := map[string]int64{name: 1}
	for _, vs := range j.vss {
		if !contains(vs.Spec.Hosts, host) && !(vs.Metadata.Namespace == ns && contains(vs.Spec.Hosts, name)) {
			continue
		}
		if j.portIsTCP(ns, name, r.Port) {
			// Istio proxies the port as TCP: the request's HTTP fields are
			// not seen, the first TCP route of its port decides.
			for _, route := range vs.Spec.TCP {
				if len(route.Match) > 0 && !slices.ContainsFunc(route.Match, func(m struct {
					Port int32 `json:"port"`
				}) bool {
					return m.Port == 0 || m.Port == r.Port
				}) {
					continue
				}
				return weightsOf(route.Route, r.Port)
			}
			return toRoot, nil
		}
		for _, route := range vs.Spec.HTTP {
			if !routeMatches(route.Match, r) {
				continue
			}
			return weightsOf(route.Route, r.Port)
		}
		return toRoot, nil
	}
	return toRoot, nil
}

func routeMatches(ms []struct {
	URI     *stringMatch            `json:"uri"`
	Method  *stringMatch            `json:"method"`
	Headers map[string]*stringMatch `json:"headers"`
	Port    int32                   `json:"port"`
}, r conformance.SplitRequest) bool {
	if len(ms) == 0 {
		return true
	}
	for _, m := range ms {
		ok := (m.Port == 0 || m.Port == r.Port) && strMatch(m.URI, r.Path) && strMatch(m.Method, strings.ToUpper(r.Method))
		for name, sm := range m.Headers {
			v, present := header(r.Headers, strings.ToLower(name))
			ok = ok && present && strMatch(sm, v)
		}
		if ok {
			return true
		}
	}
	return false
}

func strMatch(m *stringMatch, s string) bool {
	switch {
	case m == nil:
		return true
	case m.Exact != "":
		return s == m.Exact
	case m.Prefix != "":
		return strings.HasPrefix(s, m.Prefix)
	case m.Regex != "":
		re, err := regexp.Compile("^(?:" + m.Regex + ")$") // RE2 full match
		return err == nil && re.MatchString(s)
	}
	return true
}

// weightsOf is a route's distribution: a single destination without a
// weight takes everything.
func weightsOf(route []routeDestination, port int32) (map[string]int64, error) {
	out := map[string]int64{}
	for _, d := range route {
		if p := d.Destination.Port; p != nil && p.Number != uint32(port) {
			return nil, fmt.Errorf("route to %s port %d for a request on port %d: SMI's backends serve the root's port", d.Destination.Host, p.Number, port)
		}
		w := d.Weight
		if len(route) == 1 && w == 0 {
			w = 1
		}
		if w > 0 {
			out[strings.Split(d.Destination.Host, ".")[0]] += w
		}
	}
	return out, nil
}

// podPortProtocol is how Istio treats the pod's port: "tcp" or "http"
// when a Service selecting the pod declares it so for that target port (by
// appProtocol, else the port name's prefix), "" when it sniffs the protocol.
func (j *Judge) podPortProtocol(pod *corev1.Pod, port int32) string {
	for _, s := range j.services {
		if s.Namespace != pod.Namespace || len(s.Spec.Selector) == 0 {
			continue
		}
		selects := true
		for k, v := range s.Spec.Selector {
			selects = selects && pod.Labels[k] == v
		}
		if !selects {
			continue
		}
		for _, p := range s.Spec.Ports {
			target := p.TargetPort.IntVal
			if target == 0 && p.TargetPort.StrVal == "" {
				target = p.Port
			}
			if target == port {
				if k := istioProtocol(p); k != "" {
					return k
				}
			}
		}
	}
	return ""
}

// istioProtocol is Istio's protocol selection for a Service port: "tcp",
// "http" or "" (sniffed).
func istioProtocol(p corev1.ServicePort) string {
	proto := ""
	if p.AppProtocol != nil {
		proto = strings.ToLower(*p.AppProtocol)
	}
	if proto == "" {
		proto, _, _ = strings.Cut(strings.ToLower(p.Name), "-")
	}
	switch proto {
	case "tcp", "tls", "https", "mongo", "mysql", "redis":
		return "tcp"
	case "http", "http2", "grpc", "grpc-web", "h2c", "kubernetes.io/h2c":
		return "http"
	}
	return ""
}

// portIsTCP says whether Istio treats port of Service ns/name as TCP: its
// appProtocol, else its name's prefix, names a TCP protocol (Istio's
// protocol selection); HTTP and sniffed ports carry HTTP routes.
func (j *Judge) portIsTCP(ns, name string, port int32) bool {
	for _, s := range j.services {
		if s.Name != name || (s.Namespace != ns && !(s.Namespace == "" && ns == "default")) {
			continue
		}
		for _, p := range s.Spec.Ports {
			if p.Port == port && istioProtocol(p) == "tcp" {
				return true
			}
		}
	}
	return false
}
