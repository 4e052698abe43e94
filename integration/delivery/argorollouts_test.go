// Argo Rollouts' own SMI traffic router (github.com/argoproj/argo-rollouts
// rollout/trafficrouting/smi) through a Rollout's canary: every setWeight and
// pause step, full promotion, and an abort, with the TrafficSplit written in
// each API version Argo Rollouts can be configured to write, on every backend.

package delivery_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/smi-adapter/smi-adapter/integration/harness"
)

// argoRollouts is one Rollout's SMI router in the driver process.
type argoRollouts struct {
	t *testing.T
	d *harness.Driver
}

func argoRolloutsDir(t *testing.T) string {
	t.Helper()
	dir, err := harness.ToolDir("SMI_ADAPTER_ARGO_ROLLOUTS", "argo-rollouts", harness.ArgoRolloutsVersion)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func startArgoRollouts(t *testing.T, env *harness.Env) *argoRollouts {
	t.Helper()
	return &argoRollouts{t: t, d: startDriver(t, env, filepath.Join(argoRolloutsDir(t), "argo-rollouts-driver"))}
}

// call runs one router call and returns the canary weight Argo Rollouts set.
func (a *argoRollouts) call(req map[string]any) int64 {
	a.t.Helper()
	var ans struct {
		Weight int64 `json:"weight"`
	}
	if err := a.d.Call(req, &ans); err != nil {
		a.t.Fatalf("Argo Rollouts %s: %v", req["op"], err)
	}
	return ans.Weight
}

// rollout is an argoproj.io/v1alpha1 Rollout as Argo Rollouts' SMI
// documentation writes it: a root Service in front of the stable and canary
// Services, and canary steps of setWeight and pause.
func rollout(ns, name string) map[string]any {
	labels := map[string]any{"app": name}
	return map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec": map[string]any{
			"replicas": 2,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": name, "image": "argoproj/rollouts-demo:blue",
					"ports": []any{map[string]any{"name": "http", "containerPort": 8080}},
				}}},
			},
			"strategy": map[string]any{"canary": map[string]any{
				"canaryService": name + "-canary",
				"stableService": name + "-stable",
				"trafficRouting": map[string]any{"smi": map[string]any{
					"rootService": name, "trafficSplitName": name + "-split",
				}},
				"steps": []any{
					map[string]any{"setWeight": 10},
					map[string]any{"pause": map[string]any{}},
					map[string]any{"setWeight": 50},
					map[string]any{"pause": map[string]any{"duration": "10s"}},
					map[string]any{"setWeight": 100},
				},
			}},
		},
	}
}

func rolloutService(ns, name, app string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
}

// TestArgoRolloutsVersion: the driver runs the Argo Rollouts the Makefile pins.
func TestArgoRolloutsVersion(t *testing.T) {
	out, err := exec.Command(filepath.Join(argoRolloutsDir(t), "argo-rollouts-driver"), "-version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "v"+harness.ArgoRolloutsVersion {
		t.Fatalf("driver built with Argo Rollouts %q, want v%s", got, harness.ArgoRolloutsVersion)
	}
}

// TestArgoRolloutsCanary: Argo Rollouts' SMI router, for every TrafficSplit
// version it writes (--traffic-split-api-version), on every backend: the
// weight of every canary step (pauses keep the last setWeight), full
// promotion (all traffic back on the stable Service, which then runs the new
// version), and, on a second Rollout, an abort half-way. The mesh follows
// every step, Programmed for the new generation.
func TestArgoRolloutsCanary(t *testing.T) {
	wantStep := []int64{10, 10, 50, 50, 100}
	for _, m := range meshes {
		t.Run(m.name, func(t *testing.T) {
			env, agent := startEnv(t, m, filepath.Join(argoRolloutsDir(t), "crd.yaml"))
			for _, version := range []string{"v1alpha1", "v1alpha2", "v1alpha3"} {
				t.Run(version, func(t *testing.T) {
					ns := env.Namespace(t, "argo-")
					for _, abort := range []bool{false, true} {
						// A name per Rollout: in Consul's free edition every
						// Kubernetes namespace shares one Consul namespace.
						name := "demo-" + version
						if abort {
							name += "-abort"
						}
						n := names{ns: ns, apex: name, primary: name + "-stable", canary: name + "-canary", split: name + "-split"}
						for _, svc := range []string{n.apex, n.primary, n.canary} {
							env.Create(t, rolloutService(ns, svc, name))
						}
						a := startArgoRollouts(t, env)
						ro := rollout(ns, name)
						a.call(map[string]any{"op": "initialize", "rollout": ro, "apiVersion": version})
						follow := func(w int64) {
							t.Helper()
							ts := followSplit(t, m, env, agent, n, map[string]int64{n.primary: 100 - w, n.canary: w})
							if got := writtenIn(ts); len(got) != 1 || got[0] != "split.smi-spec.io/"+version {
								t.Fatalf("Argo Rollouts wrote the TrafficSplit in %v, want %s", got, version)
							}
							if len(ts.OwnerReferences) != 1 || ts.OwnerReferences[0].Kind != "Rollout" || ts.OwnerReferences[0].Name != name {
								t.Fatalf("TrafficSplit owners %+v, want the Rollout", ts.OwnerReferences)
							}
						}
						for i, want := range wantStep {
							if abort && i > 2 {
								break
							}
							if got := a.call(map[string]any{"op": "step", "index": i}); got != want {
								t.Fatalf("step %d: Argo Rollouts set canary weight %d, want %d", i, got, want)
							}
							follow(want)
						}
						op := "promoted"
						if abort {
							op = "abort"
						}
						if got := a.call(map[string]any{"op": op}); got != 0 {
							t.Fatalf("%s: Argo Rollouts set canary weight %d, want 0", op, got)
						}
						follow(0)
					}
				})
			}
		})
	}
}
