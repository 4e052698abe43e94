package consul_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	capi "github.com/hashicorp/consul/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// consulJudge asks the real agent. Load writes a scenario's entries through
// the backend's own sink (after clearing the previous scenario's), then
// registers the services the scenario's requests use, each with a Connect
// sidecar, and fetches every sidecar's Envoy configuration over the agent's
// xDS port (envoyView). Verdicts come from that configuration, decided by
// envoyjudge: access on the destination sidecar's public listener, splits on
// the client sidecar's upstream listener and routes.
//
// A second opinion checks every verdict: access from the service-intentions
// entry read back and evaluated by Consul's documented semantics (exact
// source before "*"; permissions in order, first match wins; regexes are
// Envoy's full match; raw TCP never reaches a service whose protocol is
// http-like), or /v1/connect/intentions/check where it is exact (L4);
// splits from the compiled discovery chain. A disagreement is recorded
// (the Envoy verdict stands) and fails TestConsulJudge with both answers.
type consulJudge struct {
	c      *capi.Client // an agent of its own: scenarios clear it between them
	opts   consul.Options
	closed []*model.Diagnostic
	mem    *normalize.Memory
	envoy  *envoyView

	// scenarios and their decoded objects: Load finds the scenario it is
	// given (the judge registers the services its requests use).
	scenarios []conformance.Scenario
	decoded   [][]runtime.Object
	current   *conformance.Scenario
	// incremental: each load writes over what the previous one left on the
	// agent (the sink prunes the entries of keys gone or changed), as the
	// controller does under edits, instead of starting from a clear agent.
	incremental bool
	keys        map[model.Key]bool // every key written so far
	loaded      int64              // index of current in scenarios
	backend     backend.Backend    // the Consul backend, for incremental runs
	requeue     func(model.Key)    // what the backend asks to re-queue

	envoyAccess, envoySplit   int // decisions envoyjudge made
	secondAccess, secondSplit int // of them, checked by the second opinion
	disagreements             []string
}

var (
	_ conformance.Judge              = (*consulJudge)(nil)
	_ conformance.FailClosedReporter = (*consulJudge)(nil)
	_ conformance.Quantizer          = (*consulJudge)(nil)
	_ conformance.Representer        = (*consulJudge)(nil)
	_ conformance.Describer          = (*consulJudge)(nil)
)

// Description says who decides, under the report's title.
func (j *consulJudge) Description() string {
	return "Verdicts come from the Envoy configuration the Consul " + harness.ConsulVersion + " agent generated (`consul agent -dev`, " +
		"the entries smi-adapter's Consul backend writes with default-access=deny): for each scenario the judge registers its services with " +
		"Connect sidecars, fetches every sidecar's clusters, listeners and routes over the agent's xDS gRPC port as Envoy does (Delta ADS), " +
		"and `integration/conformance/envoyjudge` decides access on the destination sidecar's public listener (mTLS with the source's " +
		"leaf certificate, RBAC filters; raw TCP meeting an http_connection_manager is refused) and splits on the client sidecar's " +
		"upstream listener and routes (weighted clusters, or the tcp_proxy's cluster). " +
		"Second opinion on every verdict: the compiled discovery chain (splits) and the service-intentions entry read back and evaluated " +
		"(access); a disagreement fails the test."
}

// WeightTotal: Consul's splits are percentages with two decimals, as
// Envoy receives them: weights in hundredths of a percent, summing to 10000.
func (j *consulJudge) WeightTotal() int64 { return 10000 }

// Representable: the agent stores a splitter weight as float32(h)/100
// (NormalizeServiceSplitWeight, agent/structs/config_entry_discoverychain.go)
// and gives Envoy int(weight*100) in float32 (agent/xds/routes.go).
func (j *consulJudge) Representable(h int64) bool {
	stored := float32(h) / 100.0
	return int64(stored*100) == h
}

func (j *consulJudge) Name() string                      { return "consul" }
func (j *consulJudge) FailedClosed() []*model.Diagnostic { return j.closed }

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
	// Steps of a generated world may hold the same objects: the scenario
	// after the last one loaded comes first.
	from := 0
	if j.current != nil {
		from = int(j.loaded) + 1
	}
	j.current = nil
	for n := range j.scenarios {
		i := (from + n) % len(j.scenarios)
		if reflect.DeepEqual(j.decoded[i], objs) {
			j.current, j.loaded = &j.scenarios[i], int64(i)
			break
		}
	}
	if j.current == nil {
		return fmt.Errorf("objects of no known scenario")
	}
	return j.write(objs)
}

// LoadScenario loads a scenario the judge was not given (the access
// fuzzer's): its objects, and reqs as the access requests whose services
// get sidecars.
func (j *consulJudge) LoadScenario(sc conformance.Scenario, reqs []conformance.AccessRequest) error {
	objs, err := sc.Decode()
	if err != nil {
		return err
	}
	sc.Access, sc.Split = reqs, nil
	j.closed, j.current = nil, &sc
	return j.write(objs)
}

