package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
)

// AccessInput is one input of the access fuzzer (FuzzAccessNeverWider and
// its replays through istiod and the Consul agent): a route group with one
// match (path regex, method, header regex) granted to app/web on app/api,
// and a request (path, method, header value).
type AccessInput struct {
	PathRegex, Method, Header, HeaderRegex, Path, ReqMethod, HeaderValue string
}

// AccessSeeds are the fuzzer's seed inputs.
var AccessSeeds = []AccessInput{
	{"/api/v[0-9]+", "GET", "x-env", "prod.*", "/api/v2/items", "GET", "prod-eu"},
	{"/users/[^/]+/profile", "*", "", "", "/users/bob/profile/edit", "POST", ""},
	{"(/a|/b)c", "POST", "x-tenant", "acme|globex", "/bc", "POST", "globex"},
	{"/static/.*\\.css$", "GET", "", "", "/static/x.css", "GET", ""},
	{"/metrics", "GET", "user-agent", ".*Firefox.*", "/metricsX", "GET", "Mozilla Firefox"},
	{"[", "GET", "x", "(", "/", "GET", "x"},
	// Regexes Rust's regex crate (Linkerd's engine) reads otherwise than RE2.
	{"/admin[x[^y]]", "GET", "", "", "/admin/secret", "GET", ""},
	{"/api\\>", "GET", "x-v", "[a-z&&b]", "/api/secret", "GET", "a"},
	{"/n", "GET", "x-n", "\\d+", "/n", "GET", "٣"},
}

// AccessCorpus reads the fuzzer's corpus files (go test fuzz v1, seven
// strings each) from dir; a missing dir is no input.
func AccessCorpus(dir string) ([]AccessInput, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	sort.Strings(files)
	var out []AccessInput
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 8 || lines[0] != "go test fuzz v1" {
			return nil, fmt.Errorf("%s: not a corpus file of seven strings", file)
		}
		var args []string
		for _, l := range lines[1:] {
			e, err := parser.ParseExpr(l)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			call, ok := e.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 || fmt.Sprint(call.Fun) != "string" {
				return nil, fmt.Errorf("%s: %q is not a string value", file, l)
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				return nil, fmt.Errorf("%s: %q is not a string literal", file, l)
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			args = append(args, s)
		}
		out = append(out, AccessInput{args[0], args[1], args[2], args[3], args[4], args[5], args[6]})
	}
	return out, nil
}

