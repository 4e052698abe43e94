// Package upgrade_test upgrades the SMI installs people have to smi-adapter,
// on a real kube-apiserver and etcd: linkerd-smi's TrafficSplit CRD (stores
// v1alpha1, conversion None) and Open Service Mesh's SMI CRDs (split stored
// at v1alpha2, access v1alpha3, specs v1alpha4), as those projects shipped
// them (../shared/upstream). Each test installs the upstream CRDs, creates
// objects through them as their users wrote them, applies smi-adapter's CRDs
// over them with kubectl, starts smi-adapter (Istio backend), and checks that
// every stored object reads back in every served version with the same
// meaning, gets its conditions and mesh objects, and ends up stored in the
// hub version in etcd, with the CRDs' status.storedVersions trimmed to the
// hub (core/storagemigration). docs/migrating.md is the user's side of it.
package upgrade_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/conversion"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/core/apis"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// The SMI CRDs smi-adapter ships, by resource and group, with their hubs.
var smiCRDs = []struct{ resource, group, hub string }{
	{"traffictargets", "access.smi-spec.io", "v1alpha3"},
	{"httproutegroups", "specs.smi-spec.io", "v1alpha4"},
	{"tcproutes", "specs.smi-spec.io", "v1alpha4"},
	{"udproutes", "specs.smi-spec.io", "v1alpha4"},
	{"trafficsplits", "split.smi-spec.io", "v1alpha4"},
}

const timeout = 60 * time.Second

// cluster is one control plane with Istio's CRDs and smi-adapter's manager
// to start (Istio backend).
type cluster struct {
	t   *testing.T
	env *harness.Env
	// earlier is how many storage migration log lines earlier tests left
	// (the harness keeps one log for the process).
	earlier int
}

func start(t *testing.T) *cluster {
	t.Helper()
	crds, err := harness.IstioCRDs()
	if err != nil {
		t.Fatal(err)
	}
	return startWith(t, harness.Options{NewBackend: istio.New, ExtraCRDPaths: []string{crds}})
}

// startWith starts a control plane whose manager runs with o (no backend:
// the conversion webhook and the storage migration only).
func startWith(t *testing.T, o harness.Options) *cluster {
	t.Helper()
	env, err := harness.StartControlPlane(o)
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane started in %s", env.StartTime.Round(time.Millisecond))
	return &cluster{t: t, env: env}
}

// upstream is the path of a file of the shared upstream folder.
func upstream(t *testing.T, rel string) string {
	t.Helper()
	dir, err := harness.SharedDir()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "upstream", rel)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("upstream CRDs: %v", err)
	}
	return path
}

// kubectl runs the real kubectl against the control plane; it returns
// stdout and stderr (kubectl's warnings).
func (c *cluster) kubectl(args ...string) (string, string) {
	c.t.Helper()
	stdout, stderr, err := c.env.Env.ControlPlane.KubeCtl().Run(args...)
	out, _ := readAll(stdout)
	errOut, _ := readAll(stderr)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out, errOut
}

