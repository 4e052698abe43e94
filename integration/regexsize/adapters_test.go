package regexsize_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/regexsize"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// sizedRegex is a generated regex, or (half the time) n copies of an atom
// with n drawn so that programs land on both sides of every mesh's limit.
func (g *gen) sizedRegex() string {
	if g.r.Intn(2) == 0 {
		return g.regex()
	}
	x := []string{"a", "[a-z]", "[^/]", "(?s:.)", "[0-9a-f]", `[\x{100}-\x{2FF}]`, "(?:ab|cd)", `\x{1F600}`}[g.r.Intn(8)]
	n := int(100 * math.Pow(2, g.r.Float64()*12)) // 100 to 409,600 copies
	var b strings.Builder
	for ; n >= 1000; n -= 1000 {
		b.WriteString(x + "{1000}")
	}
	if n > 0 {
		fmt.Fprintf(&b, "%s{%d}", x, n)
	}
	return "/" + b.String()
}

// world is one split and one grant, both on HTTP matches with path regex
// p and header regex h.
func world(t *testing.T, p, h string) *normalize.Memory {
	t.Helper()
	om := func(name string, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "default", Name: name, Labels: labels}
	}
	svc := func(name string, sel map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: om(name, nil), Spec: corev1.ServiceSpec{Selector: sel,
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}}}
	}
	objs := []runtime.Object{
		&specsv1alpha4.HTTPRouteGroup{ObjectMeta: om("routes", nil), Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{
			{Name: "path", PathRegex: p},
			{Name: "header", PathRegex: "/api/", Headers: map[string]string{"x-token": h}},
		}}},
		&splitv1alpha4.TrafficSplit{ObjectMeta: om("ab", nil), Spec: splitv1alpha4.TrafficSplitSpec{
			Service:  "web",
			Matches:  []splitv1alpha4.TrafficSplitMatch{{Kind: "HTTPRouteGroup", Name: "routes"}},
			Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v1", Weight: 1}, {Service: "web-v2", Weight: 1}},
		}},
		&accessv1alpha3.TrafficTarget{ObjectMeta: om("api-client", nil), Spec: accessv1alpha3.TrafficTargetSpec{
			Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
			Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "client"}},
			Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes"}},
		}},
		&corev1.Pod{ObjectMeta: om("api-0", map[string]string{"app": "api"}), Spec: corev1.PodSpec{ServiceAccountName: "api",
			Containers: []corev1.Container{{Name: "c", Image: "x", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}},
		svc("api", map[string]string{"app": "api"}), svc("web", nil), svc("web-v1", nil), svc("web-v2", nil),
	}
	m, err := normalize.NewMemory("default", objs...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writtenRegexes lists every regex in the JSON of objs: Istio's
// StringMatch regex, Consul's PathRegex and header Regex, Linkerd's
// pathRegex (ServiceProfile) and RegularExpression path and header values.
func writtenRegexes(t *testing.T, objs []any) []string {
	t.Helper()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "regex" || k == "PathRegex" || k == "Regex" || k == "pathRegex") {
					out = append(out, s)
				}
				walk(e)
			}
			if x["type"] == "RegularExpression" {
				out = append(out, x["value"].(string))
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		walk(v)
	}
	return out
}

// tooLarge: the diagnostics that refuse a regex for its size.
func tooLarge(p model.Problems) int {
	n := 0
	for ref := range p {
		for _, d := range p.Diagnostics(ref) {
			if d.Reason == "UnsupportedMatch" && strings.Contains(d.Message, "is too large for") {
				n++
			}
		}
	}
	return n
}

