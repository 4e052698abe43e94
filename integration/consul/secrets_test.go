package consul_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/testutil"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// TestACLTokenNeverLeaks: against a real agent with ACLs (default deny), a
// wrong token makes every write fail — and the token appears in no error
// (errors become the Programmed message and the Event) and in no log line,
// at any verbosity. The right token, from the same file setting, works.
func TestACLTokenNeverLeaks(t *testing.T) {
	const management = "6b4f0c3e-0000-4000-8000-management"
	acl, err := harness.StartConsulWith(`acl { enabled = true, default_policy = "deny", tokens { initial_management = "`+management+`" } }`, management)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = acl.Stop() }()

	mem := testutil.LoadMemory(t, "../../adapters/consul/testdata/split-matches.in.yaml")
	run := func(token string) (error, string) {
		file := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(file, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var logs bytes.Buffer
		log := funcr.New(func(prefix, args string) {
			mu.Lock()
			defer mu.Unlock()
			logs.WriteString(prefix + " " + args + "\n")
		}, funcr.Options{Verbosity: 10})
		be, err := consul.New(backend.Options{Settings: map[string]string{"address": acl.Addr, "token-file": file}, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		ctx := logf.IntoContext(context.Background(), log)
		var errs []string
		for _, k := range append(mem.Keys(), model.MeshKey) {
			slice, _ := normalize.Build(k, mem)
			if _, err := be.Sync(ctx, slice); err != nil {
				errs = append(errs, err.Error())
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(errs) == 0 {
			return nil, logs.String()
		}
		return &syncErrors{strings.Join(errs, "\n")}, logs.String() + strings.Join(errs, "\n")
	}

	const secret = "s3cr3t-0000-4000-8000-wrongtoken"
	err, text := run(secret)
	if err == nil {
		t.Fatal("a wrong token was accepted by an ACL agent with default deny")
	}
	if !strings.Contains(err.Error(), "403") && !strings.Contains(strings.ToLower(err.Error()), "acl") {
		t.Errorf("expected ACL denials, got %v", err)
	}
	if strings.Contains(text, secret) || strings.Contains(text, secret[:12]) {
		t.Errorf("the token leaked:\n%s", text)
	}
	if err, _ := run(management); err != nil {
		t.Errorf("the right token from token-file: %v", err)
	}
}

type syncErrors struct{ s string }

func (e *syncErrors) Error() string { return e.s }
