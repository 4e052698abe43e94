// Package consul_test runs the Consul backend against a real kube-apiserver
// and a real Consul agent (consul agent -dev on loopback, built from source).
package consul_test

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

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

var (
	env   *harness.Env
	agent *harness.Consul
)

func TestMain(m *testing.M) {
	var err error
	start := time.Now()
	agent, err = harness.StartConsul()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("consul: agent %s ready in %s\n", agent.Addr, time.Since(start).Round(time.Millisecond))
	env, err = harness.Start(harness.Options{NewBackend: consul.New, Settings: map[string]string{"address": agent.Addr, "resync": "1s"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		_ = env.Stop()
		_ = agent.Stop()
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil && code == 0 {
		code = 1
	}
	_ = agent.Stop()
	os.Exit(code)
}

var nsCounter atomic.Int32

func namespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("consul-%d-%s", nsCounter.Add(1), strings.ToLower(t.Name()))
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
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not within 30s: %v", err)
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}
