// Package model is smi-adapter's intermediate policy model: the contract
// between core and the mesh adapters. It is plain data — versionless, already
// validated, references resolved, defaults applied and sorted — with no
// Kubernetes client and no I/O. Adapters never see SMI objects or versions.
//
// Semantics the model fixes once for every mesh:
//   - Access is deny by default: an identity with no Grant gets nothing.
//   - HTTPMatch.PathRegex is an RE2 regex written so that it means the same
//     under full-match and under search semantics ("^(?:SMI regex).*$"): SMI's
//     start-only anchoring is explicit. Every regex of the model is in the
//     dialect-neutral form of core/neutralregex: RE2, Go and Rust's regex
//     read it alike, so adapters write it as it is.
//   - Header regexes must match the whole header value (the narrower reading of
//     SMI, so a mesh that matches whole values never allows more than SMI).
//   - Empty Methods means every method; empty Ports means every port of the destination.
//   - Split weights are exact relative integers, reduced by their gcd.
package model

import (
	"fmt"
	"strings"
)

// KeyKind says what a reconcile key stands for.
type KeyKind string

// Reconcile key kinds.
const (
	// KeyAccess is one destination identity (namespace/service account).
	KeyAccess KeyKind = "Access"
	// KeySplit is one root Service (namespace/name).
	KeySplit KeyKind = "Split"
	// KeyRoute is one route object (status only; routes feed Access and Split keys).
	KeyRoute KeyKind = "Route"
	// KeyMesh is the one mesh-wide key (Namespace and Name empty): what a
	// backend writes for the whole mesh, such as a default-deny baseline.
	KeyMesh KeyKind = "Mesh"
)

// MeshKey is the mesh-wide key.
var MeshKey = Key{Kind: KeyMesh}

// Key is the unit of reconciliation: small, so one change costs work
// proportional to what it touches.
type Key struct {
	Kind      KeyKind `json:"kind"`
	Namespace string  `json:"namespace"`
	Name      string  `json:"name"`
	// RouteKind is the route object's kind for KeyRoute keys.
	RouteKind string `json:"routeKind,omitempty"`
}

// ParseKey reads a key written by Key.String.
func ParseKey(s string) (Key, error) {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 3 && (parts[0] == string(KeyAccess) || parts[0] == string(KeySplit)):
		return Key{Kind: KeyKind(parts[0]), Namespace: parts[1], Name: parts[2]}, nil
	case len(parts) == 3 && parts[0] == string(KeyMesh):
		return MeshKey, nil
	case len(parts) == 4 && parts[0] == string(KeyRoute):
		return Key{Kind: KeyRoute, RouteKind: parts[1], Namespace: parts[2], Name: parts[3]}, nil
	}
	return Key{}, fmt.Errorf("not a reconcile key: %q", s)
}

func (k Key) String() string {
	if k.RouteKind != "" {
		return fmt.Sprintf("%s/%s/%s/%s", k.Kind, k.RouteKind, k.Namespace, k.Name)
	}
	return fmt.Sprintf("%s/%s/%s", k.Kind, k.Namespace, k.Name)
}

// ObjectRef names the SMI object a piece of the model came from.
type ObjectRef struct {
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Generation int64  `json:"generation,omitempty"`
}

func (r ObjectRef) String() string { return r.Kind + " " + r.Namespace + "/" + r.Name }

// Identity is a workload identity: a Kubernetes ServiceAccount.
type Identity struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (i Identity) String() string { return i.Namespace + "/" + i.Name }

// Protocol of a rule.
type Protocol string

// Protocols.
const (
	ProtocolHTTP Protocol = "HTTP"
	ProtocolTCP  Protocol = "TCP"
	ProtocolUDP  Protocol = "UDP"
)

// HTTPMatch selects HTTP requests. The zero value matches every request.
type HTTPMatch struct {
	// PathRegex is "" (any path) or "^(?:<SMI pathRegex, dialect-neutral>).*$".
	PathRegex string `json:"pathRegex,omitempty"`
	// Methods, upper case and sorted; empty means every method.
	Methods []string `json:"methods,omitempty"`
	// Headers are AND-ed, sorted by name (lower case).
	Headers []HeaderMatch `json:"headers,omitempty"`
}

