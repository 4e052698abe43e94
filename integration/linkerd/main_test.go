// Package linkerd_test runs the Linkerd backend against a real kube-apiserver
// with Linkerd's own CRDs installed (their schemas validate
// everything smi-adapter writes).
package linkerd_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	crds, err := harness.LinkerdCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env, err = harness.Start(harness.Options{NewBackend: linkerd.New, ExtraCRDPaths: []string{crds}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		_ = env.Stop()
		os.Exit(1)
	}
	fmt.Printf("envtest: control plane with smi-adapter and Linkerd CRDs started in %s\n", env.StartTime.Round(time.Millisecond))
	code := m.Run()
	if err := env.Stop(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

var nsCounter atomic.Int32

func namespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("linkerd-%d-%s", nsCounter.Add(1), strings.ToLower(t.Name()))
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ns) })
	return name
}

func eventually(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not within 20s: %v", err)
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}
