package kube_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/diff"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

var chartBackends = []string{"istio", "linkerd", "consul"}

// backendOptions are two settings each backend knows, in the order of their
// keys (the chart's --backend-opt order).
var backendOptions = map[string][2]string{
	"istio":   {"cluster-domain=example.local", "default-access=deny"},
	"linkerd": {"cluster-domain=example.local", "splits=httproute"},
	"consul":  {"default-access=deny", "resync=1m"},
}

// TestHelmChart: the chart in deploy/helm installs on a real apiserver
// (helm install, Istio), and for every backend lints clean, is accepted by
// the apiserver (kubectl apply --dry-run=server) and with default values
// renders exactly the objects of `kubectl kustomize deploy/overlays/<backend>`. Non-default values change exactly what they
// name, and values the binary would refuse fail rendering.
func TestHelmChart(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	h := newHelm(t, filepath.Join(root, "deploy/helm/smi-adapter"))
	bare, err := harness.StartBare()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bare.Stop() }()
	kubectl := bare.ControlPlane.KubeCtl()

	// Installed for real first, the way docs/install.md says (the release in
	// the namespace the chart creates); the dry runs below then need no
	// namespace of their own.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := harness.WriteKubeconfig(bare.Config, kubeconfig); err != nil {
		t.Fatal(err)
	}
	if out, err := h.run("install", "smi-adapter", h.chart, "--kubeconfig", kubeconfig,
		"--namespace", "smi-adapter-system", "--create-namespace", "--set", "backend=istio"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out := kubectlRun(t, kubectl, "get", "-n", "smi-adapter-system", "deployment/smi-adapter",
		"-o", "jsonpath={.metadata.annotations.meta\\.helm\\.sh/release-name}"); out != "smi-adapter" {
		t.Errorf("the Deployment's release: %q, want smi-adapter", out)
	}
	kubectlRun(t, kubectl, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")

	dryRun := func(t *testing.T, manifest string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "chart.yaml")
		if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		if out := kubectlRun(t, kubectl, "apply", "-f", path, "--dry-run=server"); !strings.Contains(out, "deployment.apps/smi-adapter") {
			t.Errorf("dry run: %s", out)
		}
	}

	for _, b := range chartBackends {
		t.Run(b, func(t *testing.T) {
			h.lint(t, "--set", "backend="+b)
			got := h.template(t, "--set", "backend="+b)
			dryRun(t, got)
			want := kubectlRun(t, kubectl, "kustomize", filepath.Join(root, "deploy/overlays", b))
			compareObjects(t, decodeObjects(t, want), decodeObjects(t, got))
		})
	}

	// Every value the chart takes, changed: the overlay's objects with exactly
	// those changes.
	for _, b := range chartBackends {
		t.Run(b+"/values", func(t *testing.T) {
			set := []string{"--set", "backend=" + b, "--set", "replicas=3",
				"--set", "image.repository=registry.example.com/smi-adapter", "--set", "image.tag=v0.1.0", "--set", "image.pullPolicy=IfNotPresent",
				"--set", "prometheusURL=http://prometheus.monitoring:9090",
				"--set", "certMode=external", "--set", "externalCertSecret=smi-adapter-serving",
				"--set", "caInjectFrom=smi-adapter-system/smi-adapter-serving",
				"--set", "backendOptions." + backendOptions[b][0], "--set", "backendOptions." + backendOptions[b][1],
				"--set", "resources.requests.cpu=200m", "--set", "resources.limits.memory=1Gi",
				"--set", "consul.address=consul.example:8501", "--set", "consul.tokenSecret.name=consul-acl"}
			h.lint(t, set...)
			got := h.template(t, set...)
			dryRun(t, got)
			want := decodeObjects(t, kubectlRun(t, kubectl, "kustomize", filepath.Join(root, "deploy/overlays", b)))
			for _, o := range want {
				switch o.GetKind() {
				case "CustomResourceDefinition":
					if s, _, _ := unstructured.NestedString(o.Object, "spec", "conversion", "strategy"); s == "Webhook" {
						addAnnotation(o, "cert-manager.io/inject-ca-from", "smi-adapter-system/smi-adapter-serving")
					}
				case "APIService":
					addAnnotation(o, "cert-manager.io/inject-ca-from", "smi-adapter-system/smi-adapter-serving")
				case "Deployment":
					editDeployment(t, o, b)
				}
			}
			compareObjects(t, want, decodeObjects(t, got))
		})
	}

	// Refused: rendering fails and says why.
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"--set", "backend=nginx"}, `backend "nginx" is not known (known: istio, linkerd, consul)`},
		{nil, "backend is required: set backend to istio, linkerd or consul"},
		{[]string{"--set", "backend=istio", "--set", "certMode=cert-manager"}, `certMode "cert-manager" is neither self nor external`},
		{[]string{"--set", "backend=istio", "--set", "certMode=external"}, "certMode external needs externalCertSecret"},
	} {
		out, err := h.run(append([]string{"template", "smi-adapter", h.chart}, c.set...)...)
		if err == nil {
			t.Errorf("helm template %s: rendered, want the error %q", strings.Join(c.set, " "), c.want)
		} else if !strings.Contains(out, c.want) {
			t.Errorf("helm template %s: %v, want the error %q:\n%s", strings.Join(c.set, " "), err, c.want, out)
		}
	}
}