// IsAll reports whether the match selects every request.
func (m HTTPMatch) IsAll() bool {
	return m.PathRegex == "" && len(m.Methods) == 0 && len(m.Headers) == 0
}

// Regexes lists the match's regexes as a mesh writes them: the path regex
// (when set), then each header's.
func (m HTTPMatch) Regexes() []string {
	var out []string
	if m.PathRegex != "" {
		out = append(out, m.PathRegex)
	}
	for _, h := range m.Headers {
		out = append(out, h.Regex)
	}
	return out
}

// HeaderMatch requires a header whose whole value matches Regex (RE2).
type HeaderMatch struct {
	Name  string `json:"name"`
	Regex string `json:"regex"`
}

// Rule is one kind of traffic a source may send to a destination.
type Rule struct {
	Protocol Protocol `json:"protocol"`
	// Ports of the destination (container ports); empty means every port.
	Ports []int32 `json:"ports,omitempty"`
	// HTTP is set for HTTP rules.
	HTTP *HTTPMatch `json:"http,omitempty"`
	// Route and Match name where the rule came from (for names and messages).
	Route ObjectRef `json:"route"`
	Match string    `json:"match,omitempty"`
}

// Grant is what one source identity may send to the destination: any of Rules.
type Grant struct {
	Source Identity    `json:"source"`
	Rules  []Rule      `json:"rules"`
	From   []ObjectRef `json:"from"`
	// Elsewhere are the identities of Source's name in other namespaces that
	// exist now (a pod running as a service account of that name, or a
	// Service of that name: what consul-k8s registers under the name), sorted.
	// A mesh that names sources without their namespace (Consul's free
	// edition) grants them whatever it grants Source. Filled only for
	// backends that need it (backend.NamespaceCollapser), else empty.
	Elsewhere []Identity `json:"elsewhere,omitempty"`
	// SourceNames are Workloads.ServiceNames for the source's pods (set
	// with Elsewhere): the names its pods register under in Consul.
	SourceNames []string `json:"sourceNames,omitempty"`
}

// AccessPolicy is everything the destination identity accepts. No Grants
// means nothing is allowed: the mesh must deny all traffic to it.
type AccessPolicy struct {
	Destination Identity  `json:"destination"`
	Workloads   Workloads `json:"workloads"`
	// Services are the Services of the destination's namespace that select
	// pods running as the destination identity (how clients address it).
	Services []Service   `json:"services,omitempty"`
	Grants   []Grant     `json:"grants,omitempty"`
	From     []ObjectRef `json:"from,omitempty"`
	// CrossNamespaceOnly: every TrafficTarget keyed to this identity names a
	// destination in another namespace (and is refused for it). Nothing
	// validly targets the identity; a mesh whose names ignore the namespace
	// must not write for it what would stand for the other namespace's
	// identity too.
	CrossNamespaceOnly bool `json:"crossNamespaceOnly,omitempty"`
}

// Workloads describes the pods that run as an identity, for meshes that
// select workloads by labels rather than by service account.
type Workloads struct {
	// Selectors each select only pods that run as the identity; together they
	// select all of them that could be selected exactly.
	Selectors []map[string]string `json:"selectors,omitempty"`
	// Exact is false when some pods running as the identity cannot be selected
	// by labels without also selecting pods that run as another identity.
	Exact bool `json:"exact"`
	// Pods is the number of pods running as the identity.
	Pods int `json:"pods"`
	// Ports are the container ports those pods declare, sorted.
	Ports []ContainerPort `json:"ports,omitempty"`
	// Probes are the kubelet's HTTP probe endpoints on those pods, sorted.
	Probes []Probe `json:"probes,omitempty"`
	// ServiceNames are the names consul-k8s registers those pods under
	// when the connect-service annotation of one of them names another:
	// sorted, once each, the identity's own name among them when a pod has
	// no such annotation. Empty: the identity's name only.
	ServiceNames []string `json:"serviceNames,omitempty"`
}