// TestAdaptersWriteWhatTheEngineCompiles: over generated regexes on both
// sides of every limit, in a split and a grant, each adapter writes only
// regexes its mesh's engine compiles — RE2 within the program size of the
// mesh's Envoy bootstrap for Istio and Consul (the RE2 oracle), Rust's
// regex crate within its size limit for Linkerd (the rustregex oracle) —
// and refuses one (UnsupportedMatch naming the size) only when the engine
// would: RE2 past the limit, or for Rust past what the bound of
// TestRustBoundAtTheLimit allows.
func TestAdaptersWriteWhatTheEngineCompiles(t *testing.T) {
	rust, err := harness.StartRustRegex()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rust.Stop() }()
	type engine struct {
		name      string
		access    bool // writes the grants' regexes (Istio's authorization has none)
		translate func(*model.Slice) ([]any, model.Problems)
		fits      func(re string) (fits, over bool) // fits: written as is; over: must be refused
	}
	re2Fits := func(limit int) func(string) (bool, bool) {
		return func(re string) (bool, bool) {
			ok, refusal, size, _, err := re2.Ask(re)
			if err != nil {
				t.Fatal(err)
			}
			if !ok && refusal != "pattern too large - compile failed" {
				t.Fatalf("%.80q: RE2 refuses it: %s", re, refusal)
			}
			// RE2ProgramSize is within 1.0002 of RE2's (integration/regexsize).
			return ok && size <= limit, !ok || size*10002 > limit*10000
		}
	}
	engines := []engine{
		{"istio", false, func(s *model.Slice) ([]any, model.Problems) {
			r := istio.Translate(s, istio.Options{})
			var out []any
			for _, o := range r.Objects {
				out = append(out, o.Obj)
			}
			return out, r.Problems
		}, re2Fits(regexsize.IstioProgramLimit)},
		{"consul", true, func(s *model.Slice) ([]any, model.Problems) {
			r := consul.Translate(s, consul.Options{})
			var out []any
			for _, d := range r.Entries {
				out = append(out, d.Entry)
			}
			return out, r.Problems
		}, re2Fits(regexsize.ConsulProgramLimit)},
		{"linkerd", true, func(s *model.Slice) ([]any, model.Problems) {
			r := linkerd.Translate(s, linkerd.Options{Splits: linkerd.SplitsHTTPRoute})
			var out []any
			for _, o := range r.Objects {
				out = append(out, o.Obj)
			}
			return out, r.Problems
		}, func(re string) (bool, bool) {
			ok, refusal, _, err := rust.Match(re)
			if err != nil {
				t.Fatal(err)
			}
			if !ok && !strings.Contains(refusal, "size limit") {
				t.Fatalf("%.80q: Rust refuses it: %s", re, refusal)
			}
			// The Rust bound is up to 2x Rust's own measure: a refusal
			// is wrong only where the bound passes.
			return ok, !ok || regexsize.CheckRust(re) != nil
		}},
	}
	g := &gen{r: rand.New(rand.NewSource(23))}
	refused := map[string]int{}
	worlds := rounds(t, 150)
	for i := 0; i < worlds; i++ {
		p, h := g.sizedRegex(), g.sizedRegex()
		m := world(t, p, h)
		var worldSlices []*model.Slice
		var splitRegexes, accessRegexes []string
		for _, k := range m.Keys() {
			if k.Kind == model.KeyRoute {
				continue
			}
			s, _ := normalize.Build(k, m)
			worldSlices = append(worldSlices, s)
			if s.Split != nil {
				for _, mt := range s.Split.Matches {
					splitRegexes = append(splitRegexes, mt.Regexes()...)
				}
			}
			if s.Access != nil {
				for _, gr := range s.Access.Grants {
					for _, r := range gr.Rules {
						if r.HTTP != nil {
							accessRegexes = append(accessRegexes, r.HTTP.Regexes()...)
						}
					}
				}
			}
		}
		if len(splitRegexes)+len(accessRegexes) == 0 {
			i-- // neither regex has a neutral form: normalize refuses both
			continue
		}
		for _, e := range engines {
			var objs []any
			problems := model.Problems{}
			for _, s := range worldSlices {
				o, p := e.translate(s)
				objs = append(objs, o...)
				problems.Merge(p)
			}
			for _, re := range writtenRegexes(t, objs) {
				if ok, _ := e.fits(re); !ok {
					t.Errorf("%s writes %.120q, which its engine refuses (path %.60q, header %.60q)", e.name, re, p, h)
				}
			}
			modelRegexes := splitRegexes
			if e.access {
				modelRegexes = append(slices.Clone(modelRegexes), accessRegexes...)
			}
			mustRefuse, mayRefuse := false, false
			for _, re := range modelRegexes {
				fits, over := e.fits(re)
				mustRefuse = mustRefuse || !fits
				mayRefuse = mayRefuse || over
			}
			// Headers are wrapped ("^(?:h)$") by Linkerd, a few
			// instructions more: allow a refusal at the edge.
			n := tooLarge(problems)
			refused[e.name] += min(n, 1)
			switch {
			case mustRefuse && n == 0:
				t.Errorf("%s: a regex its engine refuses, and no diagnostic says it is too large (path %.60q, header %.60q)", e.name, p, h)
			case n > 0 && !mayRefuse && !edge(e.fits, modelRegexes):
				t.Errorf("%s refuses a regex its engine compiles (a wrong deny; path %.60q, header %.60q): %v", e.name, p, h, problems)
			}
		}
	}
	t.Logf("%d worlds; refused for size: %v", worlds, refused)
	for _, e := range engines {
		if refused[e.name] == 0 {
			t.Errorf("%s: no world was over its limit: the generator misses the class", e.name)
		}
	}
}

// edge: a regex of the model is close enough to its engine's limit that
// the adapter's written form (headers wrapped) may be over it.
func edge(fits func(string) (bool, bool), res []string) bool {
	for _, re := range res {
		if _, over := fits("^(?:" + re + ")$"); over {
			return true
		}
	}
	return false
}
