package consul_test

import (
	"strings"
	"testing"

	capi "github.com/hashicorp/consul/api"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

// collapsePolicy: prod/api grants all traffic to the sources given, each
// carried by its own TrafficTarget, with the identities of their names that
// exist elsewhere.
func collapsePolicy(grants ...model.Grant) *model.Slice {
	key := model.Key{Kind: model.KeyAccess, Namespace: "prod", Name: "api"}
	pol := &model.AccessPolicy{Destination: model.Identity{Namespace: "prod", Name: "api"}}
	for i := range grants {
		ref := model.ObjectRef{Kind: "TrafficTarget", Namespace: "prod", Name: "tt-" + grants[i].Source.Namespace}
		grants[i].From = []model.ObjectRef{ref}
		grants[i].Rules = []model.Rule{{Protocol: model.ProtocolTCP}}
		pol.From = append(pol.From, ref)
		pol.Grants = append(pol.Grants, grants[i])
	}
	return &model.Slice{Key: key, Access: pol}
}

func id(ns, name string) model.Identity { return model.Identity{Namespace: ns, Name: name} }

// allowed lists the source names the entry allows.
func allowed(t *testing.T, res consul.Result) []string {
	t.Helper()
	var out []string
	for _, d := range res.Entries {
		si, ok := d.Entry.(*capi.ServiceIntentionsConfigEntry)
		if !ok {
			continue
		}
		for _, s := range si.Sources {
			if s.Action == capi.IntentionActionAllow || len(s.Permissions) > 0 {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

func reasons(res consul.Result, ref model.ObjectRef) []string {
	var out []string
	for _, d := range res.Problems.Diagnostics(ref) {
		out = append(out, string(d.Severity)+"/"+d.Reason)
	}
	return out
}

// TestNamespaceCollapse: a Consul source name stands for every identity of
// that name; one that exists elsewhere without a grant closes the name (an
// Error on exactly the TrafficTargets granting it), granted ones are warned
// about; mirrored namespaces keep sources apart, so Elsewhere is ignored.
func TestNamespaceCollapse(t *testing.T) {
	refA := model.ObjectRef{Kind: "TrafficTarget", Namespace: "prod", Name: "tt-ns-a"}
	refB := model.ObjectRef{Kind: "TrafficTarget", Namespace: "prod", Name: "tt-ns-b"}
	refC := model.ObjectRef{Kind: "TrafficTarget", Namespace: "prod", Name: "tt-ns-c"}
	for _, tc := range []struct {
		name    string
		slice   *model.Slice
		opts    consul.Options
		allowed string
		want    map[model.ObjectRef]string
		message string
	}{
		{name: "alone", slice: collapsePolicy(model.Grant{Source: id("ns-a", "web")}), allowed: "web",
			want: map[model.ObjectRef]string{refA: ""}},
		{name: "ungranted elsewhere", slice: collapsePolicy(model.Grant{Source: id("ns-a", "web"), Elsewhere: []model.Identity{id("ns-b", "web")}},
			model.Grant{Source: id("ns-c", "app")}), allowed: "app",
			want:    map[model.ObjectRef]string{refA: "Error/NamespaceCollapse", refC: ""},
			message: "ns-b/web exists now"},
		{name: "granted elsewhere", slice: collapsePolicy(model.Grant{Source: id("ns-a", "web"), Elsewhere: []model.Identity{id("ns-b", "web")}},
			model.Grant{Source: id("ns-b", "web"), Elsewhere: []model.Identity{id("ns-a", "web")}}), allowed: "web",
			want:    map[model.ObjectRef]string{refA: "Warning/NamespaceCollapse", refB: "Warning/NamespaceCollapse"},
			message: "which exists now and is granted too"},
		{name: "one granted, one not", slice: collapsePolicy(model.Grant{Source: id("ns-a", "web"), Elsewhere: []model.Identity{id("ns-b", "web"), id("ns-c", "web")}},
			model.Grant{Source: id("ns-b", "web"), Elsewhere: []model.Identity{id("ns-a", "web"), id("ns-c", "web")}}), allowed: "",
			want:    map[model.ObjectRef]string{refA: "Error/NamespaceCollapse", refB: "Error/NamespaceCollapse"},
			message: "ns-c/web exists now"},
		{name: "mirrored", slice: collapsePolicy(model.Grant{Source: id("ns-a", "web"), Elsewhere: []model.Identity{id("ns-b", "web")}}),
			opts: consul.Options{MirrorNamespaces: true}, allowed: "web", want: map[model.ObjectRef]string{refA: ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := consul.Translate(tc.slice, tc.opts)
			if got := strings.Join(allowed(t, res), ","); got != tc.allowed {
				t.Errorf("allowed %q, want %q", got, tc.allowed)
			}
			for ref, want := range tc.want {
				if got := strings.Join(reasons(res, ref), ","); got != want {
					t.Errorf("%s: diagnostics %q, want %q", ref, got, want)
				}
				for _, d := range res.Problems.Diagnostics(ref) {
					if !strings.Contains(d.Message, tc.message) {
						t.Errorf("%s: message %q does not say %q", ref, d.Message, tc.message)
					}
				}
			}
		})
	}
}

// TestAnnotationConnectService: the annotation the collapse messages name is
// the one core counts.
func TestAnnotationConnectService(t *testing.T) {
	if consul.AnnotationConnectService != normalize.AnnotationConnectService {
		t.Errorf("consul %q, normalize %q", consul.AnnotationConnectService, normalize.AnnotationConnectService)
	}
}
