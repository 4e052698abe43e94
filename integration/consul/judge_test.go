package consul_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	capi "github.com/hashicorp/consul/api"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// consulJudge asks the real agent. Load writes a scenario's entries through
// the backend's own sink (after clearing the previous scenario's); access
// decisions come from /v1/connect/intentions/check where it is exact (L4),
// and for L7 permissions, which check ignores, from the entry read back and
// evaluated by Consul's documented semantics (exact source before "*";
// permissions in order, first match wins; regexes are Envoy's full match);
// split decisions come from the compiled discovery chain.
type consulJudge struct {
	c      *capi.Client // an agent of its own: scenarios clear it between them
	opts   consul.Options
	closed []string
	mem    *normalize.Memory
}

var (
	_ conformance.Judge              = (*consulJudge)(nil)
	_ conformance.FailClosedReporter = (*consulJudge)(nil)
	_ conformance.Approximator       = (*consulJudge)(nil)
)

// SplitPrecision: Consul weights are percentages with two decimals.
func (j *consulJudge) SplitPrecision() float64 { return 0.0001 }

func (j *consulJudge) Name() string           { return "consul" }
func (j *consulJudge) FailedClosed() []string { return j.closed }

func clearEntries(c *capi.Client) error {
	ce := c.ConfigEntries()
	for i := len(consul.Kinds) - 1; i >= 0; i-- {
		list, _, err := ce.List(consul.Kinds[i], nil)
		if err != nil {
			return err
		}
		for _, e := range list {
			if _, err := ce.Delete(e.GetKind(), e.GetName(), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func (j *consulJudge) Load(objs []runtime.Object) error {
	j.closed = nil
	if err := clearEntries(j.c); err != nil {
		return err
	}
	mem, err := normalize.NewMemory("default", objs...)
	if err != nil {
		return err
	}
	j.mem = mem
	sink := &consul.Sink{Client: j.c, Opts: j.opts}
	for _, k := range append(mem.Keys(), model.MeshKey) {
		if k.Kind == model.KeyRoute {
			continue
		}
		slice, _ := normalize.Build(k, mem)
		res := consul.Translate(slice, j.opts)
		for _, err := range res.Problems {
			for _, e := range err.Errors {
				j.closed = append(j.closed, e.Error())
			}
		}
		p, _, err := sink.Apply(context.Background(), k, res.Entries)
		if err != nil {
			return fmt.Errorf("apply %s: %w", k, err)
		}
		for _, err := range p {
			for _, e := range err.Errors {
				return fmt.Errorf("apply %s: %v", k, e)
			}
		}
	}
	sort.Strings(j.closed)
	return nil
}

// collapsed reports whether the request's source is denied by SMI only
// because of its namespace, while the same name in another namespace is
// granted: Consul's free edition has one namespace, so it cannot tell them apart.
func (j *consulJudge) collapsed(r conformance.AccessRequest) bool {
	ns, sa, _ := strings.Cut(r.From, "/")
	dns, dsa, _ := strings.Cut(r.To, "/")
	for _, k := range j.mem.Keys() {
		if k.Kind != model.KeyAccess || k.Name != dsa {
			continue
		}
		slice, _ := normalize.Build(k, j.mem)
		if slice.Access == nil {
			continue
		}
		for _, g := range slice.Access.Grants {
			if g.Source.Name == sa && (g.Source.Namespace != ns || k.Namespace != dns) {
				return true
			}
		}
	}
	return false
}

func (j *consulJudge) Allowed(r conformance.AccessRequest) (bool, error) {
	proto := strings.ToUpper(r.Protocol)
	if proto == "" {
		proto = "HTTP"
	}
	if proto == "UDP" {
		return false, &conformance.Inexpressible{Reason: "Consul's service mesh does not carry UDP"}
	}
	_, src := consul.ServiceName(strings.Split(r.From, "/")[0], strings.Split(r.From, "/")[1], j.opts)
	_, dst := consul.ServiceName(strings.Split(r.To, "/")[0], strings.Split(r.To, "/")[1], j.opts)
	decide := func() (bool, error) {
		e, _, err := j.c.ConfigEntries().Get(capi.ServiceIntentions, dst, nil)
		if err == nil {
			si := e.(*capi.ServiceIntentionsConfigEntry)
			var match *capi.SourceIntention
			for _, s := range si.Sources {
				if s.Name == src {
					match = s
				}
			}
			if match == nil {
				for _, s := range si.Sources {
					if s.Name == "*" {
						match = s
					}
				}
			}
			if match != nil && len(match.Permissions) > 0 {
				if proto != "HTTP" {
					return false, nil // L7 intentions deny what is not HTTP
				}
				for _, p := range match.Permissions {
					if permissionMatches(p.HTTP, r) {
						return p.Action == capi.IntentionActionAllow, nil
					}
				}
				return false, nil
			}
		}
		ok, _, err := j.c.Connect().IntentionCheck(&capi.IntentionCheck{Source: src, Destination: dst}, nil)
		return ok, err
	}
	ok, err := decide()
	if err == nil && ok && j.collapsed(r) {
		return false, &conformance.Inexpressible{Reason: fmt.Sprintf("Consul's free edition has one namespace: %s is the same Consul service %q as a granted source of another namespace", r.From, src)}
	}
	return ok, err
}

func fullMatch(re, v string) bool {
	r, err := regexp.Compile("^(?:" + re + ")$")
	return err == nil && r.MatchString(v)
}

// httpMatches is Consul's HTTP match, shared by intention permissions and
// router routes: path exact/prefix/regex (Envoy full match), any of the
// methods, every header (present, then exact or regex).
func httpMatches(pathExact, pathPrefix, pathRegex string, methods []string, headers []struct{ name, exact, regex string }, method, path string, reqHeaders map[string]string) bool {
	switch {
	case pathExact != "" && path != pathExact:
		return false
	case pathPrefix != "" && !strings.HasPrefix(path, pathPrefix):
		return false
	case pathRegex != "" && !fullMatch(pathRegex, path):
		return false
	}
	if len(methods) > 0 {
		found := false
		for _, m := range methods {
			found = found || strings.EqualFold(m, method)
		}
		if !found {
			return false
		}
	}
	for _, hd := range headers {
		v, present := "", false
		for k, val := range reqHeaders {
			if strings.EqualFold(k, hd.name) {
				v, present = val, true
			}
		}
		if !present || (hd.regex != "" && !fullMatch(hd.regex, v)) || (hd.exact != "" && v != hd.exact) {
			return false
		}
	}
	return true
}

func permissionMatches(h *capi.IntentionHTTPPermission, r conformance.AccessRequest) bool {
	if h == nil {
		return true
	}
	var hs []struct{ name, exact, regex string }
	for _, hd := range h.Header {
		hs = append(hs, struct{ name, exact, regex string }{hd.Name, hd.Exact, hd.Regex})
	}
	return httpMatches(h.PathExact, h.PathPrefix, h.PathRegex, h.Methods, hs, r.Method, r.Path, r.Headers)
}

func (j *consulJudge) Split(r conformance.SplitRequest) (map[string]int64, error) {
	_, name, _ := strings.Cut(r.Root, "/")
	out, _, err := j.c.DiscoveryChain().Get(name, nil, nil)
	if err != nil {
		return nil, err
	}
	chain := out.Chain
	node := chain.Nodes[chain.StartNode]
	for node != nil && node.Type == "router" {
		var next string
		for _, rt := range node.Routes {
			if routeMatches(rt.Definition.Match, r) {
				next = rt.NextNode
				break
			}
		}
		node = chain.Nodes[next]
	}
	if node == nil {
		return nil, fmt.Errorf("no route in the chain of %s", name)
	}
	weights := map[string]int64{}
	switch node.Type {
	case "splitter":
		for _, s := range node.Splits {
			svc := chain.Targets[chain.Nodes[s.NextNode].Resolver.Target].Service
			weights[svc] += int64(s.Weight*100 + 0.5)
		}
	case "resolver":
		weights[chain.Targets[node.Resolver.Target].Service] = 1
	}
	return weights, nil
}

func routeMatches(m *capi.ServiceRouteMatch, r conformance.SplitRequest) bool {
	if m == nil || m.HTTP == nil {
		return true
	}
	h := m.HTTP
	var hs []struct{ name, exact, regex string }
	for _, hd := range h.Header {
		hs = append(hs, struct{ name, exact, regex string }{hd.Name, hd.Exact, hd.Regex})
	}
	return httpMatches(h.PathExact, h.PathPrefix, h.PathRegex, h.Methods, hs, r.Method, r.Path, r.Headers)
}

// TestConsulJudge runs every conformance scenario on the real agent, with
// default-access=deny; the report is integration/conformance/reports/consul.md.
func TestConsulJudge(t *testing.T) {
	own, err := harness.StartConsul()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	conformance.Run(t, &consulJudge{c: own.Client, opts: consul.Options{DefaultAccess: "deny"}}, "../conformance/scenarios", "../conformance/reports/consul.md")
}
