package istiovalidate

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/envoyjudge"
	"github.com/smi-adapter/smi-adapter/integration/conformance/istiojudge"
)

// accessInput is one input of conformance's FuzzAccessNeverWider: a route
// (path regex, method, header regex) and a request.
type accessInput struct {
	PathRegex, Method, Header, HeaderRegex, Path, ReqMethod, HeaderValue string
}

func inputFrom(args []string) (accessInput, error) {
	if len(args) != 7 {
		return accessInput{}, fmt.Errorf("%d arguments, want 7", len(args))
	}
	return accessInput{args[0], args[1], args[2], args[3], args[4], args[5], args[6]}, nil
}

// fuzzSeeds are FuzzAccessNeverWider's f.Add seeds, read from its source so
// that they never drift, and its corpus files.
func fuzzSeeds(t *testing.T) []accessInput {
	t.Helper()
	const src = "../conformance/fuzz_test.go"
	f, err := parser.ParseFile(token.NewFileSet(), src, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []accessInput
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if ok && fn.Name.Name != "FuzzAccessNeverWider" {
			return false
		}
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Add" {
			return true
		}
		var args []string
		for _, a := range call.Args {
			lit, ok := a.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Fatalf("%s: f.Add with a non-literal argument", src)
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			args = append(args, s)
		}
		in, err := inputFrom(args)
		if err != nil {
			t.Fatalf("%s: f.Add: %v", src, err)
		}
		out = append(out, in)
		return true
	})
	if len(out) == 0 {
		t.Fatalf("no f.Add seeds found in %s", src)
	}
	files, _ := filepath.Glob("../conformance/testdata/fuzz/FuzzAccessNeverWider/*")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) == 0 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a fuzz corpus file", file)
		}
		var args []string
		for _, l := range lines[1:] {
			e, err := parser.ParseExpr(l)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			call, ok := e.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 || fmt.Sprint(call.Fun) != "string" {
				t.Fatalf("%s: %q is not a string value", file, l)
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				t.Fatalf("%s: %q is not a string literal", file, l)
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			args = append(args, s)
		}
		in, err := inputFrom(args)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, in)
	}
	return out
}

