package conformance_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/testutil"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/istiojudge"
	"github.com/smi-adapter/smi-adapter/integration/conformance/linkerdjudge"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestModelJudge runs every scenario against the model judge and keeps the
// report in reports/model.md (-update rewrites it).
func TestModelJudge(t *testing.T) {
	conformance.Run(t, &conformance.ModelJudge{}, "scenarios", "reports/model.md")
}

// TestIstioJudge runs every scenario through the Istio backend, configured
// for SMI's deny by default (default-access=deny), and Istio's semantics; the
// report is reports/istio.md.
func TestIstioJudge(t *testing.T) {
	conformance.Run(t, &istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}}, "scenarios", "reports/istio.md")
}

// TestIstioJudgeDefaultAllow: without default-access=deny, Istio leaves a
// workload that no TrafficTarget names open. This test pins exactly that
// difference so the documentation's claim stays true.
func TestIstioJudgeDefaultAllow(t *testing.T) {
	j := &istiojudge.Judge{}
	for _, sc := range mustLoad(t) {
		if sc.Name != "deny-no-target" {
			continue
		}
		objs, err := sc.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Load(objs); err != nil {
			t.Fatal(err)
		}
		if ok, _ := j.Allowed(sc.Access[0]); !ok {
			t.Fatal("expected Istio's default (open) without default-access=deny")
		}
		return
	}
	t.Fatal("scenario deny-no-target not found")
}

// TestLinkerdJudge runs every scenario through the Linkerd backend and
// Linkerd's semantics, with the cluster's default inbound policy set to deny
// (what SMI's deny by default needs); the report is reports/linkerd.md.
// Every split of a root smi-adapter wrote a ServiceProfile for is decided by
// Linkerd's own destination service (checked: none is decided otherwise).
func TestLinkerdJudge(t *testing.T) {
	j := watchProfiles(t, &linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Profiles: linkerdDestination(t)})
	conformance.Run(t, j, "scenarios", "reports/linkerd.md")
	j.check(t)
	if j.byDestination == 0 {
		t.Error("no split was decided by Linkerd's destination service")
	}
}

// TestLinkerdJudgeHTTPRouteSplits: the same scenarios with every split
// written as HTTPRoutes (splits=httproute).
func TestLinkerdJudgeHTTPRouteSplits(t *testing.T) {
	j := watchProfiles(t, &linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Profiles: linkerdDestination(t), Options: linkerd.Options{Splits: linkerd.SplitsHTTPRoute}})
	conformance.Run(t, j, "scenarios", "reports/linkerd-httproute.md")
	j.check(t)
}

// profileWatch wraps a Linkerd judge to count which split decisions Linkerd's
// destination service made: a decision on a root smi-adapter wrote a
// ServiceProfile for (read here from the translation, independently of the
// judge) must have asked it, any other must not.
type profileWatch struct {
	*linkerdjudge.Judge
	src                     *countingSource
	profiled                map[string]bool // namespace/name of roots with a ServiceProfile
	scenarios               []conformance.Scenario
	loads                   int
	splits, byDestination   int
	decidedBy, notDecidedBy []string
	wronglyAsked, notAsked  []string
}

type countingSource struct {
	linkerdjudge.ProfileSource
	calls int
}

func (c *countingSource) GetProfile(gen int64, path, token string) (*harness.LinkerdProfile, error) {
	c.calls++
	return c.ProfileSource.GetProfile(gen, path, token)
}

func watchProfiles(t *testing.T, j *linkerdjudge.Judge) *profileWatch {
	t.Helper()
	src := &countingSource{ProfileSource: j.Profiles}
	j.Profiles = src
	return &profileWatch{Judge: j, src: src, scenarios: mustLoad(t)}
}

func (w *profileWatch) Load(objs []runtime.Object) error {
	tr, err := conformance.Translate(objs, false, func(s *model.Slice) ([]kubesink.Object, model.Problems) {
		r := linkerd.Translate(s, w.Options)
		return r.Objects, r.Problems
	})
	if err != nil {
		return err
	}
	w.profiled = map[string]bool{}
	w.loads++
	for _, b := range tr.Objects {
		var o struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		if o.Kind == "ServiceProfile" {
			w.profiled[o.Metadata.Namespace+"/"+o.Metadata.Name] = true
		}
	}
	return w.Judge.Load(objs)
}

