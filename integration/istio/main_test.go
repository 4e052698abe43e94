// Package istio_test runs the Istio backend against a real kube-apiserver
// with Istio's own CRDs installed (their schemas and CEL rules validate
// everything smi-adapter writes).
package istio_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	crds, err := harness.IstioCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env, err = harness.Start(harness.Options{NewBackend: istio.New, ExtraCRDPaths: []string{crds}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		_ = env.Stop()
		os.Exit(1)
	}
	fmt.Printf("envtest: control plane with smi-adapter and Istio CRDs started in %s\n", env.StartTime.Round(time.Millisecond))
	code := m.Run()
	if err := env.Stop(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

func namespace(t *testing.T) string { return env.Namespace(t, "istio-") }

func create(t *testing.T, objs ...client.Object) { env.Create(t, objs...) }

func eventually(t *testing.T, cond func() error) { harness.Eventually(t, 20*time.Second, cond) }
