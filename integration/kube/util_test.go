package kube_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smi-adapter/smi-adapter/integration/harness"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func readAll(r interface{ Read([]byte) (int, error) }) (string, error) {
	if r == nil {
		return "", nil
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), nil
		}
	}
}

func namespace(t *testing.T) string { return env.Namespace(t, "t") }

func create(t *testing.T, objs ...client.Object) { env.Create(t, objs...) }

func eventually(t *testing.T, timeout time.Duration, cond func() error) {
	harness.Eventually(t, timeout, cond)
}
