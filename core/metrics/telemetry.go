package metrics

import (
	"fmt"
	"sort"
	"strings"
)

// Kind is a resource kind of the API, by its plural name (the URL segment).
type Kind string

// The kinds of the API, as the SMI spec lists them.
const (
	Namespaces             Kind = "namespaces"
	Nodes                  Kind = "nodes"
	Pods                   Kind = "pods"
	ReplicationControllers Kind = "replicationcontrollers"
	Services               Kind = "services"
	DaemonSets             Kind = "daemonsets"
	Deployments            Kind = "deployments"
	ReplicaSets            Kind = "replicasets"
	StatefulSets           Kind = "statefulsets"
	Jobs                   Kind = "jobs"
	TrafficSplits          Kind = "trafficsplits"
)

// AllKinds in the order discovery lists them.
var AllKinds = []Kind{Namespaces, Nodes, Pods, ReplicationControllers, Services, DaemonSets, Deployments,
	ReplicaSets, StatefulSets, Jobs, TrafficSplits}

// Namespaced reports whether resources of the kind live in a namespace.
func (k Kind) Namespaced() bool { return k != Namespaces && k != Nodes }

// Labels name a resource in a series: the label holding its namespace ("" for
// namespaces, or when the mesh's telemetry has none) and its name.
type Labels struct {
	Namespace string
	Name      string
}

// Side is the telemetry recorded on one side of a request: by the proxy of
// the resource that served it (Server) or of the one that sent it (Client).
type Side struct {
	// Requests counts every request (a counter).
	Requests string
	// Failures counts failed requests: a counter and the matchers that select
	// failures in it (the mesh's own classification).
	Failures Series
	// Latency is a histogram's bucket series (label le), in LatencyScale units.
	Latency string
	// LatencyToMs converts the histogram's unit to milliseconds (1 for ms).
	LatencyToMs float64
	// Filter selects this side's series (e.g. reporter="destination").
	Filter []Matcher
	// Self names the resource of each kind whose proxy recorded the series.
	Self map[Kind]Labels
	// Peer names the resource at the other end.
	Peer map[Kind]Labels
}

// Series is a metric name and matchers.
type Series struct {
	Name     string
	Matchers []Matcher
}

// Matcher is a PromQL label matcher.
type Matcher struct {
	Label, Op, Value string // Op: = != =~ !~
}

func (m Matcher) String() string { return m.Label + m.Op + quote(m.Value) }

// Telemetry describes one mesh's Prometheus series. Adapters supply it; the
// core builds every query from it.
type Telemetry struct {
	Mesh   string
	Server Side
	Client Side
	// Classification says in words what a failure is (for docs and errors).
	Classification string
	// Source says where the series names and labels come from.
	Source string
}

// Provider is implemented by every backend: its mesh's telemetry.
type Provider interface {
	Telemetry() Telemetry
}

// Validate checks that a Telemetry is usable.
func (t Telemetry) Validate() error {
	for _, s := range []struct {
		name string
		side Side
	}{{"server", t.Server}, {"client", t.Client}} {
		if len(s.side.Self) == 0 && len(s.side.Peer) == 0 {
			continue // a mesh may record only one side
		}
		if s.side.Requests == "" || s.side.Failures.Name == "" || s.side.Latency == "" || s.side.LatencyToMs <= 0 {
			return fmt.Errorf("%s telemetry %s side: requests, failures, latency and its unit are required", t.Mesh, s.name)
		}
	}
	return nil
}

// quote renders a PromQL string literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// regexAlternation is a PromQL regex matching exactly the given values.
func regexAlternation(values []string) string {
	v := append([]string(nil), values...)
	sort.Strings(v)
	for i := range v {
		v[i] = regexpQuoteMeta(v[i])
	}
	return strings.Join(v, "|")
}

// regexpQuoteMeta escapes RE2 metacharacters.
func regexpQuoteMeta(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