// write replaces the agent's entries with objs' and loads the sidecars of
// j.current.
func (j *consulJudge) write(objs []runtime.Object) error {
	if err := j.envoy.reset(); err != nil {
		return err
	}
	if !j.incremental {
		if err := clearEntries(j.c); err != nil {
			return err
		}
	}
	mem, err := normalize.NewMemory("default", objs...)
	if err != nil {
		return err
	}
	j.mem = mem
	j.envoy.pods = nil
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			j.envoy.pods = append(j.envoy.pods, p)
		}
	}
	sink := &consul.Sink{Client: j.c, Opts: j.opts}
	// The product path: the backend's own build options (the other
	// namespaces' identities of each source's name, where Consul collapses
	// namespaces), as the controller and translate use them.
	build := normalize.Options{IdentitiesElsewhere: !j.opts.MirrorNamespaces} // as Backend.CollapsesNamespaces
	keys := append(mem.Keys(), model.MeshKey)
	if j.incremental {
		if j.keys == nil {
			j.keys = map[model.Key]bool{}
		}
		for _, k := range keys {
			j.keys[k] = true
		}
		keys = keys[:0]
		for k := range j.keys {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return keys[a].String() < keys[b].String() })
	}
	// A key whose entry another key still holds gets a transient error, and
	// the backend re-queues the keys a claim change concerns: both are
	// applied again after the others, as the controller does. Incremental
	// runs go through the backend itself (its claims persist across steps).
	pending := keys
	for pass := 0; len(pending) > 0; pass++ {
		var again []model.Key
		requeued := map[model.Key]bool{}
		j.requeue = func(k model.Key) { requeued[k] = true }
		for _, k := range pending {
			if k.Kind == model.KeyRoute {
				continue
			}
			slice, normalized := build.Build(k, mem)
			res := consul.Translate(slice, j.opts)
			var p model.Problems
			var err error
			if j.incremental {
				p, err = j.backend.Sync(context.Background(), slice)
				res.Problems = model.Problems{} // Sync's problems hold Translate's
			} else {
				p, _, err = sink.Apply(context.Background(), k, res.Entries)
			}
			if errors.Is(err, backend.ErrTransient) && pass < 5 {
				again = append(again, k)
				continue
			}
			if err != nil {
				return fmt.Errorf("apply %s: %w", k, err)
			}
			// What normalize refuses is left out as much as what Consul cannot say.
			res.Problems.Merge(normalized)
			j.closed = append(j.closed, conformance.Diagnostics(res.Problems)...)
			if j.incremental {
				// The backend's problems: the translation's and the sink's.
				j.closed = append(j.closed, conformance.Diagnostics(p)...)
				continue
			}
			for _, err := range p {
				for _, e := range err.Errors {
					return fmt.Errorf("apply %s: %v", k, e)
				}
			}
		}
		if pass < 5 {
			for k := range requeued {
				if !slices.Contains(again, k) {
					again = append(again, k)
				}
			}
		}
		pending = again
	}
	if j.incremental {
		// Problems of a key applied more than once are its last pass's.
		j.closed = dedupe(j.closed)
	}
	// Applying the same entries again writes nothing: the sink's comparison
	// sees what the agent stored (with its defaults) as what was desired.
	for _, k := range keys {
		if k.Kind == model.KeyRoute {
			continue
		}
		slice, _ := build.Build(k, mem)
		entries := consul.Translate(slice, j.opts).Entries
		if j.incremental {
			before, err := entriesIndex(j.c)
			if err != nil {
				return err
			}
			if _, err := j.backend.Sync(context.Background(), slice); err != nil {
				return fmt.Errorf("sync %s again: %w", k, err)
			}
			if after, err := entriesIndex(j.c); err != nil || after != before {
				return fmt.Errorf("sync %s again: the agent's entries changed (index %d to %d), err %v", k, before, after, err)
			}
			continue
		}
		if _, n, err := sink.Apply(context.Background(), k, entries); err != nil || n != 0 {
			var names []string
			for _, d := range entries {
				b, _ := json.Marshal(d.Entry)
				names = append(names, string(b))
			}
			return fmt.Errorf("apply %s again: %d entries written (want 0), err %v; desired %s", k, n, err, strings.Join(names, "; "))
		}
	}
	conformance.SortDiagnostics(j.closed)
	return j.envoy.load(j.current)
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
	src, dst := j.envoy.consulName(r.From), j.envoy.consulName(r.To)
	decide := func() (bool, error) {
		if proto != "HTTP" {
			// The sidecars of a service whose protocol is http-like speak
			// HTTP only (http_connection_manager listeners).
			p, err := j.envoy.protocol(dst)
			if err != nil || httpLike(p) {
				return false, err
			}
		}
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
	ok, err := j.envoy.allowed(src, dst, r, proto)
	if err != nil {
		return false, fmt.Errorf("envoy: %w", err)
	}
	j.envoyAccess++
	second, err := decide()
	if err != nil {
		return false, fmt.Errorf("second opinion: %w", err)
	}
	j.secondAccess++
	if second != ok {
		j.disagreements = append(j.disagreements, fmt.Sprintf("%s: access %s: Envoy config says allowed=%v, the intentions read back say allowed=%v", j.current.Name, r, ok, second))
	}
	if ok && j.collapsed(r) {
		return false, &conformance.Inexpressible{Reason: fmt.Sprintf("Consul's free edition has one namespace: %s is the same Consul service %q as a granted source of another namespace", r.From, src)}
	}
	return ok, nil
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
	name := j.envoy.consulName(r.Root)
	got, err := j.envoy.split(name, r)
	if err != nil {
		return nil, fmt.Errorf("envoy: %w", err)
	}
	j.envoySplit++
	second, err := j.chainSplit(name, r)
	if err != nil {
		return nil, fmt.Errorf("second opinion: %w", err)
	}
	j.secondSplit++
	if !conformance.SameRatios(got, second) {
		j.disagreements = append(j.disagreements, fmt.Sprintf("%s: split %s: Envoy config says %v, the discovery chain says %v", j.current.Name, r, got, second))
	}
	// The root's pods may register under another name: requests that stay
	// on it reach the root Service's pods.
	if _, root, _ := strings.Cut(r.Root, "/"); name != root {
		if w, ok := got[name]; ok {
			delete(got, name)
			got[root] += w
		}
	}
	return got, nil
}

