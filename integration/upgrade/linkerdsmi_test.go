package upgrade_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
	splitv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha1"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// What linkerd-smi users wrote: Linkerd's documented v1alpha1 split with
// Quantity weights (the root is also a backend), the spec's 1 : 500m, a
// Flagger canary at v1alpha2 (integers), and a v1alpha2 split with decimal
// weights, which linkerd-smi's v1alpha2 schema (weight: number) accepted.
// linkerd-smi converts nothing (conversion None): etcd holds all of them as
// v1alpha1, the v1alpha2 ones with their numbers as Quantities.
const linkerdSMIObjects = `
apiVersion: v1
kind: Namespace
metadata: {name: emojivoto}
---
apiVersion: v1
kind: Service
metadata: {name: web-svc, namespace: emojivoto}
spec: {selector: {app: web-svc}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-svc-2, namespace: emojivoto}
spec: {selector: {app: web-svc-2}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: web-split, namespace: emojivoto}
spec:
  service: web-svc
  backends:
  - service: web-svc
    weight: 500m
  - service: web-svc-2
    weight: 500m
---
apiVersion: v1
kind: Namespace
metadata: {name: books}
---
apiVersion: v1
kind: Service
metadata: {name: books, namespace: books}
spec: {selector: {app: books}, ports: [{name: http, port: 7000}]}
---
apiVersion: v1
kind: Service
metadata: {name: books-v1, namespace: books}
spec: {selector: {app: books, version: v1}, ports: [{name: http, port: 7000}]}
---
apiVersion: v1
kind: Service
metadata: {name: books-v2, namespace: books}
spec: {selector: {app: books, version: v2}, ports: [{name: http, port: 7000}]}
---
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: books-split, namespace: books}
spec:
  service: books
  backends:
  - service: books-v1
    weight: "1"
  - service: books-v2
    weight: 500m
---
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo, namespace: test}
spec: {selector: {app: podinfo}, ports: [{name: http, port: 9898}]}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo-primary, namespace: test}
spec: {selector: {app: podinfo-primary}, ports: [{name: http, port: 9898}]}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo-canary, namespace: test}
spec: {selector: {app: podinfo}, ports: [{name: http, port: 9898}]}
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: podinfo, namespace: test}
spec:
  service: podinfo
  backends:
  - service: podinfo-primary
    weight: 90
  - service: podinfo-canary
    weight: 10
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: test}
spec: {selector: {app: api}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api-v1, namespace: test}
spec: {selector: {app: api, version: v1}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api-v2, namespace: test}
spec: {selector: {app: api, version: v2}, ports: [{name: http, port: 8080}]}
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: api, namespace: test}
spec:
  service: api
  backends:
  - service: api-v1
    weight: 0.25
  - service: api-v2
    weight: 0.75
`

