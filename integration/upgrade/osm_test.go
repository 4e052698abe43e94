package upgrade_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
)

// What OSM users wrote, as OSM's bookstore and tcp-echo demos write it: the
// split's root as <service>.<namespace>, a route group with header matches
// in the list-of-maps form and a regex path, TrafficTargets at v1alpha3.
const osmObjects = `
apiVersion: v1
kind: Namespace
metadata: {name: bookstore}
---
apiVersion: v1
kind: Namespace
metadata: {name: bookbuyer}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: bookstore, namespace: bookstore}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: bookbuyer, namespace: bookbuyer}
---
apiVersion: v1
kind: Service
metadata: {name: bookstore, namespace: bookstore, labels: {app: bookstore}}
spec: {selector: {app: bookstore}, ports: [{name: bookstore-port, port: 14001}]}
---
apiVersion: v1
kind: Service
metadata: {name: bookstore-v1, namespace: bookstore, labels: {app: bookstore}}
spec: {selector: {app: bookstore, version: v1}, ports: [{name: bookstore-port, port: 14001}]}
---
apiVersion: v1
kind: Service
metadata: {name: bookstore-v2, namespace: bookstore, labels: {app: bookstore}}
spec: {selector: {app: bookstore, version: v2}, ports: [{name: bookstore-port, port: 14001}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bookstore-v1-0, namespace: bookstore, labels: {app: bookstore, version: v1}}
spec:
  serviceAccountName: bookstore
  automountServiceAccountToken: false
  containers: [{name: bookstore, image: openservicemesh/bookstore:v1.2.0, ports: [{containerPort: 14001}]}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: bookstore-service-routes, namespace: bookstore}
spec:
  matches:
  - name: books-bought
    pathRegex: /books-bought
    methods: [GET]
    headers:
    - "user-agent": ".*-http-client/*.*"
    - "client-app": "bookbuyer"
  - name: buy-a-book
    pathRegex: ".*a-book.*new"
    methods: [GET]
  - name: update-books-bought
    pathRegex: /update-books-bought
    methods: [POST]
---
kind: TrafficTarget
apiVersion: access.smi-spec.io/v1alpha3
metadata: {name: bookstore, namespace: bookstore}
spec:
  destination: {kind: ServiceAccount, name: bookstore, namespace: bookstore}
  rules:
  - kind: HTTPRouteGroup
    name: bookstore-service-routes
    matches: [buy-a-book, books-bought]
  sources:
  - {kind: ServiceAccount, name: bookbuyer, namespace: bookbuyer}
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: bookstore-split, namespace: bookstore}
spec:
  service: bookstore.bookstore
  backends:
  - {service: bookstore-v1, weight: 50}
  - {service: bookstore-v2, weight: 50}
---
apiVersion: v1
kind: Namespace
metadata: {name: tcp-demo}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: tcp-echo, namespace: tcp-demo}
---
apiVersion: v1
kind: Service
metadata: {name: tcp-echo, namespace: tcp-demo}
spec: {selector: {app: tcp-echo}, ports: [{name: tcp, port: 9000, appProtocol: tcp}]}
---
apiVersion: v1
kind: Pod
metadata: {name: tcp-echo-0, namespace: tcp-demo, labels: {app: tcp-echo}}
spec:
  serviceAccountName: tcp-echo
  automountServiceAccountToken: false
  containers: [{name: tcp-echo, image: istio/tcp-echo-server:1.1, ports: [{containerPort: 9000}]}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp-echo-route, namespace: tcp-demo}
spec:
  matches:
    ports: [9000]
---
kind: TrafficTarget
apiVersion: access.smi-spec.io/v1alpha3
metadata: {name: tcp-access, namespace: tcp-demo}
spec:
  destination: {kind: ServiceAccount, name: tcp-echo, namespace: tcp-demo}
  rules:
  - {kind: TCPRoute, name: tcp-echo-route}
  sources:
  - {kind: ServiceAccount, name: tcp-client, namespace: tcp-demo}
`

