package consul_test

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	capi "github.com/hashicorp/consul/api"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/testutil"
)

// consulService is a Consul service: namespace ("default" in the free
// edition) and name.
type consulService struct{ ns, name string }

func (s consulService) String() string { return s.ns + "/" + s.name }

// intention is one source of one service-intentions entry, as Consul's
// intention precedence sees it: destination and source namespace and name
// (each exact or "*") and whether it lets any traffic through.
type intention struct {
	dst, src consulService
	allow    bool
}

// flatten reads entries as intentions. A source without Namespace is in the
// entry's namespace, an entry without one in "default" (Consul's docs on
// service-intentions); the free agent refuses namespace fields, and Consul
// refuses a wildcard namespace with an exact name.
func flatten(t *testing.T, entries []capi.ConfigEntry, namespaced bool) []intention {
	t.Helper()
	var out []intention
	for _, e := range entries {
		si, ok := e.(*capi.ServiceIntentionsConfigEntry)
		if !ok {
			continue
		}
		dst := consulService{si.Namespace, si.Name}
		if dst.ns == "" {
			dst.ns = "default"
		}
		for i, s := range si.Sources {
			src := consulService{s.Namespace, s.Name}
			if !namespaced && (si.Namespace != "" || s.Namespace != "") {
				t.Fatalf("service-intentions %s Sources[%d]: a namespace field without Consul namespaces (the free agent refuses it)", si.Name, i)
			}
			if src.ns == "" {
				src.ns = dst.ns
			}
			for _, c := range []consulService{dst, src} {
				if c.ns == "*" && c.name != "*" {
					t.Fatalf("service-intentions %s Sources[%d]: %s: a wildcard namespace needs a wildcard name", si.Name, i, c)
				}
			}
			allow := s.Action == capi.IntentionActionAllow
			for _, p := range s.Permissions {
				allow = allow || p.Action == capi.IntentionActionAllow
			}
			out = append(out, intention{dst: dst, src: src, allow: allow})
		}
	}
	return out
}

// exact counts the exact parts of a namespace and name: a wildcard name can
// only follow an exact namespace, and a wildcard namespace only precede a
// wildcard name.
func exact(c consulService) int {
	switch {
	case c.ns == "*":
		return 0
	case c.name == "*":
		return 1
	}
	return 2
}

// precedence is Consul's intention precedence ("Intention precedence" in
// Consul's docs): exact destination namespace and name 9–7, exact namespace
// and wildcard name 6–4, wildcard namespace and name 3–1; within each, an
// exact source namespace and name first, then an exact namespace with a
// wildcard name, then wildcard namespace and name.
func precedence(in intention) int {
	return map[int]int{2: 9, 1: 6, 0: 3}[exact(in.dst)] - (2 - exact(in.src))
}

func matches(pattern, c consulService) bool {
	return (pattern.ns == "*" || pattern.ns == c.ns) && (pattern.name == "*" || pattern.name == c.name)
}

// decide: the intention of highest precedence matching src and dst decides;
// none matching leaves the agent's default (allow, without ACLs: the case a
// missing deny widens).
func decide(t *testing.T, ins []intention, src, dst consulService) bool {
	t.Helper()
	best, allow, decided := 0, true, false
	for _, in := range ins {
		if !matches(in.dst, dst) || !matches(in.src, src) {
			continue
		}
		switch p := precedence(in); {
		case !decided || p > best:
			best, allow, decided = p, in.allow, true
		case p == best && in.allow != allow:
			t.Fatalf("%s -> %s: two intentions of precedence %d disagree", src, dst, p)
		}
	}
	return allow
}