func (w *profileWatch) Split(r conformance.SplitRequest) (map[string]int64, error) {
	before := w.src.calls
	out, err := w.Judge.Split(r)
	asked := w.src.calls > before
	ns, name, _ := strings.Cut(r.Root, "/")
	profiled := w.profiled[ns+"/"+linkerd.ServiceProfileName(name, ns, "cluster.local")]
	w.splits++
	what := fmt.Sprintf("%s: %s -> %v", w.scenarios[w.loads-1].Name, r, out)
	if err != nil {
		what = fmt.Sprintf("%s: %s -> error %v", w.scenarios[w.loads-1].Name, r, err)
	}
	switch {
	case profiled && asked:
		w.byDestination++
		w.decidedBy = append(w.decidedBy, what)
	case profiled:
		w.notAsked = append(w.notAsked, what)
	case asked:
		w.wronglyAsked = append(w.wronglyAsked, what)
	default:
		w.notDecidedBy = append(w.notDecidedBy, what)
	}
	return out, err
}

func (w *profileWatch) check(t *testing.T) {
	t.Helper()
	t.Logf("%d of %d split decisions made by Linkerd's destination service (%d GetProfile calls in all, the root ports of each ServiceProfile included):\n  %s",
		w.byDestination, w.splits, w.src.calls, strings.Join(w.decidedBy, "\n  "))
	t.Logf("by the judge's HTTPRoute model (no ServiceProfile on the root):\n  %s", strings.Join(w.notDecidedBy, "\n  "))
	if len(w.notAsked) > 0 {
		t.Errorf("splits of a root with a ServiceProfile not decided by Linkerd's destination service: %v", w.notAsked)
	}
	if len(w.wronglyAsked) > 0 {
		t.Errorf("splits of a root without a ServiceProfile asked Linkerd's destination service: %v", w.wronglyAsked)
	}
}

// TestLinkerdJudgeWithoutProfiles: without Linkerd's destination service
// the judge still decides access, but refuses a ServiceProfile split rather
// than read the ServiceProfile itself.
func TestLinkerdJudgeWithoutProfiles(t *testing.T) {
	j := &linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny"}
	sc := scenario(t, "split-flagger-canary")
	objs, err := sc.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Load(objs); err != nil {
		t.Fatal(err)
	}
	if got, err := j.Split(sc.Split[0]); err == nil || !strings.Contains(err.Error(), "Judge.Profiles") {
		t.Fatalf("split without a destination service: %v, %v; want an error naming Judge.Profiles", got, err)
	}
}

// cannedProfiles answers every GetProfile with the same dstOverrides.
type cannedProfiles struct{ overrides []harness.LinkerdDstOverride }

func (c cannedProfiles) Apply([]*unstructured.Unstructured) (int64, error) { return 1, nil }

func (c cannedProfiles) GetProfile(_ int64, path, _ string) (*harness.LinkerdProfile, error) {
	return &harness.LinkerdProfile{DstOverrides: c.overrides, Raw: json.RawMessage(`{"canned":true}`)}, nil
}