// Probe is an HTTP GET endpoint the kubelet calls (liveness, readiness, startup).
type Probe struct {
	Port int32  `json:"port"`
	Path string `json:"path"`
}

// ContainerPort is a port a workload declares.
type ContainerPort struct {
	Name     string `json:"name,omitempty"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	// Opacity is what the pod's opaque-ports annotation says of the port.
	Opacity Opacity `json:"opacity,omitempty"`
}

// Opacity is what a pod's or a Service's config.linkerd.io/opaque-ports
// annotation (AnnotationOpaquePorts in core/normalize) says of one of its
// ports: whether the proxy carries it as raw TCP, never looking for a
// protocol.
type Opacity string

// Opacities.
const (
	// OpacityDefault: no annotation; the mesh's default opaque ports apply.
	OpacityDefault Opacity = ""
	// OpacityOpaque: the annotation lists the port.
	OpacityOpaque Opacity = "opaque"
	// OpacityDetected: an annotation that does not list the port (it
	// replaces the defaults): the proxy detects the protocol.
	OpacityDetected Opacity = "detected"
)

// Service is a Kubernetes Service as the adapters need it.
type Service struct {
	Namespace string        `json:"namespace"`
	Name      string        `json:"name"`
	Ports     []ServicePort `json:"ports,omitempty"`
	// SplitRoot is set in AccessPolicy.Services when a TrafficSplit names
	// this Service as its root (meshes may not attach other routing to it).
	SplitRoot bool `json:"splitRoot,omitempty"`
	// RegisteredNames are the names consul-k8s registers the pods this
	// Service selects under, when they are not the Service's own name
	// (normalize.ServiceRegisteredNames); set on a split's root and backends.
	RegisteredNames []string `json:"registeredNames,omitempty"`
}

// ServicePort is one port of a Service.
type ServicePort struct {
	Name        string `json:"name,omitempty"`
	Port        int32  `json:"port"`
	TargetPort  string `json:"targetPort,omitempty"`
	Protocol    string `json:"protocol"`
	AppProtocol string `json:"appProtocol,omitempty"`
	// Opacity is what the Service's opaque-ports annotation says of the port.
	Opacity Opacity `json:"opacity,omitempty"`
}

// Backend is one weighted backend of a split.
type Backend struct {
	Service Service `json:"service"`
	// Weight is relative to the other backends' weights; 0 means no traffic.
	Weight int64 `json:"weight"`
}

// Split shifts traffic addressed to Root across Backends. When Matches is
// not empty only matching requests are split; the rest go to Root as usual.
// A split whose weights are all zero is not in the model: traffic stays on Root.
type Split struct {
	Root Service `json:"root"`
	// Host: Root names a host a gateway serves (Flagger's service.hosts[0],
	// with the gateways it names in HintGateways), not a Service: Root.Name
	// is the host and Root has no ports. Only a backend that routes gateway
	// traffic (Istio) can carry it; others report it and write nothing.
	Host     bool        `json:"host,omitempty"`
	Backends []Backend   `json:"backends"`
	Matches  []HTTPMatch `json:"matches,omitempty"`
	From     ObjectRef   `json:"from"`
	// Hints are the TrafficSplit's annotations that a mesh may honour (e.g.
	// Flagger's Istio gateways), without smi-adapter's and kubectl's own.
	Hints map[string]string `json:"hints,omitempty"`
}

// HintGateways is Flagger's TrafficSplit annotation naming the gateways
// (a JSON list) that serve the split's host when spec.service is a host
// name (Canary service.hosts).
const HintGateways = "VirtualService.v1alpha3.networking.istio.io/spec.gateways"

// Slice is the model for one reconcile key: what the adapter must make true
// for it. A nil Access or Split means there is nothing to program for the
// key: the adapter removes what it owns for it (for Access: deny everything
// that was granted through it).
type Slice struct {
	Key    Key           `json:"key"`
	Access *AccessPolicy `json:"access,omitempty"`
	Split  *Split        `json:"split,omitempty"`
}
