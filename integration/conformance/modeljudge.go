package conformance

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// ModelJudge answers from core's model: it is what smi-adapter believes SMI
// means, and the reference every mesh judge is compared with.
type ModelJudge struct {
	mem    *normalize.Memory
	closed []*model.Diagnostic
}

var _ Judge = (*ModelJudge)(nil)

// Name implements Judge.
func (*ModelJudge) Name() string { return "model" }

// Load implements Judge.
func (j *ModelJudge) Load(objs []runtime.Object) error {
	m, err := normalize.NewMemory("default", objs...)
	if err != nil {
		return err
	}
	j.mem = m
	j.closed = nil
	for _, k := range m.Keys() {
		_, problems := normalize.Build(k, m)
		j.closed = append(j.closed, Diagnostics(problems)...)
	}
	SortDiagnostics(j.closed)
	return nil
}

// FailedClosed implements FailClosedReporter: what normalize left out of
// the model (a regex no engine reads as RE2 does, ...), reported on the
// SMI objects.
func (j *ModelJudge) FailedClosed() []*model.Diagnostic { return j.closed }

func identity(s string) (model.Identity, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		return model.Identity{}, fmt.Errorf("want namespace/name, got %q", s)
	}
	return model.Identity{Namespace: ns, Name: name}, nil
}

// Allowed implements Judge.
func (j *ModelJudge) Allowed(r AccessRequest) (bool, error) {
	from, err := identity(r.From)
	if err != nil {
		return false, err
	}
	to, err := identity(r.To)
	if err != nil {
		return false, err
	}
	slice, _ := normalize.Build(model.Key{Kind: model.KeyAccess, Namespace: to.Namespace, Name: to.Name}, j.mem)
	if slice.Access == nil {
		return false, nil // deny by default
	}
	proto := model.Protocol(strings.ToUpper(r.Protocol))
	if proto == "" {
		proto = model.ProtocolHTTP
	}
	for _, g := range slice.Access.Grants {
		if g.Source != from {
			continue
		}
		for _, rule := range g.Rules {
			ok, err := ruleAllows(rule, proto, r)
			if err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}

func ruleAllows(rule model.Rule, proto model.Protocol, r AccessRequest) (bool, error) {
	if len(rule.Ports) > 0 && !slices.Contains(rule.Ports, r.Port) {
		return false, nil
	}
	switch rule.Protocol {
	case model.ProtocolUDP:
		return proto == model.ProtocolUDP, nil
	case model.ProtocolTCP:
		return proto == model.ProtocolTCP || proto == model.ProtocolHTTP, nil // HTTP runs over TCP
	case model.ProtocolHTTP:
		if proto != model.ProtocolHTTP {
			return false, nil
		}
		return httpMatches(*rule.HTTP, r.Method, r.Path, r.Headers)
	}
	return false, nil
}

func httpMatches(m model.HTTPMatch, method, path string, headers map[string]string) (bool, error) {
	if m.PathRegex != "" {
		re, err := regexp.Compile(m.PathRegex)
		if err != nil {
			return false, err
		}
		if !re.MatchString(path) {
			return false, nil
		}
	}
	if len(m.Methods) > 0 && !slices.Contains(m.Methods, strings.ToUpper(method)) {
		return false, nil
	}
	lower := map[string]string{}
	for k, v := range headers {
		lower[strings.ToLower(k)] = v
	}
	for _, h := range m.Headers {
		v, ok := lower[h.Name]
		if !ok {
			return false, nil
		}
		re, err := regexp.Compile("^(?:" + h.Regex + ")$")
		if err != nil {
			return false, err
		}
		if !re.MatchString(v) {
			return false, nil
		}
	}
	return true, nil
}

// Split implements Judge.
func (j *ModelJudge) Split(r SplitRequest) (map[string]int64, error) {
	root, err := identity(r.Root)
	if err != nil {
		return nil, err
	}
	slice, _ := normalize.Build(model.Key{Kind: model.KeySplit, Namespace: root.Namespace, Name: root.Name}, j.mem)
	toRoot := map[string]int64{root.Name: 1}
	sp := slice.Split
	if sp == nil {
		return toRoot, nil
	}
	if len(sp.Matches) > 0 {
		matched := false
		for _, m := range sp.Matches {
			ok, err := httpMatches(m, r.Method, r.Path, r.Headers)
			if err != nil {
				return nil, err
			}
			matched = matched || ok
		}
		if !matched {
			return toRoot, nil
		}
	}
	out := map[string]int64{}
	for _, b := range sp.Backends {
		servesPort := false
		for _, p := range b.Service.Ports {
			servesPort = servesPort || p.Port == r.Port
		}
		if b.Weight > 0 && servesPort {
			out[b.Service.Name] += b.Weight
		}
	}
	if len(out) == 0 {
		return toRoot, nil
	}
	return out, nil
}