func readAll(r interface{ Read([]byte) (int, error) }) (string, error) {
	if r == nil {
		return "", nil
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.String(), err
}

// apply writes the documents to a file and applies it with kubectl, as a
// user does.
func (c *cluster) apply(name, docs string) {
	c.t.Helper()
	path := filepath.Join(c.t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(docs), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.kubectl("apply", "-f", path)
}

func (c *cluster) established() {
	c.t.Helper()
	c.kubectl("wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")
}

// storedObject is what etcd holds for one SMI object.
type storedObject struct {
	gvk schema.GroupVersionKind
	raw []byte
}

// stored reads every SMI object etcd holds, by "resource.group ns/name".
func (c *cluster) stored() map[string]storedObject {
	c.t.Helper()
	out := map[string]storedObject{}
	for _, crd := range smiCRDs {
		prefix := "/registry/" + crd.group + "/" + crd.resource + "/"
		kvs, err := c.env.EtcdGet(context.Background(), prefix)
		if err != nil {
			c.t.Fatal(err)
		}
		for key, raw := range kvs {
			var tm metav1.TypeMeta
			if err := json.Unmarshal(raw, &tm); err != nil {
				c.t.Fatalf("etcd %s: %v", key, err)
			}
			gv, err := schema.ParseGroupVersion(tm.APIVersion)
			if err != nil {
				c.t.Fatalf("etcd %s: %v", key, err)
			}
			// The key is the prefix and <namespace>/<name>.
			out[crd.resource+"."+crd.group+" "+strings.TrimPrefix(key, prefix)] = storedObject{gvk: gv.WithKind(tm.Kind), raw: raw}
		}
	}
	return out
}

// storedVersions of every SMI CRD installed, by name.
func (c *cluster) storedVersions() map[string][]string {
	c.t.Helper()
	out := map[string][]string{}
	for _, crd := range smiCRDs {
		var got apiextensionsv1.CustomResourceDefinition
		if err := c.env.Client.Get(context.Background(), client.ObjectKey{Name: crd.resource + "." + crd.group}, &got); err != nil {
			continue // not installed (before the upgrade)
		}
		out[got.Name] = got.Status.StoredVersions
	}
	return out
}

// applyCRDs applies smi-adapter's CRDs over the upstream ones with kubectl
// (as `kubectl apply -f crds/` does for a user) and points their conversion
// at the test's webhook (the Service and the injected CA in a cluster). It
// returns kubectl's warnings.
func (c *cluster) applyCRDs() string {
	c.t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		c.t.Fatal(err)
	}
	out, warnings := c.kubectl("apply", "-f", filepath.Join(root, "crds"))
	c.t.Logf("kubectl apply -f crds/:\n%s%s", out, warnings)
	var webhook []string
	for _, crd := range smiCRDs {
		var got apiextensionsv1.CustomResourceDefinition
		if err := c.env.Client.Get(context.Background(), client.ObjectKey{Name: crd.resource + "." + crd.group}, &got); err != nil {
			c.t.Fatal(err)
		}
		if got.Spec.Conversion != nil && got.Spec.Conversion.Strategy == apiextensionsv1.WebhookConverter {
			webhook = append(webhook, got.Name)
		}
	}
	if err := c.env.ServeConversion(context.Background(), webhook...); err != nil {
		c.t.Fatal(err)
	}
	c.established()
	return warnings
}

// startSMIAdapter starts smi-adapter: the conversion webhook, the
// controller with the Istio backend, the storage migration.
func (c *cluster) startSMIAdapter() {
	c.t.Helper()
	c.earlier = len(c.env.Logs("storagemigration"))
	if err := c.env.StartManager(); err != nil {
		c.t.Fatal(err)
	}
}

// served lists the versions smi-adapter's CRD of gk serves.
func (c *cluster) served(gk schema.GroupKind) []string {
	c.t.Helper()
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.env.Client.List(context.Background(), &crds); err != nil {
		c.t.Fatal(err)
	}
	for _, crd := range crds.Items {
		if crd.Spec.Group == gk.Group && crd.Spec.Names.Kind == gk.Kind {
			var out []string
			for _, v := range crd.Spec.Versions {
				if v.Served {
					out = append(out, v.Name)
				}
			}
			return out
		}
	}
	c.t.Fatalf("no CRD for %s", gk)
	return nil
}

// meaning is what an object says, without what the apiserver adds and
// without status: it is compared in the typed form, so that two wire forms
// of one value (headers as a map or a list of maps, say) compare equal.
func (c *cluster) meaning(obj runtime.Object) map[string]any {
	c.t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		c.t.Fatal(err)
	}
	delete(u, "status")
	md, _ := u["metadata"].(map[string]any)
	keep := map[string]any{}
	for _, k := range []string{"name", "namespace", "labels", "annotations"} {
		if v, ok := md[k]; ok {
			keep[k] = v
		}
	}
	u["metadata"] = keep
	return u
}

// readsBack checks that every object etcd held before the upgrade reads, in
// every version smi-adapter serves (through its conversion webhook), what
// the in-process conversion of the stored object says.
func (c *cluster) readsBack(before map[string]storedObject) {
	c.t.Helper()
	s := c.env.Scheme
	reads := 0
	defer func() { c.t.Logf("%d objects read back in every served version (%d reads)", len(before), reads) }()
	for key, o := range before {
		docs, err := apis.DecodeYAML(s, bytes.NewReader(o.raw))
		if err != nil || len(docs) != 1 {
			c.t.Fatalf("%s: decode what etcd held: %v", key, err)
		}
		in := docs[0].Object.(client.Object)
		hub, err := apis.ToHub(s, in, o.gvk)
		if err != nil {
			c.t.Fatalf("%s: %v", key, err)
		}
		for _, v := range c.served(o.gvk.GroupKind()) {
			gvk := o.gvk.GroupKind().WithVersion(v)
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(gvk)
			if err := c.env.Client.Get(context.Background(), client.ObjectKeyFromObject(in), got); err != nil {
				c.t.Errorf("%s: read as %s: %v", key, v, err)
				continue
			}
			reads++
			typed, err := s.New(gvk)
			if err != nil {
				c.t.Fatal(err)
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, typed); err != nil {
				c.t.Errorf("%s: read as %s: %v", key, v, err)
				continue
			}
			want, err := apis.FromHub(s, hub.(conversion.Hub), gvk)
			if err != nil {
				c.t.Fatal(err)
			}
			if w, g := c.meaning(want), c.meaning(typed); !equality.Semantic.DeepEqual(w, g) {
				wy, _ := yaml.Marshal(w)
				gy, _ := yaml.Marshal(g)
				c.t.Errorf("%s read as %s differs from the conversion of what etcd held:\n--- want\n%s--- got\n%s", key, v, wy, gy)
			}
		}
	}
}