// RandomAccessInputs are n inputs from a fixed seed. The route's path regex
// is built from literal segments and regex pieces, and the request is, more
// often than not, built from the same segments, method and header value, so
// that requests fall on both sides of the route.
func RandomAccessInputs(n int, seed uint64) []AccessInput {
	r := rand.New(rand.NewPCG(seed, 2))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	likely := func() bool { return r.IntN(3) > 0 }
	segments := []string{"/api", "/v1", "/v2", "/admin", "/x", "/users", "/static", "/a", "/b", "/metrics"}
	pieces := []string{"[0-9]", "[a-z]+", ".*", "(/a|/b)", "\\.css", "$", "?", "/[^/]+", "(?:)", "(/v1)?", "x*", "/"}
	headerValues := map[string][]string{
		"prod": {"prod", "prod-eu", "PROD"}, "prod.*": {"prod", "prod-eu", "pro"}, "acme|globex": {"acme", "globex", "acme|globex"},
		"": {"", "x"}, ".*": {"", "anything"}, "[a-z]+": {"abc", "ABC", ""}, "x?": {"", "x", "xx"},
		"prod-(eu|us)": {"prod-eu", "prod-us", "prod-"}, "(?i)prod": {"PROD", "prod", "pr0d"},
	}
	keys := make([]string, 0, len(headerValues))
	for k := range headerValues {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []AccessInput
	for range n {
		var re, path strings.Builder
		for range 1 + r.IntN(2) {
			seg := pick(segments...)
			re.WriteString(seg)
			path.WriteString(seg)
		}
		for range r.IntN(3) {
			re.WriteString(pick(pieces...))
		}
		if !likely() {
			path.Reset()
			path.WriteString(pick(segments...))
		}
		for range r.IntN(3) {
			path.WriteString(pick(segments...) + pick("", "1", "a", ".css"))
		}
		in := AccessInput{PathRegex: re.String(), Method: pick("GET", "POST", "*", "PUT", "get"), Path: path.String()}
		in.ReqMethod = strings.ToUpper(in.Method)
		if in.ReqMethod == "*" || !likely() {
			in.ReqMethod = pick("GET", "POST", "PUT", "DELETE")
		}
		if likely() {
			in.Header = pick("x-env", "x-tenant", "user-agent", "X-Mixed")
			in.HeaderRegex = pick(keys...)
			in.HeaderValue = pick(headerValues[in.HeaderRegex]...)
			if !likely() {
				in.HeaderValue = pick("prod", "acme", "", "zzz")
			}
		}
		out = append(out, in)
	}
	return out
}

// Carried says whether HTTP can carry the input's request: a request-target
// has no control characters or spaces (RFC 9112 §3.2) and a header value no
// CR, LF or NUL (RFC 9110 §5.5). Proxies refuse other requests before any
// policy applies, so they are not requests a mesh could wrongly allow.
func (in AccessInput) Carried() bool {
	for i := 0; i < len(in.Path); i++ {
		if c := in.Path[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return !strings.ContainsAny(in.HeaderValue, "\r\n\x00")
}

// Scenario is the input's world: the route group, a TrafficTarget granting
// it to app/web on app/api, pods for api, web and other; and its requests,
// from web (granted) and from other (never granted).
func (in AccessInput) Scenario() (Scenario, []AccessRequest, error) {
	match := specsv1alpha4.HTTPMatch{Name: "m", PathRegex: in.PathRegex, Methods: []string{in.Method}}
	if in.Header != "" {
		match.Headers = map[string]string{strings.ToLower(in.Header): in.HeaderRegex}
	}
	objs := []any{
		&specsv1alpha4.HTTPRouteGroup{TypeMeta: metav1.TypeMeta{APIVersion: "specs.smi-spec.io/v1alpha4", Kind: "HTTPRouteGroup"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "routes"}, Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{match}}},
		&accessv1alpha3.TrafficTarget{TypeMeta: metav1.TypeMeta{APIVersion: "access.smi-spec.io/v1alpha3", Kind: "TrafficTarget"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "api"}, Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "routes", Matches: []string{"m"}}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "web"}}}},
	}
	for _, sa := range []string{"api", "web", "other"} {
		objs = append(objs, &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: sa, Labels: map[string]string{"app": sa}},
			Spec:       corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}})
	}
	var docs []string
	for _, o := range objs {
		j, err := json.Marshal(o) // JSON is YAML, with every character escaped
		if err != nil {
			return Scenario{}, nil, err
		}
		docs = append(docs, string(j)+"\n")
	}
	h := map[string]string{strings.ToLower(in.Header): in.HeaderValue}
	reqs := []AccessRequest{
		{From: "app/web", To: "app/api", Port: 8080, Method: in.ReqMethod, Path: in.Path, Headers: h},
		{From: "app/other", To: "app/api", Port: 8080, Method: in.ReqMethod, Path: in.Path, Headers: h},
	}
	return Scenario{Name: "fuzz", Objects: strings.Join(docs, "---\n")}, reqs, nil
}

// Verdict names a judge's answer: allow, deny, inexpressible or the error.
func Verdict(ok bool, err error) string {
	var inex *Inexpressible
	switch {
	case errors.As(err, &inex):
		return "inexpressible"
	case err != nil:
		return "error: " + err.Error()
	case ok:
		return "allow"
	}
	return "deny"
}

// ReplayInputs are the inputs a replay judges: the fuzzer's seeds, its
// corpus in corpusDir, and n random inputs from seed; fixed is how many
// came from the seeds and the corpus.
func ReplayInputs(corpusDir string, n int, seed uint64) (inputs []AccessInput, fixed int, err error) {
	corpus, err := AccessCorpus(corpusDir)
	if err != nil {
		return nil, 0, err
	}
	inputs = append(append(slices.Clone(AccessSeeds), corpus...), RandomAccessInputs(n, seed)...)
	return inputs, len(AccessSeeds) + len(corpus), nil
}