// TestFromOSM: a cluster with Open Service Mesh's SMI CRDs and its users'
// objects is upgraded to smi-adapter.
func TestFromOSM(t *testing.T) {
	c := start(t)
	// osm-bootstrap creates its CRDs through the API (no kubectl annotation).
	for _, f := range []string{"smi_traffic_access.yaml", "smi_http_route_group.yaml", "smi_tcp_route.yaml", "smi_traffic_split.yaml"} {
		c.kubectl("create", "-f", upstream(t, "osm/"+f))
	}
	c.established()
	c.apply("osm-users", osmObjects)

	before := c.stored()
	want := map[string]string{
		"trafficsplits.split.smi-spec.io bookstore/bookstore-split":            "v1alpha2",
		"traffictargets.access.smi-spec.io bookstore/bookstore":                "v1alpha3",
		"traffictargets.access.smi-spec.io tcp-demo/tcp-access":                "v1alpha3",
		"httproutegroups.specs.smi-spec.io bookstore/bookstore-service-routes": "v1alpha4",
		"tcproutes.specs.smi-spec.io tcp-demo/tcp-echo-route":                  "v1alpha4",
	}
	if got := versions(before); !maps.Equal(got, want) {
		t.Fatalf("before the upgrade etcd holds %v, want %v", got, want)
	}

	// kubectl warns that OSM's CRDs lack its annotation, and patches them.
	if warnings := c.applyCRDs(); !strings.Contains(warnings, "last-applied-configuration") {
		t.Errorf("kubectl did not warn about the missing last-applied annotation: %q", warnings)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := c.env.Client.Get(context.Background(), client.ObjectKey{Name: "trafficsplits.split.smi-spec.io"}, &crd); err != nil {
		t.Fatal(err)
	}
	// With no applied configuration to compare with, nothing only OSM's CRD
	// had is removed: its label and short name stay (docs/migrating.md).
	if crd.Labels["app.kubernetes.io/name"] != "openservicemesh.io" || !slices.Equal(crd.Spec.Names.ShortNames, []string{"ts"}) {
		t.Errorf("trafficsplits CRD after the apply: labels %v, short names %v", crd.Labels, crd.Spec.Names.ShortNames)
	}
	if got := crd.Status.StoredVersions; !slices.Equal(got, []string{"v1alpha2", "v1alpha4"}) {
		t.Errorf("storedVersions once smi-adapter's CRD is applied: %v, want [v1alpha2 v1alpha4]", got)
	}
	c.startSMIAdapter()

	c.readsBack(before)

	// The split as OSM's demo wrote it names its root <service>.<namespace>:
	// SMI's spec.service is a Service of the split's namespace, so nothing is
	// split until it says bookstore (docs/migrating.md).
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: "bookstore", Name: "bookstore-split"}}
	if cond := c.condition(ts, common.ConditionAccepted, metav1.ConditionFalse, model.ReasonRefNotFound); !strings.Contains(cond.Message, "bookstore/bookstore.bookstore not found") {
		t.Errorf("Accepted message %q", cond.Message)
	}
	c.condition(ts, common.ConditionProgrammed, "", "")

	// OSM's regexes are valid SMI (Accepted), but Istio's authorization has no
	// regexes: those matches grant nothing (fail closed), and say so.
	tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: "bookstore", Name: "bookstore"}}
	c.condition(tt, common.ConditionAccepted, metav1.ConditionTrue, "")
	if cond := c.condition(tt, common.ConditionProgrammed, metav1.ConditionFalse, istio.ReasonUnsupportedMatch); !strings.Contains(cond.Message, "a-book") {
		t.Errorf("Programmed message %q", cond.Message)
	}
	ap := c.authorizationPolicy("bookstore", "bookstore")
	if rules, _, _ := unstructured.NestedSlice(ap.Object, "spec", "rules"); len(rules) != 0 {
		t.Errorf("bookstore's policy allows %v; every granted match is inexpressible, so nothing may be allowed", rules)
	}
	// The TCP grant is exact.
	tcp := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: "tcp-demo", Name: "tcp-access"}}
	c.condition(tcp, common.ConditionAccepted, metav1.ConditionTrue, "")
	c.condition(tcp, common.ConditionProgrammed, metav1.ConditionTrue, "")
	ap = c.authorizationPolicy("tcp-demo", "tcp-echo")
	rules, _, _ := unstructured.NestedSlice(ap.Object, "spec", "rules")
	if len(rules) != 1 || !strings.Contains(strings.Join(nested(rules[0], "from", "source", "serviceAccounts"), ","), "tcp-demo/tcp-client") ||
		!slices.Equal(nested(rules[0], "to", "operation", "ports"), []string{"9000"}) {
		t.Errorf("tcp-echo's policy rules %v, want tcp-demo/tcp-client on port 9000", rules)
	}
	for _, r := range []client.Object{
		&specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: "bookstore", Name: "bookstore-service-routes"}},
		&specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "tcp-demo", Name: "tcp-echo-route"}},
	} {
		c.condition(r, common.ConditionAccepted, metav1.ConditionTrue, "")
	}

	// Storage: the split is rewritten in v1alpha4; the rest was stored in
	// its hub already. Every CRD stores only its hub.
	after := c.migrated()
	if len(after) != len(before) {
		t.Errorf("etcd holds %d objects after the migration, %d before", len(after), len(before))
	}
	c.migrationLogged("trafficsplits.split.smi-spec.io")
	c.readsBack(before)

	// The migration's step for the user: name the root as SMI does.
	if err := c.env.Update(context.Background(), ts, func() { ts.Spec.Service = "bookstore" }); err != nil {
		t.Fatal(err)
	}
	c.condition(ts, common.ConditionAccepted, metav1.ConditionTrue, "")
	if got := c.virtualService("bookstore", "bookstore"); got != "bookstore-v1=1,bookstore-v2=1" {
		t.Errorf("bookstore-split (50/50): VirtualService weights %s", got)
	}
}

// nested returns the strings at path in each element of the list at the
// first key of obj (e.g. from[*].source.serviceAccounts).
func nested(obj any, list string, path ...string) []string {
	m, _ := obj.(map[string]any)
	items, _, _ := unstructured.NestedSlice(m, list)
	var out []string
	for _, it := range items {
		im, _ := it.(map[string]any)
		vals, _, _ := unstructured.NestedStringSlice(im, path...)
		out = append(out, vals...)
	}
	return out
}
