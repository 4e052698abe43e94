package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	prommodel "github.com/prometheus/common/model"

	metricsv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/metrics/v1alpha1"
)

// Quantiles served, with their metric names.
var Quantiles = []struct {
	Q    float64
	Name string
}{{0.99, metricsv1alpha1.P99ResponseLatency}, {0.9, metricsv1alpha1.P90ResponseLatency}, {0.5, metricsv1alpha1.P50ResponseLatency}}

// selection is one question to one side's series: which series (match) and
// how to group them (by). It renders the PromQL of every metric.
type selection struct {
	side  *Side
	where metricsv1alpha1.Side
	match []Matcher
	by    []string
}

// Queries of a selection over a window, in the order: requests, failures, then
// one latency query per quantile.
func (s selection) Queries(window time.Duration) []string {
	w := promDuration(window)
	by := strings.Join(s.by, ", ")
	sel := s.selector(nil)
	out := []string{
		fmt.Sprintf("sum by (%s) (increase(%s%s[%s]))", by, s.side.Requests, sel, w),
		fmt.Sprintf("sum by (%s) (increase(%s%s[%s]))", by, s.side.Failures.Name, s.selector(s.side.Failures.Matchers), w),
	}
	leBy := "le"
	if by != "" {
		leBy = "le, " + by
	}
	for _, q := range Quantiles {
		out = append(out, fmt.Sprintf("histogram_quantile(%s, sum by (%s) (rate(%s%s[%s])))",
			strconv.FormatFloat(q.Q, 'f', -1, 64), leBy, s.side.Latency, sel, w))
	}
	return out
}

func (s selection) selector(extra []Matcher) string {
	ms := make([]string, 0, len(s.side.Filter)+len(s.match)+len(extra))
	for _, set := range [][]Matcher{s.side.Filter, s.match, extra} {
		for _, m := range set {
			ms = append(ms, m.String())
		}
	}
	return "{" + strings.Join(ms, ", ") + "}"
}

// promDuration renders a window as a PromQL duration.
func promDuration(d time.Duration) string { return prommodel.Duration(d).String() }

// eq and re are matcher shorthands.
func eq(label, value string) Matcher { return Matcher{Label: label, Op: "=", Value: value} }
func re(label string, values []string) Matcher {
	return Matcher{Label: label, Op: "=~", Value: regexAlternation(values)}
}

// selectResource selects one resource (or, with several names, the union of
// them) by its labels.
func selectResource(l Labels, namespace string, names []string) []Matcher {
	var ms []Matcher
	if l.Namespace != "" && namespace != "" {
		ms = append(ms, eq(l.Namespace, namespace))
	}
	switch len(names) {
	case 0:
		ms = append(ms, Matcher{Label: l.Name, Op: "!=", Value: ""})
	case 1:
		ms = append(ms, eq(l.Name, names[0]))
	default:
		ms = append(ms, re(l.Name, names))
	}
	return ms
}

// groupLabels are the labels naming a resource, for "sum by".
func groupLabels(l Labels) []string {
	if l.Namespace == "" {
		return []string{l.Name}
	}
	return []string{l.Namespace, l.Name}
}

// Explain describes how a mesh's telemetry answers a kind: where a resource
// is measured and by which labels ("" when not available), and the PromQL of
// one resource's metrics (for docs and debugging).
func Explain(t Telemetry, k Kind, namespace, name string, window time.Duration) (how string, queries []string) {
	p, err := resourcePlan(&t, k)
	if err != nil {
		return "", nil
	}
	if p.viaPods {
		return fmt.Sprintf("its pods (%s side: %s)", p.where, labelList(p.labels)), nil
	}
	s := selection{side: p.side, where: p.where, match: selectResource(p.labels, namespace, []string{name})}
	return fmt.Sprintf("%s side: %s", p.where, labelList(p.labels)), s.Queries(window)
}

// ExplainEdges describes the edges of a kind: per direction, the side and labels.
func ExplainEdges(t Telemetry, k Kind) []string {
	e := &Engine{Telemetry: t}
	var out []string
	for _, p := range e.edgePlans(k) {
		out = append(out, fmt.Sprintf("%s (%s side: %s → %s)", p.direction, p.where, labelList(p.self), labelList(p.peer)))
	}
	return out
}

func labelList(l Labels) string {
	if l.Namespace == "" {
		return "`" + l.Name + "`"
	}
	return "`" + l.Namespace + "`/`" + l.Name + "`"
}