// Worlds of the namespaces table. crossWorld reuses names across
// namespaces (ns-a/web and ns-b/web, ns-a/api and ns-b/api) and grants
// across them: only Consul namespaces keep them apart. distinctWorld gives
// every name one namespace, so the free edition can say it exactly.
const (
	crossWorld = `
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: api, namespace: ns-a}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules: [{kind: TCPRoute, name: tcp}]
  sources: [{kind: ServiceAccount, name: web, namespace: ns-b}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: api-http, namespace: ns-a}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules: [{kind: HTTPRouteGroup, name: routes, matches: [read]}]
  sources: [{kind: ServiceAccount, name: app}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: api, namespace: ns-b}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules: [{kind: TCPRoute, name: tcp}]
  sources: [{kind: ServiceAccount, name: app, namespace: ns-a}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: db, namespace: ns-c}
spec:
  destination: {kind: ServiceAccount, name: db}
  rules: [{kind: TCPRoute, name: tcp}]
  sources: [{kind: ServiceAccount, name: web, namespace: ns-a}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp, namespace: ns-a}
spec: {}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp, namespace: ns-b}
spec: {}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp, namespace: ns-c}
spec: {}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes, namespace: ns-a}
spec: {matches: [{name: read, pathRegex: /api, methods: [GET]}]}
`
	distinctWorld = `
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: api, namespace: ns-a}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules: [{kind: TCPRoute, name: tcp}]
  sources: [{kind: ServiceAccount, name: web, namespace: ns-b}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: api-http, namespace: ns-a}
spec:
  destination: {kind: ServiceAccount, name: api}
  rules: [{kind: HTTPRouteGroup, name: routes, matches: [read]}]
  sources: [{kind: ServiceAccount, name: app}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: db, namespace: ns-c}
spec:
  destination: {kind: ServiceAccount, name: db}
  rules: [{kind: TCPRoute, name: tcp}]
  sources: [{kind: ServiceAccount, name: web, namespace: ns-b}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp, namespace: ns-a}
spec: {}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp, namespace: ns-c}
spec: {}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes, namespace: ns-a}
spec: {matches: [{name: read, pathRegex: /api, methods: [GET]}]}
`
)

// crossPods and distinctPods: a pod for each identity of the world, and
// one (other) that nothing grants or targets.
var (
	crossPods    = ids("ns-a/api", "ns-a/app", "ns-a/web", "ns-b/api", "ns-b/web", "ns-c/db", "ns-c/other")
	distinctPods = ids("ns-a/api", "ns-a/app", "ns-b/web", "ns-c/db", "ns-c/other")
)

// ids reads "namespace/name" identities.
func ids(s ...string) []model.Identity {
	out := make([]model.Identity, len(s))
	for i, v := range s {
		ns, name, _ := strings.Cut(v, "/")
		out[i] = model.Identity{Namespace: ns, Name: name}
	}
	return out
}

func podsYAML(ids []model.Identity) string {
	var s string
	for _, id := range ids {
		s += fmt.Sprintf("---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s-0, namespace: %s}\nspec: {serviceAccountName: %s, containers: [{name: c, image: x}]}\n",
			id.Name, id.Namespace, id.Name)
	}
	return s
}

