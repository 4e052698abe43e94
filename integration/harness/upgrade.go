package harness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/smi-adapter/smi-adapter/core/controller"
)

// StartControlPlane starts etcd and kube-apiserver with only
// o.ExtraCRDPaths installed (a mesh's CRDs, say) and no manager: a cluster
// as it is before smi-adapter, for tests that install what a user had, then
// smi-adapter's CRDs (kubectl apply), then start smi-adapter (StartManager
// runs it with o's backend). Always call Stop, also when this fails.
func StartControlPlane(o Options) (*Env, error) {
	setLoggerOnce.Do(func() { logf.SetLogger(ringLogger()) })
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	scheme, err := controller.NewScheme()
	if err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	e := &Env{Scheme: scheme, opts: o}
	e.Env = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: o.ExtraCRDPaths, ErrorIfPathMissing: true, Scheme: scheme},
		ErrorIfCRDPathMissing: true,
	}
	start := time.Now()
	cfg, err := e.Env.Start()
	if err != nil {
		return e, fmt.Errorf("start control plane: %w", err)
	}
	e.StartTime = time.Since(start)
	e.Config = cfg
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return e, err
	}
	return e, nil
}

// SharedDir is the shared folder beside the repository (../shared), where
// upstream material kept for tests lives (see LinkerdCRDs). A missing folder
// is an error.
func SharedDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(filepath.Dir(root), "shared")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("shared folder not found beside the repository at %s: %w", dir, err)
	}
	return dir, nil
}

// ServeConversion points the named CRDs' conversion webhook at the webhook
// server of the manager StartManager runs, with the test CA: what the
// webhook Service and smi-adapter's injected CA do in a cluster, where
// kubectl apply of crds/ names the Service.
func (e *Env) ServeConversion(ctx context.Context, crds ...string) error {
	wh := e.Env.WebhookInstallOptions
	url := "https://" + net.JoinHostPort(wh.LocalServingHost, strconv.Itoa(wh.LocalServingPort)) + "/convert"
	for _, name := range crds {
		patch, err := json.Marshal(map[string]any{"spec": map[string]any{"conversion": map[string]any{
			"strategy": "Webhook",
			"webhook": map[string]any{
				"conversionReviewVersions": []string{"v1"},
				// service: null drops the Service reference kubectl applied.
				"clientConfig": map[string]any{"service": nil, "url": url, "caBundle": wh.LocalServingCAData},
			},
		}}})
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		crd.Name = name
		if err := e.Client.Patch(ctx, crd, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("point %s's conversion at the test webhook: %w", name, err)
		}
	}
	return nil
}

// EtcdGet returns the raw values etcd holds under a key prefix (e.g.
// /registry/split.smi-spec.io/trafficsplits/), by key: what kube-apiserver
// stored, in the version it stored it. It asks etcd's JSON gateway
// (/v3/kv/range on the client URL), so no etcd client library is needed.
func (e *Env) EtcdGet(ctx context.Context, prefix string) (map[string][]byte, error) {
	if e.Env == nil || e.Env.ControlPlane.Etcd == nil || e.Env.ControlPlane.Etcd.URL == nil {
		return nil, fmt.Errorf("no etcd URL")
	}
	end := []byte(prefix)
	end[len(end)-1]++ // the range [prefix, prefix+1) is every key with the prefix
	body, err := json.Marshal(map[string]string{
		"key":       base64.StdEncoding.EncodeToString([]byte(prefix)),
		"range_end": base64.StdEncoding.EncodeToString(end),
	})
	if err != nil {
		return nil, err
	}
	u := *e.Env.ControlPlane.Etcd.URL
	u.Path = "/v3/kv/range"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("etcd range %s: %w", prefix, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("etcd range %s: %w", prefix, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("etcd range %s: %s: %s", prefix, resp.Status, raw)
	}
	var out struct {
		KVs []struct {
			Key   []byte `json:"key"` // base64 in the JSON: []byte decodes it
			Value []byte `json:"value"`
		} `json:"kvs"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("etcd range %s: %w", prefix, err)
	}
	kvs := map[string][]byte{}
	for _, kv := range out.KVs {
		kvs[string(kv.Key)] = kv.Value
	}
	return kvs, nil
}
