// Package consul_test runs the Consul backend against a real kube-apiserver
// and a real Consul agent (consul agent -dev on loopback, built from source).
package consul_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/regexsize"
	"github.com/smi-adapter/smi-adapter/integration/conformance/envoyjudge"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

var (
	env   *harness.Env
	agent *harness.Consul
	// re2 is RE2 itself (Envoy's engine), one oracle process for the run:
	// envoyjudge asks it every safe_regex question, with the program size
	// limit of Consul's Envoy bootstrap.
	re2 *harness.RE2
)

func TestMain(m *testing.M) {
	var err error
	if re2, err = harness.StartRE2(); err != nil {
		fmt.Fprintln(os.Stderr, "consul:", err)
		os.Exit(1)
	}
	envoyjudge.UseRE2(re2, regexsize.ConsulProgramLimit)
	start := time.Now()
	agent, err = harness.StartConsul()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = re2.Stop()
		os.Exit(1)
	}
	fmt.Printf("consul: agent %s ready in %s\n", agent.Addr, time.Since(start).Round(time.Millisecond))
	env, err = harness.Start(harness.Options{NewBackend: consul.New, Settings: map[string]string{"address": agent.Addr, "resync": "1s"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		_ = env.Stop()
		_ = agent.Stop()
		_ = re2.Stop()
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil && code == 0 {
		code = 1
	}
	_ = agent.Stop()
	_ = re2.Stop()
	os.Exit(code)
}

func namespace(t *testing.T) string { return env.Namespace(t, "consul-") }

func create(t *testing.T, objs ...client.Object) { env.Create(t, objs...) }

func eventually(t *testing.T, cond func() error) { harness.Eventually(t, 30*time.Second, cond) }
