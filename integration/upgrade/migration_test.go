package upgrade_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestMigrationWritesOnlyOldObjects: with no controller (so no status
// writes of its own), the storage migration alone rewrites the objects
// etcd holds in an older version, leaves the bytes of one already stored
// in the hub as they are (the apiserver skips a write that changes
// nothing), and trims storedVersions.
func TestMigrationWritesOnlyOldObjects(t *testing.T) {
	c := startWith(t, harness.Options{})
	c.kubectl("apply", "-f", upstream(t, "linkerd-smi/trafficsplit-crd.yaml"))
	c.established()
	c.apply("old", linkerdSMIObjects)
	c.applyCRDs()
	// Written once smi-adapter's CRD is applied: stored in the hub (which
	// needs no webhook).
	c.apply("new", `
apiVersion: v1
kind: Namespace
metadata: {name: fresh}
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: fresh, namespace: fresh}
spec: {service: web, backends: [{service: web-v1, weight: 1}]}
`)
	before := c.stored()
	if v := before["trafficsplits.split.smi-spec.io fresh/fresh"].gvk.Version; v != "v1alpha4" {
		t.Fatalf("the split written after the CRD apply is stored as %q", v)
	}
	c.startSMIAdapter()
	after := c.migrated()
	for key, o := range before {
		same := bytes.Equal(o.raw, after[key].raw)
		switch {
		case o.gvk.Version == "v1alpha4" && !same:
			t.Errorf("%s was stored in the hub already, and was written again", key)
		case o.gvk.Version != "v1alpha4" && same:
			t.Errorf("%s still holds what it held", key)
		}
	}
	c.migrationLogged("trafficsplits.split.smi-spec.io")
	c.readsBack(before)
}

// TestUnconvertibleObjectIsRecovered: linkerd-smi accepted a negative
// v1alpha1 weight, which smi-adapter's webhook refuses to convert. The
// apiserver converts a list as a whole and converts the stored object
// before an update or a delete, so the kind cannot be listed (the
// migration retries, naming the object) and the object can be neither
// fixed nor deleted. The recovery of docs/migrating.md: stop smi-adapter,
// turn conversion off, delete the object, re-apply smi-adapter's CRDs,
// start smi-adapter; the migration then completes.
func TestUnconvertibleObjectIsRecovered(t *testing.T) {
	c := startWith(t, harness.Options{})
	c.kubectl("apply", "-f", upstream(t, "linkerd-smi/trafficsplit-crd.yaml"))
	c.established()
	c.apply("old", `
apiVersion: v1
kind: Namespace
metadata: {name: neg}
---
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: neg, namespace: neg}
spec: {service: web, backends: [{service: web-v1, weight: "-500m"}, {service: web-v2, weight: "1"}]}
---
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: good, namespace: neg}
spec: {service: api, backends: [{service: api-v1, weight: "1"}, {service: api-v2, weight: 500m}]}
`)
	c.applyCRDs()
	c.startSMIAdapter()
	harness.Eventually(t, timeout, func() error {
		for _, l := range c.env.Logs("storage migration incomplete") {
			if strings.Contains(l, "/registry/split.smi-spec.io/trafficsplits/neg/neg") && strings.Contains(l, "negative") {
				return nil
			}
		}
		return errors.New("no log line naming the unconvertible object")
	})
	if got := c.storedVersions()["trafficsplits.split.smi-spec.io"]; !slices.Equal(got, []string{"v1alpha1", "v1alpha4"}) {
		t.Fatalf("storedVersions %v while objects are stored as v1alpha1", got)
	}
	if _, stderr, err := c.env.Env.ControlPlane.KubeCtl().Run("delete", "trafficsplits.v1alpha1.split.smi-spec.io", "-n", "neg", "neg"); err == nil {
		t.Fatal("the unconvertible object was deleted with conversion on; docs/migrating.md says it cannot be")
	} else if msg, _ := readAll(stderr); !strings.Contains(msg, "is negative") {
		t.Fatalf("delete: %v %s", err, msg)
	}

	// The recovery.
	if err := c.env.StopManager(); err != nil {
		t.Fatal(err)
	}
	c.kubectl("patch", "crd", "trafficsplits.split.smi-spec.io", "--type=merge", "-p", `{"spec":{"conversion":{"strategy":"None","webhook":null}}}`)
	c.kubectl("delete", "trafficsplits.v1alpha1.split.smi-spec.io", "-n", "neg", "neg")
	// The user re-applies deploy/base/crds.yaml; here only the CRD patched
	// above (the others point at the test's webhook by URL, which a re-apply
	// naming the Service would clash with), and its conversion is pointed at
	// the test's webhook again (smi-adapter injects its CA at start).
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c.kubectl("apply", "-f", filepath.Join(root, "crds", "split.smi-spec.io_trafficsplits.yaml"))
	if err := c.env.ServeConversion(context.Background(), "trafficsplits.split.smi-spec.io"); err != nil {
		t.Fatal(err)
	}
	c.startSMIAdapter()
	after := c.migrated()
	if len(after) != 1 {
		t.Errorf("etcd holds %v, want the good split only", versions(after))
	}
	c.migrationLogged("trafficsplits.split.smi-spec.io")
}