// TestFromLinkerdSMI: a cluster with linkerd-smi's TrafficSplit CRD and its
// users' splits is upgraded to smi-adapter.
func TestFromLinkerdSMI(t *testing.T) {
	c := start(t)
	// `linkerd smi install | kubectl apply -f -` installs the CRD.
	c.kubectl("apply", "-f", upstream(t, "linkerd-smi/trafficsplit-crd.yaml"))
	c.established()
	c.apply("linkerd-smi-users", linkerdSMIObjects)

	before := c.stored()
	want := map[string]string{
		"trafficsplits.split.smi-spec.io emojivoto/web-split": "v1alpha1", "trafficsplits.split.smi-spec.io books/books-split": "v1alpha1",
		"trafficsplits.split.smi-spec.io test/podinfo": "v1alpha1", "trafficsplits.split.smi-spec.io test/api": "v1alpha1",
	}
	if got := versions(before); !maps.Equal(got, want) {
		t.Fatalf("before the upgrade etcd holds %v, want %v", got, want)
	}

	c.applyCRDs()
	// kubectl's three-way merge with the configuration linkerd-smi's CRD was
	// applied with drops what only that CRD had, such as the label that
	// linkerd-smi's uninstall selects by.
	var crd apiextensionsv1.CustomResourceDefinition
	if err := c.env.Client.Get(context.Background(), client.ObjectKey{Name: "trafficsplits.split.smi-spec.io"}, &crd); err != nil {
		t.Fatal(err)
	}
	if v, ok := crd.Labels["linkerd.io/extension"]; ok {
		t.Errorf("the applied CRD kept linkerd-smi's label linkerd.io/extension=%s", v)
	}
	if got := crd.Status.StoredVersions; !slices.Equal(got, []string{"v1alpha1", "v1alpha4"}) {
		t.Errorf("storedVersions once smi-adapter's CRD is applied: %v, want [v1alpha1 v1alpha4]", got)
	}
	c.startSMIAdapter()

	// Every object reads back in every version, through the webhook.
	c.readsBack(before)

	// The meaning: the ratios at the mesh, and each object's conditions.
	if got := c.virtualService("emojivoto", "web-svc"); got != "web-svc-2=1,web-svc=1" {
		t.Errorf("web-split (500m/500m): VirtualService weights %s", got)
	}
	if got := c.virtualService("books", "books"); got != "books-v1=2,books-v2=1" {
		t.Errorf("books-split (1/500m): VirtualService weights %s", got)
	}
	if got := c.virtualService("test", "podinfo"); got != "podinfo-canary=1,podinfo-primary=9" {
		t.Errorf("podinfo (90/10): VirtualService weights %s", got)
	}
	if got := c.virtualService("test", "api"); got != "api-v1=1,api-v2=3" {
		t.Errorf("api (0.25/0.75): VirtualService weights %s", got)
	}
	for _, key := range []client.ObjectKey{{Namespace: "emojivoto", Name: "web-split"}, {Namespace: "books", Name: "books-split"},
		{Namespace: "test", Name: "podinfo"}, {Namespace: "test", Name: "api"}} {
		ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		c.condition(ts, common.ConditionAccepted, metav1.ConditionTrue, "")
		c.condition(ts, common.ConditionProgrammed, metav1.ConditionTrue, "")
	}

	// Storage: every split is rewritten in v1alpha4 and the CRD stores only it.
	after := c.migrated()
	if len(after) != len(before) {
		t.Errorf("etcd holds %d splits after the migration, %d before", len(after), len(before))
	}
	c.migrationLogged("trafficsplits.split.smi-spec.io")
	// The same meaning in every version, now converted from the hub.
	c.readsBack(before)

	// A v1alpha1 client (Flagger, a linkerd-smi user's script) still reads
	// the Quantities it wrote.
	v1 := &splitv1alpha1.TrafficSplit{}
	if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: "books", Name: "books-split"}, v1); err != nil {
		t.Fatal(err)
	}
	if w0, w1 := v1.Spec.Backends[0].Weight.String(), v1.Spec.Backends[1].Weight.String(); w0 != "1" || w1 != "500m" {
		t.Errorf("books-split read as v1alpha1 after the migration: weights %s, %s; want 1, 500m", w0, w1)
	}
	// The hub's integers keep the ratio.
	hub := &unstructured.Unstructured{}
	hub.SetGroupVersionKind(splitv1alpha4.GroupVersion.WithKind("TrafficSplit"))
	if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: "books", Name: "books-split"}, hub); err != nil {
		t.Fatal(err)
	}
	backends, _, _ := unstructured.NestedSlice(hub.Object, "spec", "backends")
	if len(backends) != 2 {
		t.Fatalf("books-split hub backends %v", backends)
	}
	w0, _, _ := unstructured.NestedInt64(backends[0].(map[string]any), "weight")
	w1, _, _ := unstructured.NestedInt64(backends[1].(map[string]any), "weight")
	if w0 != 2*w1 || w1 <= 0 {
		t.Errorf("books-split stored weights %d, %d: not 2:1", w0, w1)
	}
}
