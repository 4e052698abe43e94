// Package conformance holds SMI scenarios as data and a runner that asks a
// judge what a mesh would do. A scenario is SMI YAML (any version, plus
// Services and Pods) and the decisions SMI requires: "source x calling METHOD
// PATH with headers H on destination d:port is allowed/denied" and "requests
// to root r with headers H are split across backends in ratio …".
//
// Each backend supplies a judge that answers from what that mesh really does
// with the resources smi-adapter writes (its own engine wherever one runs
// here); the model judge answers from core's model and is the reference.
package conformance

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/apis"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// Scenario is one conformance case.
type Scenario struct {
	Name string `json:"name"`
	// Rule is the SMI rule the scenario exercises.
	Rule string `json:"rule"`
	// Objects is a multi-document YAML stream of SMI objects (any version),
	// Services and Pods; objects without a namespace go to "default".
	Objects string          `json:"objects"`
	Access  []AccessRequest `json:"access,omitempty"`
	Split   []SplitRequest  `json:"split,omitempty"`
	// File the scenario was read from.
	File string `json:"-"`
}

// AccessRequest is one call from a source identity to a destination identity.
type AccessRequest struct {
	// From and To are "namespace/serviceaccount".
	From string `json:"from"`
	To   string `json:"to"`
	Port int32  `json:"port"`
	// Protocol is HTTP (default), TCP (raw TCP, no HTTP) or UDP.
	Protocol string            `json:"protocol,omitempty"`
	Method   string            `json:"method,omitempty"`
	Path     string            `json:"path,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Allow    bool              `json:"allow"`
}

// Proto is the request's protocol, upper case: HTTP unless it says TCP or UDP.
func (r AccessRequest) Proto() string {
	if r.Protocol == "" {
		return "HTTP"
	}
	return strings.ToUpper(r.Protocol)
}

// PodOf is the first of pods that runs as identity ("namespace/account"),
// a pod that names no account running as "default"; nil when none does.
func PodOf(pods []*corev1.Pod, identity string) *corev1.Pod {
	ns, sa, _ := strings.Cut(identity, "/")
	for _, p := range pods {
		if p.Namespace == ns && (p.Spec.ServiceAccountName == sa || (sa == "default" && p.Spec.ServiceAccountName == "")) {
			return p
		}
	}
	return nil
}

func (r AccessRequest) String() string {
	proto := r.Protocol
	if proto == "" {
		proto = "HTTP"
	}
	s := fmt.Sprintf("%s -> %s:%d %s", r.From, r.To, r.Port, proto)
	if proto == "HTTP" {
		s += " " + r.Method + " " + shortPath(r.Path)
	}
	if len(r.Headers) > 0 {
		s += " " + headerString(r.Headers)
	}
	return s
}

// SplitRequest is one HTTP request a client sends to a root Service.
type SplitRequest struct {
	// Root is "namespace/service".
	Root    string            `json:"root"`
	Port    int32             `json:"port"`
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Backends are the Services the request is spread over, with relative
	// weights; only the ratios matter. A request that is not split goes to
	// the root: {rootName: 1}.
	Backends map[string]int64 `json:"backends"`
}

func (r SplitRequest) String() string {
	s := fmt.Sprintf("%s:%d %s %s", r.Root, r.Port, r.Method, shortPath(r.Path))
	if len(r.Headers) > 0 {
		s += " " + headerString(r.Headers)
	}
	return s
}

// shortPath is a request path as reports show it: a long one is cut, with
// its length.
func shortPath(p string) string {
	if len(p) <= 80 {
		return p
	}
	return fmt.Sprintf("%s… (%d characters)", p[:40], len(p))
}

func headerString(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + h[k]
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Judge says what a mesh does with the resources smi-adapter writes.
type Judge interface {
	Name() string
	// Load prepares the judge for a scenario's objects (hub versions, Services, Pods).
	Load(objs []runtime.Object) error
	// Allowed says whether the mesh lets the request through.
	Allowed(AccessRequest) (bool, error)
	// Split says over which Services, in which ratio, the mesh spreads the request.
	Split(SplitRequest) (map[string]int64, error)
}

// Inexpressible is returned by a judge for a decision its mesh cannot make
// at all (e.g. Istio does not proxy UDP): reported, never silently skipped.
type Inexpressible struct{ Reason string }

func (e *Inexpressible) Error() string { return "inexpressible: " + e.Reason }

// FailClosedReporter is implemented by judges of backends that fail closed:
// it lists what the backend reported it could not express for the loaded
// scenario. A decision the judge denies where SMI allows is then "fail-closed"
// (safe, reported) instead of a failure. Allowing what SMI denies is always a failure.
type FailClosedReporter interface {
	FailedClosed() []*model.Diagnostic
}

// Quantizer is implemented by judges of meshes whose weights are integers
// of a fixed total (Consul: hundredths of a percent, 10000). Where SMI's
// ratio does not fit that grid, the split must be exactly a closest
// distribution on it (ClosestOnGrid), reported as approximated; anything
// else, however near, fails.
type Quantizer interface {
	WeightTotal() int64
}

// Representer is implemented by Quantizers whose grid has holes: weights
// the mesh cannot deliver as written (Consul's agent truncates some
// hundredths on their way to Envoy). The closest split is then the one of
// least distance to SMI's shares among representable weights
// (ClosestOnSparseGrid).
type Representer interface {
	Representable(w int64) bool
}

// ClosestOnSparseGrid says whether got (weights summing to total, each
// representable) is at the least L1 distance from SMI's exact shares
// among every distribution of representable weights summing to total in
// which a positive weight gets at least 1 and a zero weight nothing (ties
// either way). On a grid without holes that is the largest-remainder
// distribution ClosestOnGrid accepts.
func ClosestOnSparseGrid(got, want map[string]int64, total int64, representable func(int64) bool) (bool, string) {
	var sum float64
	var names []string
	for k, w := range want {
		sum += float64(w)
		if w > 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if sum == 0 {
		return false, "SMI's weights are all 0"
	}
	var gotSum int64
	for k, g := range got {
		gotSum += g
		if want[k] <= 0 && g != 0 {
			return false, fmt.Sprintf("%s gets %d, SMI gives it no weight", k, g)
		}
		if !representable(g) {
			return false, fmt.Sprintf("%s gets %d, which the mesh cannot deliver as written", k, g)
		}
	}
	if gotSum != total {
		return false, fmt.Sprintf("the weights sum to %d, not %d", gotSum, total)
	}
	share := func(k string) float64 { return float64(want[k]) * float64(total) / sum }
	gotCost := 0.0
	for _, k := range names {
		if got[k] < 1 {
			return false, fmt.Sprintf("%s gets nothing, SMI gives it weight %d", k, want[k])
		}
		gotCost += math.Abs(float64(got[k]) - share(k))
	}
	// Least cost over representable weights near each share (a few steps
	// either side reach past any hole), by dynamic programming on the sum.
	best := map[int64]float64{0: 0}
	for _, k := range names {
		next := map[int64]float64{}
		lo, hi := int64(math.Floor(share(k)))-4, int64(math.Ceil(share(k)))+4
		for c := max(lo, 1); c <= min(hi, total); c++ {
			if !representable(c) {
				continue
			}
			cost := math.Abs(float64(c) - share(k))
			for partial, pc := range best {
				if n := partial + c; n <= total {
					if old, ok := next[n]; !ok || pc+cost < old {
						next[n] = pc + cost
					}
				}
			}
		}
		best = next
	}
	least, ok := best[total]
	if !ok {
		return true, "" // no distribution near the shares exists: got is as good as any
	}
	if gotCost > least+1e-6 {
		return false, fmt.Sprintf("its distance to SMI's shares is %.4f parts, a representable split is %.4f", gotCost, least)
	}
	return true, ""
}

// ClosestOnGrid says whether got (weights summing to total) is a closest
// distribution of SMI's weights want on a grid of total: each positive
// weight gets its exact share rounded down or up, a positive weight never
// 0 (it keeps traffic), and the shares rounded up are those with the
// largest remainders (ties either way). Zero weights get nothing.
func ClosestOnGrid(got, want map[string]int64, total int64) (bool, string) {
	var sum, gotSum big.Int
	for _, w := range want {
		sum.Add(&sum, big.NewInt(w))
	}
	for k, g := range got {
		gotSum.Add(&gotSum, big.NewInt(g))
		if want[k] <= 0 && g != 0 {
			return false, fmt.Sprintf("%s gets %d, SMI gives it no weight", k, g)
		}
	}
	if gotSum.Cmp(big.NewInt(total)) != 0 {
		return false, fmt.Sprintf("the weights sum to %s, not %d", gotSum.String(), total)
	}
	if sum.Sign() == 0 {
		return false, "SMI's weights are all 0"
	}
	type share struct {
		name     string
		floor    int64
		rem      *big.Rat
		rounded  int64 // got - floor
		mustTake bool  // positive with a floor of 0: at least 1
	}
	var shares []share
	for k, w := range want {
		if w <= 0 {
			continue
		}
		num := new(big.Int).Mul(big.NewInt(w), big.NewInt(total))
		q, r := new(big.Int).QuoRem(num, &sum, new(big.Int))
		sh := share{name: k, floor: q.Int64(), rem: new(big.Rat).SetFrac(r, &sum)}
		sh.rounded = got[k] - sh.floor
		sh.mustTake = sh.floor == 0
		if sh.rounded < 0 || sh.rounded > 1 || (sh.rounded == 1 && sh.rem.Sign() == 0) {
			return false, fmt.Sprintf("%s gets %d, its exact share is %s of %d", k, got[k], new(big.Rat).SetFrac(num, &sum).FloatString(4), total)
		}
		if sh.mustTake && got[k] == 0 {
			return false, fmt.Sprintf("%s gets nothing, SMI gives it weight %d", k, w)
		}
		shares = append(shares, sh)
	}
	for _, a := range shares {
		for _, b := range shares {
			if a.rounded == 1 && !a.mustTake && b.rounded == 0 && a.rem.Cmp(b.rem) < 0 {
				return false, fmt.Sprintf("%s is rounded up and %s down, though %s's remainder is larger", a.name, b.name, b.name)
			}
		}
	}
	return true, ""
}

// CloseRatios reports whether two weight maps name the same Services and
// give each a share of the traffic within precision of the other's.
func CloseRatios(a, b map[string]int64, precision float64) bool {
	share := func(m map[string]int64) map[string]float64 {
		var total int64
		for _, v := range m {
			total += v
		}
		out := map[string]float64{}
		for k, v := range m {
			if v != 0 {
				out[k] = float64(v) / float64(total)
			}
		}
		return out
	}
	sa, sb := share(a), share(b)
	if len(sa) != len(sb) {
		return false
	}
	for k, x := range sa {
		y, ok := sb[k]
		if !ok || x-y > precision || y-x > precision {
			return false
		}
	}
	return true
}

// Load reads every scenario in dir, strictly (unknown fields are errors).
func Load(dir string) ([]Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []Scenario
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s Scenario
		if err := yaml.UnmarshalStrict(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		s.File = filepath.Base(f)
		if s.Name == "" || s.Rule == "" || len(s.Access)+len(s.Split) == 0 {
			return nil, fmt.Errorf("%s: a scenario needs a name, a rule and at least one expectation", f)
		}
		out = append(out, s)
	}
	return out, nil
}

// Decode decodes a scenario's objects and converts SMI objects to their hubs.
func (s Scenario) Decode() ([]runtime.Object, error) {
	scheme := runtime.NewScheme()
	if err := apis.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	docs, err := apis.DecodeYAML(scheme, bytes.NewReader([]byte(s.Objects)))
	if err != nil {
		return nil, err
	}
	var out []runtime.Object
	hasPod := map[string]bool{}
	for _, d := range docs {
		if p, ok := d.Object.(*corev1.Pod); ok {
			ns := p.Namespace
			if ns == "" {
				ns = "default"
			}
			sa := p.Spec.ServiceAccountName
			if sa == "" {
				sa = "default"
			}
			hasPod[ns+"/"+sa] = true
		}
	}
	// Meshes that select workloads by labels need pods: every destination a
	// scenario calls without giving its pods gets one, labelled app=<account>
	// and declaring the ports its callers use, as a real workload would.
	synthetic := map[string]*corev1.Pod{}
	var order []string
	for _, r := range s.Access {
		if hasPod[r.To] && synthetic[r.To] == nil {
			continue
		}
		p := synthetic[r.To]
		if p == nil {
			ns, sa, _ := strings.Cut(r.To, "/")
			p = &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa + "-0", Labels: map[string]string{"app": sa}},
				Spec:       corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "app"}}},
			}
			synthetic[r.To] = p
			hasPod[r.To] = true
			order = append(order, r.To)
		}
		proto := corev1.ProtocolTCP
		if strings.EqualFold(r.Protocol, "UDP") {
			proto = corev1.ProtocolUDP
		}
		declared := false
		for _, cp := range p.Spec.Containers[0].Ports {
			declared = declared || (cp.ContainerPort == r.Port && cp.Protocol == proto)
		}
		if !declared {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: r.Port, Protocol: proto})
		}
	}
	for _, k := range order {
		out = append(out, synthetic[k])
	}
	for _, d := range docs {
		if d.GVK.Group == "" {
			out = append(out, d.Object)
			continue
		}
		hub, err := apis.ToHub(scheme, d.Object, d.GVK)
		if err != nil {
			return nil, err
		}
		out = append(out, hub)
	}
	return out, nil
}

// SameRatios reports whether two weight maps describe the same split: the
// same Services with non-zero weight, in the same proportions.
func SameRatios(a, b map[string]int64) bool {
	nz := func(m map[string]int64) map[string]int64 {
		out := map[string]int64{}
		for k, v := range m {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	a, b = nz(a), nz(b)
	if len(a) != len(b) || len(a) == 0 {
		return len(a) == len(b)
	}
	var sa, sb big.Int
	for _, v := range a {
		sa.Add(&sa, big.NewInt(v))
	}
	for _, v := range b {
		sb.Add(&sb, big.NewInt(v))
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok {
			return false
		}
		// va/sa == vb/sb  <=>  va*sb == vb*sa
		var l, r big.Int
		l.Mul(big.NewInt(va), &sb)
		r.Mul(big.NewInt(vb), &sa)
		if l.Cmp(&r) != 0 {
			return false
		}
	}
	return true
}