// randomInputs are n inputs from a fixed seed. The route's path regex is
// built from literal segments and regex pieces, and the request is, more
// often than not, built from the same segments, method and header value, so
// that requests fall on both sides of the route.
func randomInputs(n int) []accessInput {
	r := rand.New(rand.NewPCG(16, 2))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	likely := func() bool { return r.IntN(3) > 0 }
	segments := []string{"/api", "/v1", "/v2", "/admin", "/x", "/users", "/static", "/a", "/b", "/metrics"}
	pieces := []string{"[0-9]", "[a-z]+", ".*", "(/a|/b)", "\\.css", "$", "?", "/[^/]+", "(?:)", "(/v1)?", "x*", "/"}
	headerValues := map[string][]string{
		"prod": {"prod", "prod-eu", "PROD"}, "prod.*": {"prod", "prod-eu", "pro"}, "acme|globex": {"acme", "globex", "acme|globex"},
		"": {"", "x"}, ".*": {"", "anything"}, "[a-z]+": {"abc", "ABC", ""}, "x?": {"", "x", "xx"},
		"prod-(eu|us)": {"prod-eu", "prod-us", "prod-"}, "(?i)prod": {"PROD", "prod", "pr0d"},
	}
	var out []accessInput
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
		in := accessInput{
			PathRegex: re.String(),
			Method:    pick("GET", "POST", "*", "PUT", "get"),
			Path:      path.String(),
		}
		in.ReqMethod = strings.ToUpper(in.Method)
		if in.ReqMethod == "*" || !likely() {
			in.ReqMethod = pick("GET", "POST", "PUT", "DELETE")
		}
		if likely() {
			in.Header = pick("x-env", "x-tenant", "user-agent", "X-Mixed")
			keys := sortedKeys(headerValues)
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

// fuzzScenario is FuzzAccessNeverWider's world for one input: a route group,
// a TrafficTarget granting it to app/web on app/api, and pods for api, web
// and other.
func fuzzScenario(in accessInput) (conformance.Scenario, []conformance.AccessRequest, error) {
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
		j, err := json.Marshal(o)
		if err != nil {
			return conformance.Scenario{}, nil, err
		}
		docs = append(docs, string(j)+"\n")
	}
	h := map[string]string{strings.ToLower(in.Header): in.HeaderValue}
	reqs := []conformance.AccessRequest{
		{From: "app/web", To: "app/api", Port: 8080, Method: in.ReqMethod, Path: in.Path, Headers: h},
		{From: "app/other", To: "app/api", Port: 8080, Method: in.ReqMethod, Path: in.Path, Headers: h},
	}
	return conformance.Scenario{Name: "fuzz", Objects: strings.Join(docs, "---\n")}, reqs, nil
}

// httpCarries is FuzzAccessNeverWider's filter: a request with this path
// and header value can exist (Envoy refuses other requests before any policy).
func httpCarries(path, headerValue string) bool {
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return !strings.ContainsAny(headerValue, "\r\n\x00")
}

// TestIstiodAccessNeverWider replays FuzzAccessNeverWider's seeds and
// corpus, and a fixed-seed batch of random inputs, through istiod: a request
// SMI denies (the model judge) must be denied by the RBAC istiod generates.
// Where envoyjudge cannot decide a request (a path Envoy's normalization
// could change, ...) the input is counted and skipped, never guessed;
// istiojudge's verdict is compared too, as in TestIstiodXDSConformance.
func TestIstiodAccessNeverWider(t *testing.T) {
	start := time.Now()
	seeds := fuzzSeeds(t)
	inputs := append(seeds, randomInputs(200)...)
	j := &istiodJudge{t: t, Options: istio.Options{DefaultAccess: "deny"}}
	defer j.Close()
	second := &istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}}
	var decided, allowed, skippedInput, undecided int
	var disagree []string
	for i, in := range inputs {
		what := fmt.Sprintf("input %d (route pathRegex=%q methods=[%q] headers %q=%q)", i, in.PathRegex, in.Method, in.Header, in.HeaderRegex)
		if !httpCarries(in.Path, in.HeaderValue) {
			skippedInput++
			continue
		}
		sc, reqs, err := fuzzScenario(in)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := sc.Decode()
		if err != nil {
			skippedInput++ // not decodable: rejected before anything is written
			continue
		}
		model := &conformance.ModelJudge{}
		if err := model.Load(objs); err != nil {
			t.Fatalf("%s: model: %v", what, err)
		}
		if err := j.Load(objs); err != nil {
			t.Fatalf("%s: istiod: %v", what, err)
		}
		if err := second.Load(objs); err != nil {
			t.Fatalf("%s: istiojudge: %v", what, err)
		}
		for _, r := range reqs {
			want, err := model.Allowed(r)
			if err != nil {
				t.Fatalf("%s: model: %s: %v", what, r, err)
			}
			got, err := j.Allowed(r)
			if errors.Is(err, envoyjudge.ErrUnsupported) || errors.Is(err, envoyjudge.ErrBadRequest) {
				undecided++
				t.Logf("%s: %s: envoyjudge does not decide it: %v", what, r, err)
				continue
			}
			if err != nil {
				t.Errorf("%s: %s: %v", what, r, err)
				continue
			}
			decided++
			if got {
				allowed++
			}
			if got && !want {
				t.Errorf("istiod's RBAC allows %s, which SMI denies; %s", r, what)
			}
			if sg, serr := second.Allowed(r); verdict(got, nil) != verdict(sg, serr) {
				disagree = append(disagree, fmt.Sprintf("%s: %s: istiod's config says %s, istiojudge says %s", what, r, verdict(got, nil), verdict(sg, serr)))
			}
		}
	}
	t.Logf("%d inputs (%d seeds and corpus files, 200 random), %d skipped as FuzzAccessNeverWider skips them; %d requests decided by istiod's RBAC (%d allowed), %d not decidable by envoyjudge; %s",
		len(inputs), len(seeds), skippedInput, decided, allowed, undecided, time.Since(start).Round(time.Millisecond))
	if decided < 300 {
		t.Errorf("only %d requests decided", decided)
	}
	if allowed == 0 {
		t.Error("no request allowed: the batch tests nothing but deny-by-default")
	}
	if len(disagree) > 0 {
		t.Errorf("istiod's configuration and istiojudge disagree on %d requests:\n  %s", len(disagree), strings.Join(disagree, "\n  "))
	}
}