// editDeployment makes in an overlay's Deployment the changes TestHelmChart's
// non-default values ask for.
func editDeployment(t *testing.T, o *unstructured.Unstructured, backend string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("edit the overlay's Deployment: %v", err)
		}
	}
	must(unstructured.SetNestedField(o.Object, int64(3), "spec", "replicas"))
	containers, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	must(err)
	c := containers[0].(map[string]any)
	c["image"] = "registry.example.com/smi-adapter:v0.1.0"
	c["imagePullPolicy"] = "IfNotPresent"
	args := c["args"].([]any)
	for i, a := range args {
		switch {
		case a == "--cert-mode=self":
			args[i] = "--cert-mode=external"
		case strings.HasPrefix(a.(string), "--prometheus-url="):
			args[i] = "--prometheus-url=http://prometheus.monitoring:9090"
		}
	}
	c["args"] = append(args, "--backend-opt="+backendOptions[backend][0], "--backend-opt="+backendOptions[backend][1])
	c["resources"] = map[string]any{"requests": map[string]any{"cpu": "200m", "memory": "256Mi"}, "limits": map[string]any{"memory": "1Gi"}}
	mounts := append(c["volumeMounts"].([]any),
		map[string]any{"name": "serving-certs", "mountPath": "/tmp/k8s-webhook-server/serving-certs", "readOnly": true})
	volumes, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "volumes")
	must(err)
	volumes = append(volumes, map[string]any{"name": "serving-certs", "secret": map[string]any{"secretName": "smi-adapter-serving"}})
	if backend == "consul" {
		env := c["env"].([]any)
		for _, e := range env {
			if e := e.(map[string]any); e["name"] == "CONSUL_HTTP_ADDR" {
				e["value"] = "consul.example:8501"
			}
		}
		c["env"] = append(env, map[string]any{"name": "CONSUL_HTTP_TOKEN_FILE", "value": "/etc/smi-adapter/consul-token/token"})
		mounts = append(mounts, map[string]any{"name": "consul-token", "mountPath": "/etc/smi-adapter/consul-token", "readOnly": true})
		volumes = append(volumes, map[string]any{"name": "consul-token", "secret": map[string]any{"secretName": "consul-acl"}})
	}
	c["volumeMounts"] = mounts
	must(unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"))
	must(unstructured.SetNestedSlice(o.Object, volumes, "spec", "template", "spec", "volumes"))
}

func addAnnotation(o *unstructured.Unstructured, k, v string) {
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	o.SetAnnotations(a)
}

// helm runs the helm client on one chart, with its own empty configuration
// and cache (no repositories, no plugins).
type helm struct {
	bin, chart string
	env        []string
}

func newHelm(t *testing.T, chart string) *helm {
	t.Helper()
	bin, err := harness.HelmBinary()
	if err != nil {
		t.Fatal(err) // never a skip: `make tools` builds it
	}
	home := t.TempDir()
	return &helm{bin: bin, chart: chart, env: append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))}
}

// run returns helm's combined output.
func (h *helm) run(args ...string) (string, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %w", args[0], err)
	}
	return out.String(), nil
}

// template renders the chart (stdout only: the manifests).
func (h *helm) template(t *testing.T, set ...string) string {
	t.Helper()
	cmd := exec.Command(h.bin, append([]string{"template", "smi-adapter", h.chart}, set...)...)
	cmd.Env = h.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template %s: %v\n%s", strings.Join(set, " "), err, stderr.String())
	}
	return stdout.String()
}

// lint fails the test on any finding, even informational.
func (h *helm) lint(t *testing.T, set ...string) {
	t.Helper()
	out, err := h.run(append([]string{"lint", h.chart}, set...)...)
	if err != nil || strings.Contains(out, "[INFO]") || strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERROR]") {
		t.Errorf("helm lint %s: %v\n%s", strings.Join(set, " "), err, out)
	}
}

// kubectlRun runs kubectl and returns its output; a failure fails the test.
func kubectlRun(t *testing.T, kubectl interface {
	Run(...string) (io.Reader, io.Reader, error)
}, args ...string) string {
	t.Helper()
	stdout, stderr, err := kubectl.Run(args...)
	out, _ := readAll(stdout)
	if err != nil {
		e, _ := readAll(stderr)
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, e)
	}
	return out
}

// decodeObjects reads a multi-document manifest into objects keyed by
// apiVersion/kind/namespace/name; a key seen twice fails the test.
func decodeObjects(t *testing.T, manifest string) map[string]*unstructured.Unstructured {
	t.Helper()
	objs := map[string]*unstructured.Unstructured{}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decode manifest: %v", err)
		}
		if len(m) == 0 {
			continue // an empty document
		}
		o := &unstructured.Unstructured{Object: m}
		k := strings.Join([]string{o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName()}, "/")
		if _, dup := objs[k]; dup {
			t.Fatalf("%s appears twice", k)
		}
		objs[k] = o
	}
}

// compareObjects reports every object only one side has, and a diff of each
// object the two sides disagree on (- want, + got).
func compareObjects(t *testing.T, want, got map[string]*unstructured.Unstructured) {
	t.Helper()
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		w, g := want[k], got[k]
		switch {
		case g == nil:
			t.Errorf("%s: in kustomize's output, not in the chart's", k)
		case w == nil:
			t.Errorf("%s: in the chart's output, not in kustomize's", k)
		default:
			if d := diff.Diff(w.Object, g.Object); d != "" {
				t.Errorf("%s differs (- kustomize, + chart):\n%s", k, d)
			}
		}
	}
	if len(want) == 0 {
		t.Error("no objects")
	}
}