// TestNamespacesAllowWhatSMIAllows judges the entries by Consul's documented
// intention precedence (Consul Enterprise's namespace fields cannot be
// checked on the free agent, which refuses them): for every world, option
// set and caller — Kubernetes identities of several namespaces and, with
// namespaces, services of a Consul namespace no Kubernetes namespace maps
// to — Consul allows exactly what SMI allows, except a grant the translation
// reports as failed closed (an Error), which must be denied. Destinations
// are those a TrafficTarget names and, with default-access=deny, every
// identity (the agent's default decides the others).
func TestNamespacesAllowWhatSMIAllows(t *testing.T) {
	for _, tc := range []struct {
		name     string
		world    string
		pods     []model.Identity
		settings map[string]string
	}{
		{"free", distinctWorld, distinctPods, map[string]string{}},
		{"free default deny", distinctWorld, distinctPods, map[string]string{"default-access": "deny"}},
		{"one namespace", distinctWorld, distinctPods, map[string]string{"namespace": "smi"}},
		{"one namespace default deny", distinctWorld, distinctPods, map[string]string{"namespace": "smi", "default-access": "deny"}},
		{"mirrored distinct", distinctWorld, distinctPods, map[string]string{"mirror-namespaces": "true"}},
		{"mirrored", crossWorld, crossPods, map[string]string{"mirror-namespaces": "true"}},
		{"mirrored default deny", crossWorld, crossPods, map[string]string{"mirror-namespaces": "true", "default-access": "deny"}},
		{"mirrored prefix default deny", crossWorld, crossPods, map[string]string{"mirror-namespaces": "true", "mirror-prefix": "k8s-", "default-access": "deny"}},
		{"mirrored and a namespace", crossWorld, crossPods, map[string]string{"mirror-namespaces": "true", "namespace": "ignored", "default-access": "deny"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "world.yaml")
			if err := os.WriteFile(file, []byte(tc.world+podsYAML(tc.pods)), 0o644); err != nil {
				t.Fatal(err)
			}
			m := testutil.LoadMemory(t, file)
			be, err := consul.New(backend.Options{Settings: tc.settings})
			if err != nil {
				t.Fatal(err)
			}
			o := be.(*consul.Backend).Options()
			build := normalize.Options{IdentitiesElsewhere: backend.IdentitiesElsewhere(be)}

			var entries []capi.ConfigEntry
			policies := map[model.Identity]*model.AccessPolicy{}
			failed := map[model.Identity]bool{} // destinations whose translation reported an Error
			for _, k := range append(m.Keys(), model.MeshKey) {
				if k.Kind == model.KeyRoute {
					continue
				}
				slice, _ := build.Build(k, m)
				res := consul.Translate(slice, o)
				for _, d := range res.Entries {
					entries = append(entries, d.Entry)
				}
				if pol := slice.Access; pol != nil && !pol.CrossNamespaceOnly {
					policies[pol.Destination] = pol
					for ref := range res.Problems {
						for _, d := range res.Problems.Diagnostics(ref) {
							failed[pol.Destination] = failed[pol.Destination] || d.Severity == model.SeverityError
						}
					}
				}
			}
			ins := flatten(t, entries, o.Namespaced())

			// Callers: with namespaces, every name in every namespace, and
			// services of a Consul namespace no Kubernetes namespace maps to;
			// in the free edition (and one configured namespace) a name is
			// one service whatever the namespace, so the identities that
			// exist (the collapse check covers those).
			type caller struct {
				id      model.Identity
				service consulService
			}
			names := []string{"api", "app", "web", "db", "other"}
			var callers []caller
			var identities []model.Identity
			if o.MirrorNamespaces {
				for _, ns := range []string{"ns-a", "ns-b", "ns-c"} {
					for _, n := range names {
						identities = append(identities, model.Identity{Namespace: ns, Name: n})
					}
				}
			} else {
				identities = tc.pods
			}
			for _, id := range identities {
				ns, n := consul.ServiceName(id.Namespace, id.Name, o)
				if ns == "" {
					ns = "default"
				}
				callers = append(callers, caller{id, consulService{ns, n}})
			}
			if o.Namespaced() {
				for _, n := range names {
					callers = append(callers, caller{model.Identity{Namespace: "(not Kubernetes)", Name: n}, consulService{"legacy", n}})
				}
			}
			var destinations []model.Identity
			for id := range policies {
				destinations = append(destinations, id)
			}
			if o.DefaultAccess == "deny" {
				for _, id := range identities {
					if policies[id] == nil {
						destinations = append(destinations, id)
					}
				}
			}
			slices.SortFunc(destinations, func(a, b model.Identity) int { return cmp.Compare(a.String(), b.String()) })

			checked := 0
			for _, dst := range destinations {
				dns, dn := consul.ServiceName(dst.Namespace, dst.Name, o)
				if dns == "" {
					dns = "default"
				}
				for _, c := range callers {
					smi := false
					if pol := policies[dst]; pol != nil {
						for _, g := range pol.Grants {
							smi = smi || (g.Source == c.id && len(g.Rules) > 0)
						}
					}
					got := decide(t, ins, c.service, consulService{dns, dn})
					switch {
					case got && !smi:
						t.Errorf("%s (Consul %s) -> %s: allowed, SMI does not allow it", c.id, c.service, dst)
					case !got && smi && !failed[dst]:
						t.Errorf("%s (Consul %s) -> %s: denied without a report, SMI allows it", c.id, c.service, dst)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Fatal("nothing checked")
			}
		})
	}
}