// Replay is what ReplayAccess found.
type Replay struct {
	Inputs int // inputs replayed
	// Skipped inputs: not carried by HTTP, or not decodable (refused before
	// anything is written), as the fuzzer skips them.
	Skipped int
	// Decided requests by the judge; Allowed of them allowed.
	Decided, Allowed int
	// Undecided requests the judge could not decide (undecidable errors),
	// and Inexpressible ones.
	Undecided, Inexpressible int
	// Widened: requests the judge allows and SMI denies. Disagreements:
	// requests on which the second opinion says otherwise.
	Widened, Disagreements []string
}

// Failures are what makes a replay fail: a widening, fewer than minDecided
// requests decided, none allowed (the batch would test nothing but deny by
// default), a disagreement with the second opinion.
func (r Replay) Failures(minDecided int) []string {
	out := append([]string(nil), r.Widened...)
	if r.Decided < minDecided {
		out = append(out, fmt.Sprintf("only %d requests decided", r.Decided))
	}
	if r.Allowed == 0 {
		out = append(out, "no request allowed: the batch tests nothing but deny-by-default")
	}
	if len(r.Disagreements) > 0 {
		out = append(out, fmt.Sprintf("the second opinion disagrees on %d requests:\n  %s", len(r.Disagreements), strings.Join(r.Disagreements, "\n  ")))
	}
	return out
}

// ScenarioLoader is a judge that needs the scenario and its requests, not
// only its objects (the Consul judge registers the services they use).
type ScenarioLoader interface {
	LoadScenario(sc Scenario, reqs []AccessRequest) error
}

// ReplayAccess replays the access fuzzer's inputs through a judge that
// reads a mesh's own output (istiod's or the Consul agent's Envoy config):
// no request SMI denies (the model judge) may be allowed. A second opinion
// (nil for none) must agree on every decided request. undecidable says which
// judge errors are counted, not failed (a request the judge cannot model).
func ReplayAccess(inputs []AccessInput, j, second Judge, undecidable func(error) bool) (Replay, error) {
	var out Replay
	for i, in := range inputs {
		out.Inputs++
		what := fmt.Sprintf("input %d (route pathRegex=%q methods=[%q] headers %q=%q)", i, in.PathRegex, in.Method, in.Header, in.HeaderRegex)
		if !in.Carried() {
			out.Skipped++
			continue
		}
		sc, reqs, err := in.Scenario()
		if err != nil {
			return out, err
		}
		objs, err := sc.Decode()
		if err != nil {
			out.Skipped++
			continue
		}
		model := &ModelJudge{}
		if err := model.Load(objs); err != nil {
			return out, fmt.Errorf("%s: model: %w", what, err)
		}
		load := func() error { return j.Load(objs) }
		if sl, ok := j.(ScenarioLoader); ok {
			load = func() error { return sl.LoadScenario(sc, reqs) }
		}
		if err := load(); err != nil {
			return out, fmt.Errorf("%s: %s: %w", what, j.Name(), err)
		}
		if second != nil {
			if err := second.Load(objs); err != nil {
				return out, fmt.Errorf("%s: %s: %w", what, second.Name(), err)
			}
		}
		for _, r := range reqs {
			want, err := model.Allowed(r)
			if err != nil {
				return out, fmt.Errorf("%s: model: %s: %w", what, r, err)
			}
			got, err := j.Allowed(r)
			var inex *Inexpressible
			switch {
			case errors.As(err, &inex):
				out.Inexpressible++
				continue
			case err != nil && undecidable != nil && undecidable(err):
				out.Undecided++
				continue
			case err != nil:
				return out, fmt.Errorf("%s: %s: %s: %w", what, j.Name(), r, err)
			}
			out.Decided++
			if got {
				out.Allowed++
			}
			if got && !want {
				out.Widened = append(out.Widened, fmt.Sprintf("%s allows %s, which SMI denies; %s", j.Name(), r, what))
			}
			if second != nil {
				if sg, serr := second.Allowed(r); Verdict(got, nil) != Verdict(sg, serr) {
					out.Disagreements = append(out.Disagreements, fmt.Sprintf("%s: %s: %s says %s, %s says %s", what, r, j.Name(), Verdict(got, nil), second.Name(), Verdict(sg, serr)))
				}
			}
		}
	}
	return out, nil
}
