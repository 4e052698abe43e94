package linkerdjudge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// The judge refuses what it does not read: every written object is decoded
// strictly into the fields the judge evaluates (an unknown field is an
// error), and each value it reads must be one it evaluates as Linkerd
// does. A translation that writes anything else fails the test instead of
// being judged as if the field were not there.

type strictRef struct {
	Group       *string `json:"group"`
	Kind        string  `json:"kind"`
	Name        string  `json:"name"`
	Namespace   *string `json:"namespace"`
	Port        *int32  `json:"port"`
	SectionName *string `json:"sectionName"`
}

type strictServer struct {
	PodSelector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"podSelector"`
	Port          json.RawMessage `json:"port"`
	AccessPolicy  string          `json:"accessPolicy"`
	ProxyProtocol string          `json:"proxyProtocol"`
}

type strictAuthz struct {
	TargetRef                  strictRef   `json:"targetRef"`
	RequiredAuthenticationRefs []strictRef `json:"requiredAuthenticationRefs"`
}

type strictMeshTLS struct {
	IdentityRefs []strictRef `json:"identityRefs"`
}

type strictNetworks struct {
	Networks []struct {
		CIDR   string   `json:"cidr"`
		Except []string `json:"except"`
	} `json:"networks"`
}

type strictRoute struct {
	ParentRefs []strictRef `json:"parentRefs"`
	Rules      []struct {
		Matches []struct {
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
		} `json:"matches"`
		BackendRefs []strictBackend `json:"backendRefs"`
	} `json:"rules"`
}

type strictBackend struct {
	strictRef
	Weight *int32 `json:"weight"`
}

func strictDecode(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// localRef: a reference within the object's namespace, of one of the
// given group/kind pairs ("group/kind").
func localRef(r strictRef, what string, kinds ...string) error {
	if r.Namespace != nil && *r.Namespace != "" {
		return fmt.Errorf("%s %s/%s names namespace %q: the judge reads local references only", what, r.Kind, r.Name, *r.Namespace)
	}
	if r.SectionName != nil {
		return fmt.Errorf("%s %s/%s has a sectionName, which the judge does not read", what, r.Kind, r.Name)
	}
	if !slices.Contains(kinds, str(r.Group)+"/"+r.Kind) {
		return fmt.Errorf("%s group %q kind %q: the judge evaluates only %v", what, str(r.Group), r.Kind, kinds)
	}
	if r.Name == "" {
		return fmt.Errorf("%s %s has no name", what, r.Kind)
	}
	return nil
}

// readable returns an error for a field or value of o the judge does not
// evaluate.
func readable(o object) error {
	at := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("linkerd judge: %s %s/%s: %w", o.Kind, o.Metadata.Namespace, o.Metadata.Name, err)
	}
	switch o.Kind {
	case "ServiceProfile":
		return nil // decided by Linkerd's own destination service
	case "Server":
		var s strictServer
		if err := strictDecode(o.Spec, &s); err != nil {
			return at(err)
		}
		if s.AccessPolicy != "deny" && s.AccessPolicy != "all-unauthenticated" {
			return at(fmt.Errorf("accessPolicy %q: the judge evaluates deny and all-unauthenticated", s.AccessPolicy))
		}
		if s.ProxyProtocol != "" && s.ProxyProtocol != "unknown" && s.ProxyProtocol != "opaque" {
			return at(fmt.Errorf("proxyProtocol %q: the judge evaluates unknown (detection) and opaque", s.ProxyProtocol))
		}
		if len(s.Port) == 0 {
			return at(fmt.Errorf("no port"))
		}
	case "AuthorizationPolicy":
		var a strictAuthz
		if err := strictDecode(o.Spec, &a); err != nil {
			return at(err)
		}
		if err := localRef(a.TargetRef, "targetRef", "policy.linkerd.io/Server", "policy.linkerd.io/HTTPRoute"); err != nil {
			return at(err)
		}
		if a.TargetRef.Port != nil {
			return at(fmt.Errorf("targetRef has a port, which the judge does not read"))
		}
		if len(a.RequiredAuthenticationRefs) == 0 {
			return at(fmt.Errorf("no requiredAuthenticationRefs"))
		}
		for _, r := range a.RequiredAuthenticationRefs {
			if err := localRef(r, "requiredAuthenticationRef", "policy.linkerd.io/MeshTLSAuthentication", "policy.linkerd.io/NetworkAuthentication"); err != nil {
				return at(err)
			}
		}
	case "MeshTLSAuthentication":
		var m strictMeshTLS
		if err := strictDecode(o.Spec, &m); err != nil {
			return at(err)
		}
		for _, id := range m.IdentityRefs {
			if str(id.Group) != "" || id.Kind != "ServiceAccount" || id.Name == "" || id.Name == "*" || id.Port != nil || id.SectionName != nil {
				return at(fmt.Errorf("identityRef group %q kind %q name %q: the judge evaluates named ServiceAccounts only", str(id.Group), id.Kind, id.Name))
			}
		}
		if len(m.IdentityRefs) == 0 {
			return at(fmt.Errorf("no identityRefs"))
		}
	case "NetworkAuthentication":
		var n strictNetworks
		if err := strictDecode(o.Spec, &n); err != nil {
			return at(err)
		}
		// The scenarios' clients have no address: the judge can only take
		// networks that hold every address.
		all := map[string]bool{}
		for _, nw := range n.Networks {
			if len(nw.Except) > 0 {
				return at(fmt.Errorf("network %s has exceptions, which the judge cannot decide", nw.CIDR))
			}
			all[nw.CIDR] = true
		}
		if !all["0.0.0.0/0"] || !all["::/0"] {
			return at(fmt.Errorf("networks %v: the judge decides only networks holding every address (0.0.0.0/0 and ::/0)", n.Networks))
		}
	case "HTTPRoute":
		var rt strictRoute
		if err := strictDecode(o.Spec, &rt); err != nil {
			return at(err)
		}
		if len(rt.ParentRefs) == 0 {
			return at(fmt.Errorf("no parentRefs"))
		}
		for _, p := range rt.ParentRefs {
			switch p.Kind {
			case "Server":
				if err := localRef(p, "parentRef", "policy.linkerd.io/Server"); err != nil {
					return at(err)
				}
				if p.Port != nil {
					return at(fmt.Errorf("parentRef Server %s has a port, which the judge does not read", p.Name))
				}
			default:
				if err := localRef(p, "parentRef", "core/Service", "/Service"); err != nil {
					return at(err)
				}
				if p.Port == nil {
					return at(fmt.Errorf("parentRef Service %s has no port: the judge reads per-port routes only", p.Name))
				}
			}
		}
		for _, rule := range rt.Rules {
			for _, m := range rule.Matches {
				if m.Path != nil && !slices.Contains([]string{"Exact", "PathPrefix", "RegularExpression"}, m.Path.Type) {
					return at(fmt.Errorf("path match type %q", m.Path.Type))
				}
				for _, h := range m.Headers {
					if h.Type != "Exact" && h.Type != "RegularExpression" {
						return at(fmt.Errorf("header match type %q", h.Type))
					}
				}
			}
			for _, b := range rule.BackendRefs {
				if err := localRef(b.strictRef, "backendRef", "/Service", "core/Service", "/"); err != nil {
					return at(err)
				}
				if b.Port == nil {
					return at(fmt.Errorf("backendRef %s has no port", b.Name))
				}
			}
		}
	default:
		return at(fmt.Errorf("a kind the judge does not read"))
	}
	return nil
}