// TestLinkerdJudgeReadsWhatTheProxyReceives: the judge takes the
// destination service's decimilli weights as they are, drops weight 0, and
// refuses an answer a proxy would misuse: an authority on another port than
// the one asked for, or nothing but weight 0.
func TestLinkerdJudgeReadsWhatTheProxyReceives(t *testing.T) {
	sc := scenario(t, "split-flagger-canary")
	objs, err := sc.Decode()
	if err != nil {
		t.Fatal(err)
	}
	const fqdn = ".default.svc.cluster.local"
	for _, c := range []struct {
		name      string
		overrides []harness.LinkerdDstOverride
		want      map[string]int64
		err       string
	}{
		{"weights", []harness.LinkerdDstOverride{{Authority: "web-v1" + fqdn + ":80", Weight: 950000}, {Authority: "web-v2" + fqdn + ":80", Weight: 50000}, {Authority: "web-v3" + fqdn + ":80"}},
			map[string]int64{"web-v1": 950000, "web-v2": 50000}, ""},
		{"another port", []harness.LinkerdDstOverride{{Authority: "web-v1" + fqdn + ":8080", Weight: 10000}}, nil, `"web-v1.default.svc.cluster.local:8080" sends port 80's traffic to port 8080`},
		{"all zero", []harness.LinkerdDstOverride{{Authority: "web-v1" + fqdn + ":80"}}, nil, "every dstOverride has weight 0"},
		{"another namespace", []harness.LinkerdDstOverride{{Authority: "web-v1.other.svc.cluster.local:80", Weight: 10000}}, nil, "not a Service of namespace default"},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := &linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Profiles: cannedProfiles{c.overrides}}
			err := j.Load(objs) // asks every port of the root
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("load: %v, want an error with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := j.Split(sc.Split[0])
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("split: %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func scenario(t *testing.T, name string) conformance.Scenario {
	t.Helper()
	for _, sc := range mustLoad(t) {
		if sc.Name == name {
			return sc
		}
	}
	t.Fatalf("scenario %s not found", name)
	return conformance.Scenario{}
}

// TestSummaryJudge writes reports/README.md: every scenario, one column per
// implementation, so a reader sees at a glance what each mesh does with SMI.
func TestSummaryJudge(t *testing.T) {
	judges := []struct {
		column string
		judge  conformance.Judge
	}{
		{"model (reference)", &conformance.ModelJudge{}},
		{"istio (default-access=deny)", &istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}}},
		{"linkerd (ServiceProfile splits)", &linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Profiles: linkerdDestination(t)}},
		{"linkerd (splits=httproute)", &linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Profiles: linkerdDestination(t), Options: linkerd.Options{Splits: linkerd.SplitsHTTPRoute}}},
	}
	cols := make([][]conformance.Result, len(judges))
	for i, j := range judges {
		t.Run(j.judge.Name(), func(t *testing.T) { cols[i] = conformance.Run(t, j.judge, "scenarios", "") })
	}
	var b strings.Builder
	b.WriteString("# SMI conformance, per implementation\n\nGenerated by `go test ./integration/conformance -update`. ")
	b.WriteString("Each mesh is judged on what smi-adapter writes for it: by the mesh's own code where it runs here, otherwise by an evaluator of its documented semantics; ")
	b.WriteString("details, fail-closed and inexpressible decisions are in the per-implementation reports beside this file.\n\n")
	for _, j := range judges {
		if d, ok := j.judge.(conformance.Describer); ok {
			b.WriteString("- " + j.column + ": " + d.Description() + "\n")
		}
	}
	// Istio through istiod and Consul on a real agent are judged in other
	// packages (integration/istiovalidate, integration/consul): their columns
	// are read from the reports those tests write.
	external := []struct{ column, report string }{
		{"istio (istiod xDS, default-access=deny)", "reports/istio-xds.md"},
		{"consul (agent's Envoy config, default-access=deny)", "reports/consul.md"},
	}
	extCols := make([]map[string]string, len(external))
	for i, e := range external {
		extCols[i] = reportOutcomes(t, e.report)
		if d := reportDescription(t, e.report); d != "" {
			b.WriteString("- " + e.column + ": " + d + "\n")
		}
	}
	b.WriteString("\n| scenario |")
	for _, j := range judges {
		b.WriteString(" " + j.column + " |")
	}
	for _, e := range external {
		b.WriteString(" " + e.column + " |")
	}
	b.WriteString("\n|---|")
	for range len(judges) + len(external) {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i, r := range cols[0] {
		b.WriteString("| " + r.Scenario + " |")
		for c := range judges {
			b.WriteString(" " + cols[c][i].Outcome + " |")
		}
		for c := range external {
			b.WriteString(" " + extCols[c][r.Scenario] + " |")
		}
		b.WriteString("\n")
	}
	testutil.Golden(t, "reports/README.md", []byte(b.String()))
	// docs/conformance.md: the same table for users, with links to the details.
	doc := strings.Replace(b.String(), "# SMI conformance, per implementation\n",
		"# SMI conformance\n\nWhat each mesh does with every SMI scenario in `integration/conformance/scenarios` (data: SMI objects and the "+
			"requests that must be allowed, denied or split). Per-implementation reports with every decision: "+
			"[model](../integration/conformance/reports/model.md), [istio](../integration/conformance/reports/istio.md), "+
			"[istio (istiod xDS)](../integration/conformance/reports/istio-xds.md), "+
			"[linkerd](../integration/conformance/reports/linkerd.md), [linkerd httproute](../integration/conformance/reports/linkerd-httproute.md), "+
			"[consul](../integration/conformance/reports/consul.md). `fail-closed`: smi-adapter wrote less than SMI allows because the mesh "+
			"cannot say it exactly (reported on the object); `inexpressible`: the mesh cannot enforce the decision at all (documented).\n", 1)
	doc = strings.Replace(doc, "in the per-implementation reports beside this file", "in the reports linked above", 1)
	mutants, err := os.ReadFile("reports/mutants.md")
	if err != nil {
		t.Fatalf("reports/mutants.md: %v (make mutate writes it)", err)
	}
	doc += whoDecides + generatedWorldsDoc + "\n## Measured by mutants\n\n" + string(mutants) + mutantSurvivors
	testutil.Golden(t, "../../docs/conformance.md", []byte(doc))
}

