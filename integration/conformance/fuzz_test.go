package conformance_test

import (
	"errors"
	"testing"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
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
	for _, in := range conformance.AccessSeeds {
		f.Add(in.PathRegex, in.Method, in.Header, in.HeaderRegex, in.Path, in.ReqMethod, in.HeaderValue)
	}
	judges := []conformance.Judge{
		&istiojudge.Judge{Options: istio.Options{DefaultAccess: "deny"}},
		&linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny"},
		&linkerdjudge.Judge{Regex: rust, DefaultInbound: "deny", Options: linkerd.Options{Splits: linkerd.SplitsHTTPRoute}},
	}
	f.Fuzz(func(t *testing.T, pathRegex, method, header, headerRegex, path, reqMethod, headerValue string) {
		in := conformance.AccessInput{PathRegex: pathRegex, Method: method, Header: header, HeaderRegex: headerRegex, Path: path, ReqMethod: reqMethod, HeaderValue: headerValue}
		if !in.Carried() {
			return // no mesh receives such a request: its proxy refuses it as malformed
		}
		sc, reqs, err := in.Scenario()
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := sc.Decode()
		if err != nil {
			return // not decodable: rejected before anything is written
		}
		model := &conformance.ModelJudge{}
		if err := model.Load(decoded); err != nil {
			t.Fatalf("model: %v", err)
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