// chainSplit follows the compiled discovery chain of name (second opinion).
func (j *consulJudge) chainSplit(name string, r conformance.SplitRequest) (map[string]int64, error) {
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
			weights[svc] += int64(s.Weight * 100) // as the agent converts it for Envoy (agent/xds/routes.go)
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
	const dir = "../conformance/scenarios"
	own, err := harness.StartConsul()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	opts := consul.Options{DefaultAccess: "deny"}
	j := &consulJudge{c: own.Client, opts: opts}
	if j.scenarios, err = conformance.Load(dir); err != nil {
		t.Fatal(err)
	}
	for _, sc := range j.scenarios {
		objs, err := sc.Decode()
		if err != nil {
			t.Fatalf("%s: %v", sc.File, err)
		}
		j.decoded = append(j.decoded, objs)
	}
	if j.envoy, err = newEnvoyView(own.Client, own.GRPCAddr, opts); err != nil {
		t.Fatal(err)
	}
	defer j.envoy.Close()
	if err := j.envoy.warm(j.scenarios); err != nil {
		t.Fatal(err)
	}
	conformance.Run(t, j, dir, "../conformance/reports/consul.md")
	for _, d := range j.disagreements {
		t.Errorf("the second opinion disagrees: %s", d)
	}
	// Every decision the mesh can make came from the Envoy configuration,
	// and the second opinion checked it (UDP is inexpressible: no sidecar).
	access, split := 0, 0
	for _, sc := range j.scenarios {
		for _, r := range sc.Access {
			if !strings.EqualFold(r.Protocol, "UDP") {
				access++
			}
		}
		split += len(sc.Split)
	}
	t.Logf("envoyjudge decided %d access and %d split decisions; the second opinion checked %d and %d", j.envoyAccess, j.envoySplit, j.secondAccess, j.secondSplit)
	if !t.Failed() && (j.envoyAccess != access || j.envoySplit != split || j.secondAccess != access || j.secondSplit != split) {
		t.Errorf("the scenarios hold %d access (not UDP) and %d split decisions", access, split)
	}
	// The last scenario's services (and their sidecars) go away with it.
	if err := j.envoy.reset(); err != nil {
		t.Error(err)
	}
	if left, err := own.Client.Agent().Services(); err != nil || len(left) > 0 {
		t.Errorf("services left on the agent after the run: %v %v", left, err)
	}
}

// dedupe drops repeated diagnostics.
func dedupe(ds []*model.Diagnostic) []*model.Diagnostic {
	seen := map[string]bool{}
	var out []*model.Diagnostic
	for _, d := range ds {
		k := d.Object.String() + "|" + d.Error()
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

// entriesIndex is the highest modify index of the agent's config entries:
// it changes with any write or deletion of one.
func entriesIndex(c *capi.Client) (uint64, error) {
	var top uint64
	for _, kind := range consul.Kinds {
		list, meta, err := c.ConfigEntries().List(kind, nil)
		if err != nil {
			return 0, err
		}
		top = max(top, meta.LastIndex)
		for _, e := range list {
			top = max(top, e.GetModifyIndex())
		}
	}
	return top, nil
}