// whoDecides is docs/conformance.md's table of who decides each question
// for each mesh: the mesh's own code where it runs here, a model we wrote
// where it cannot (Linkerd's policy controller and proxy are Rust).
const whoDecides = `
## Who decides, per mesh

| question | Istio | Linkerd | Consul |
|---|---|---|---|
| is this request allowed? | **istiod's own config generation** (pilot/test/xds) produces the Envoy RBAC and routes; envoyjudge evaluates them. istiojudge (our model of AuthorizationPolicy) is a second opinion that must agree | linkerdjudge, a model of linkerd2-proxy's inbound policy (Server, MeshTLSAuthentication, NetworkAuthentication, HTTPRoute, AuthorizationPolicy) that refuses every field it does not evaluate | **the Consul agent's own xDS** (intentions become Envoy RBAC); envoyjudge evaluates them |
| where does this request go (split)? | **istiod's** Envoy routes (weighted clusters) | ServiceProfile splits: **Linkerd's destination service** (linkerd2 v0.0.0-20230502184307-e1ba0e039074, GetProfile as a proxy asks); HTTPRoute splits: linkerdjudge | **the agent's** discovery chain in Envoy clusters and routes |
| does this regex match this path? | **RE2** (Debian's libre2-dev) with Envoy's program-size limit | **Rust's regex crate** (Debian's librust-regex-dev) | **RE2**, as for Istio |
| is the distribution the closest the mesh can represent? | exact relative integers (istiod's weights) | destination service's weights; HTTPRoute backend weights | the closest point on the agent's 10,000-part grid with the hundredths it truncates removed (ClosestOnSparseGrid) |
| is every object accepted? | Istio's validation (pkg/config/validation) and the CRD schemas on kube-apiserver | Linkerd's CRD schemas on kube-apiserver (dry-run); Rust compiles every regex | the agent accepts every write (real agent, config entry validation) |

A deny where SMI allows passes only as fail-closed with a diagnostic on the SMI object that states that rule (a TrafficTarget granting that source, a route group it names, the TrafficSplit or its match groups).
`

// mutantSurvivors says why each surviving mutant survived.
const mutantSurvivors = `
No survivors. normalize-weights-not-reduced-relative (a backend listed twice in one TrafficSplit keeps only its last weight) survived until the generator learned to list a backend twice; generated worlds now kill it.
`

// generatedWorldsDoc describes the generated worlds and their budgets.
const generatedWorldsDoc = `
## Generated worlds

integration/conformance/worlds generates whole SMI worlds from a seed (namespaces with repeated account names; Services with several ports, appProtocols and opaque ports; pods with shared labels and consul-k8s annotations; overlapping TrafficTargets; route groups with regexes from a grammar with anchors after ` + "`.*`" + `, Unicode, counted repetition and flags; splits with zero weights, matches, backends listed twice and backends lacking root ports; every lossless API version), then 4 edits or deletions, each state judged against a reference that reads the SMI objects themselves, not core's model.

| run | worlds (each 5 states) | judged by |
|---|---|---|
| TestGeneratedWorlds (make test) | corpus + 40 | core's model, istiojudge, linkerdjudge in both split modes (ServiceProfiles by Linkerd's destination service) |
| TestIstiodGeneratedWorlds (make test) | corpus + 40 | istiod's xDS + envoyjudge, istiojudge second |
| TestConsulGeneratedWorlds (make test) | corpus + 15, written as edits through the Consul backend | the agent's xDS + envoyjudge |
| FuzzWorlds (make fuzz-ci: 200 executions; make fuzz: FUZZTIME) | any seed | core's model, istiojudge |

SMI_ADAPTER_WORLDS=N runs N worlds through istiod and the agent. The corpus (integration/conformance/testdata/fuzz/FuzzWorlds) keeps the seeds that found, before their fixes: raw TCP through an HTTP-only Envoy chain, an Istio split with HTTP matches on a TCP port, Consul split names under a connect-service annotation, a Consul entry handover between keys and the agent's float32 weight truncation.
`

// reportDescription is the line under a report's "Generated by" line: who
// judged it.
func reportDescription(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Generated by") && i+2 < len(lines) && lines[i+1] == "" && !strings.HasPrefix(lines[i+2], "|") {
			return lines[i+2]
		}
	}
	return ""
}

// reportOutcomes reads scenario -> result from a per-implementation report.
func reportOutcomes(t *testing.T, path string) map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (integration/consul writes it)", path, err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) == 6 && strings.TrimSpace(cells[1]) != "scenario" && !strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			out[strings.TrimSpace(cells[1])] = strings.TrimSpace(cells[4])
		}
	}
	return out
}

func mustLoad(t *testing.T) []conformance.Scenario {
	s, err := conformance.Load("scenarios")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScenarioCount(t *testing.T) {
	s, err := conformance.Load("scenarios")
	if err != nil {
		t.Fatal(err)
	}
	var access, split int
	for _, sc := range s {
		access += len(sc.Access)
		split += len(sc.Split)
	}
	if len(s) < 25 {
		t.Fatalf("only %d scenarios", len(s))
	}
	t.Logf("%d scenarios, %d access decisions, %d split decisions", len(s), access, split)
}
