package linkerd

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd/api"
	"github.com/smi-adapter/smi-adapter/core/regexsize"
)

// Limits of policy.linkerd.io/v1beta3 HTTPRoute, as Linkerd's CRD schema
// enforces them (../shared/upstream/linkerd/crds.yaml): the apiserver refuses
// a route past any of them, so the translator checks them before writing.
const (
	maxRouteRules       = 16
	maxRuleMatches      = 8
	maxRuleBackends     = 16
	maxMatchHeaders     = 16
	maxPathValue        = 1024
	maxHeaderName       = 256
	maxHeaderValue      = 4096
	maxBackendRefWeight = 1000000
)

// headerName is the CRD's pattern for a header name (an HTTP token): no
// pseudo-header such as :authority.
var headerName = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+\\-.^_\x60|~]+$")

// matchLimit says which limit of Linkerd's HTTPRoute schema a match breaks,
// or "".
func matchLimit(m api.HTTPRouteMatch) string {
	if m.Path != nil && len(m.Path.Value) > maxPathValue {
		return fmt.Sprintf("the path match is %d characters long; Linkerd's HTTPRoute allows %d", len(m.Path.Value), maxPathValue)
	}
	if m.Path != nil && m.Path.Type != "RegularExpression" && !strings.HasPrefix(m.Path.Value, "/") {
		// Linkerd's policy controller refuses it at admission.
		return fmt.Sprintf("path %q is not absolute (Linkerd's policy controller requires a leading /)", m.Path.Value)
	}
	if len(m.Headers) > maxMatchHeaders {
		return fmt.Sprintf("%d header matches; Linkerd's HTTPRoute allows %d per match", len(m.Headers), maxMatchHeaders)
	}
	for _, h := range m.Headers {
		switch {
		case len(h.Name) > maxHeaderName || !headerName.MatchString(h.Name):
			return fmt.Sprintf("header name %q is not an HTTP token of at most %d characters (Linkerd's HTTPRoute pattern %s)", h.Name, maxHeaderName, headerName)
		case len(h.Value) == 0 || len(h.Value) > maxHeaderValue:
			return fmt.Sprintf("the match of header %q is %d characters long; Linkerd's HTTPRoute allows 1 to %d", h.Name, len(h.Value), maxHeaderValue)
		}
	}
	if m.Path != nil && m.Path.Type == "RegularExpression" {
		if l := regexLimit(m.Path.Value); l != "" {
			return "the path match: " + l
		}
	}
	for _, h := range m.Headers {
		if h.Type == "RegularExpression" {
			if l := regexLimit(h.Value); l != "" {
				return fmt.Sprintf("the match of header %q: %s", h.Name, l)
			}
		}
	}
	return ""
}

// regexLimit says why Rust's regex crate, which Linkerd's policy
// controller and proxy compile every route regex with, would refuse re for
// its size, or "". The policy controller refuses the route then (its
// status says so, nothing reaches the proxy): every grant it carries is lost.
func regexLimit(re string) string {
	if err := regexsize.CheckRust(re); err != nil {
		return err.Error() + " (Linkerd's policy controller and proxy compile it with the regex crate's default size limit)"
	}
	return ""
}

// routeLimit says which limit of Linkerd's HTTPRoute schema rt breaks, or "".
func routeLimit(rt *api.HTTPRoute) string {
	if len(rt.Spec.Rules) > maxRouteRules {
		return fmt.Sprintf("%d rules; Linkerd's HTTPRoute allows %d", len(rt.Spec.Rules), maxRouteRules)
	}
	for _, r := range rt.Spec.Rules {
		if len(r.Matches) > maxRuleMatches {
			return fmt.Sprintf("%d matches in a rule; Linkerd's HTTPRoute allows %d", len(r.Matches), maxRuleMatches)
		}
		if len(r.BackendRefs) > maxRuleBackends {
			return fmt.Sprintf("%d backends; Linkerd's HTTPRoute allows %d per rule", len(r.BackendRefs), maxRuleBackends)
		}
		for _, b := range r.BackendRefs {
			if b.Weight != nil && (*b.Weight < 0 || *b.Weight > maxBackendRefWeight) {
				return fmt.Sprintf("backend weight %d; Linkerd's HTTPRoute allows 0 to %d", *b.Weight, maxBackendRefWeight)
			}
		}
		for _, m := range r.Matches {
			if l := matchLimit(m); l != "" {
				return l
			}
		}
	}
	return ""
}