// migrated waits until every SMI CRD stores only its hub and etcd holds
// every object in it; it returns what etcd holds then.
func (c *cluster) migrated() map[string]storedObject {
	c.t.Helper()
	var now map[string]storedObject
	harness.Eventually(c.t, timeout, func() error {
		for name, versions := range c.storedVersions() {
			hub := ""
			for _, crd := range smiCRDs {
				if crd.resource+"."+crd.group == name {
					hub = crd.hub
				}
			}
			if !slices.Equal(versions, []string{hub}) {
				return fmt.Errorf("%s: storedVersions %v, want [%s]", name, versions, hub)
			}
		}
		now = c.stored()
		for key, o := range now {
			if o.gvk.Version != apis.HubVersions[o.gvk.Group] {
				return fmt.Errorf("%s is stored as %s", key, o.gvk.Version)
			}
		}
		return nil
	})
	return now
}

// versions summarises what etcd holds: "resource.group ns/name" -> version.
func versions(objs map[string]storedObject) map[string]string {
	out := map[string]string{}
	for k, o := range objs {
		out[k] = o.gvk.Version
	}
	return out
}

// condition waits until the hub object has the condition, for its current
// generation, with the status and reason ("" for any), and returns it.
func (c *cluster) condition(obj client.Object, typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
	c.t.Helper()
	var found metav1.Condition
	harness.Eventually(c.t, timeout, func() error {
		if err := c.env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		st, err := statusOf(obj)
		if err != nil {
			return err
		}
		cond := meta.FindStatusCondition(st.Conditions, typ)
		if cond == nil || (status != "" && cond.Status != status) || (reason != "" && cond.Reason != reason) || cond.ObservedGeneration != obj.GetGeneration() {
			return fmt.Errorf("%s %s/%s %s: %+v, want %s %s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), typ, cond, status, reason)
		}
		found = *cond
		return nil
	})
	return found
}

func statusOf(obj client.Object) (*common.Status, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	st := &common.Status{}
	raw, _, _ := unstructured.NestedMap(u, "status")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, st); err != nil {
		return nil, err
	}
	return st, nil
}

// virtualService waits for the split's VirtualService and returns its HTTP
// weights, "host=weight" sorted.
func (c *cluster) virtualService(ns, root string) string {
	c.t.Helper()
	vs := &unstructured.Unstructured{}
	vs.SetGroupVersionKind(istio.VirtualServiceGVK)
	harness.Eventually(c.t, timeout, func() error {
		return c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: istio.VirtualServiceName(root)}, vs)
	})
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	var parts []string
	for _, r := range routes {
		dests, _, _ := unstructured.NestedSlice(r.(map[string]any), "route")
		for _, d := range dests {
			host, _, _ := unstructured.NestedString(d.(map[string]any), "destination", "host")
			w, _, _ := unstructured.NestedInt64(d.(map[string]any), "weight")
			parts = append(parts, fmt.Sprintf("%s=%d", strings.Split(host, ".")[0], w))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// authorizationPolicy waits for the destination account's policy and
// returns it.
func (c *cluster) authorizationPolicy(ns, sa string) *unstructured.Unstructured {
	c.t.Helper()
	ap := &unstructured.Unstructured{}
	ap.SetGroupVersionKind(istio.AuthorizationPolicyGVK)
	harness.Eventually(c.t, timeout, func() error {
		return c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: istio.AuthorizationPolicyName(sa, 0)}, ap)
	})
	return ap
}

// migrationLogged: the storage migration said it migrated the CRD (its log
// lines are shown).
func (c *cluster) migrationLogged(crd string) {
	c.t.Helper()
	lines := c.env.Logs("storagemigration")
	lines = lines[min(c.earlier, len(lines)):]
	migrated := false
	for _, l := range lines {
		c.t.Log(l)
		migrated = migrated || strings.Contains(l, "storage migrated") && strings.Contains(l, crd)
	}
	if !migrated {
		c.t.Errorf("no 'storage migrated' log line for %s", crd)
	}
}
