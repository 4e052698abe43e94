package conformance_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	"github.com/smi-adapter/smi-adapter/integration/conformance"
	"github.com/smi-adapter/smi-adapter/integration/conformance/istiojudge"
	"github.com/smi-adapter/smi-adapter/integration/conformance/linkerdjudge"
)

// FuzzAccessNeverWider: for any route (path regex, method, header regex) and
// any request, what smi-adapter writes for Istio and for Linkerd, judged by
// each mesh's own semantics, never allows a request the SMI reference (the
// model judge) denies — failing closed is allowed, widening never — and a
// source no TrafficTarget names is always denied.
func FuzzAccessNeverWider(f *testing.F) {
	f.Add("/api/v[0-9]+", "GET", "x-env", "prod.*", "/api/v2/items", "GET", "prod-eu")
	f.Add("/users/[^/]+/profile", "*", "", "", "/users/bob/profile/edit", "POST", "")
	f.Add("(/a|/b)c", "POST", "x-tenant", "acme|globex", "/bc", "POST", "globex")
	f.Add("/static/.*\\.css$", "GET", "", "", "/static/x.css", "GET", "")
	f.Add("/metrics", "GET", "user-agent", ".*Firefox.*", "/metricsX", "GET", "Mozilla Firefox")
	f.Add("[", "GET", "x", "(", "/", "GET", "x")
	// Regexes Rust's regex crate (Linkerd's engine) reads otherwise than RE2.
	f.Add("/admin[x[^y]]", "GET", "", "", "/admin/secret", "GET", "")
	f.Add("/api\\>", "GET", "x-v", "[a-z&&b]", "/api/secret", "GET", "a")
	f.Add("/n", "GET", "x-n", "\\d+", "/n", "GET", "٣")
	judges := []conformance.Judge{
		&istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}},
		&linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny"},
		&linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Options: linkerd.Options{Splits: linkerd.SplitsHTTPRoute}},
	}
	f.Fuzz(func(t *testing.T, pathRegex, method, header, headerRegex, path, reqMethod, headerValue string) {
		if !httpCarries(path, headerValue) {
			return // no mesh receives such a request: its proxy refuses it as malformed
		}
		match := specsv1alpha4.HTTPMatch{Name: "m", PathRegex: pathRegex, Methods: []string{method}}
		if header != "" {
			match.Headers = map[string]string{strings.ToLower(header): headerRegex}
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
				t.Fatal(err)
			}
			docs = append(docs, string(j)+"\n")
		}
		sc := conformance.Scenario{Name: "fuzz", Objects: strings.Join(docs, "---\n")}
		decoded, err := sc.Decode()
		if err != nil {
			return // not decodable: rejected before anything is written
		}
		model := &conformance.ModelJudge{}
		if err := model.Load(decoded); err != nil {
			t.Fatalf("model: %v", err)
		}
		reqs := []conformance.AccessRequest{
			{From: "app/web", To: "app/api", Port: 8080, Method: reqMethod, Path: path, Headers: map[string]string{strings.ToLower(header): headerValue}},
			{From: "app/other", To: "app/api", Port: 8080, Method: reqMethod, Path: path, Headers: map[string]string{strings.ToLower(header): headerValue}},
		}
		for _, j := range judges {
			if err := j.Load(decoded); err != nil {
				t.Fatalf("%s: load: %v", j.Name(), err)
			}
			for _, r := range reqs {
				want, err := model.Allowed(r)
				if err != nil {
					t.Fatalf("model: %s: %v", r, err)
				}
				got, err := j.Allowed(r)
				var inex *conformance.Inexpressible
				if errors.As(err, &inex) {
					continue
				}
				if err != nil {
					t.Fatalf("%s: %s: %v", j.Name(), r, err)
				}
				if got && !want {
					t.Errorf("%s allows %s, which SMI denies (route pathRegex=%q methods=[%q] headers %q=%q)", j.Name(), r, pathRegex, method, header, headerRegex)
				}
			}
		}
	})
}

// httpCarries: an HTTP request can have this path (a request-target has no
// control characters or spaces, RFC 9112 §3.2) and this header value (no CR,
// LF or NUL, RFC 9110 §5.5). Envoy refuses other requests before any policy
// applies, so they are not requests a mesh could wrongly allow.
func httpCarries(path, headerValue string) bool {
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return !strings.ContainsAny(headerValue, "\r\n\x00")
}
