// Package metrics_test runs the Traffic Metrics API end to end: a real
// kube-apiserver with its aggregation layer in front of smi-adapter's
// metrics API server, which asks a real Prometheus loaded with fixed data in
// each mesh's own series.
package metrics_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	var err error
	env, err = harness.Start(harness.Options{Aggregator: true})
	if err == nil {
		err = fixtures(context.Background(), env.Client)
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "metrics integration:", err)
	} else {
		code = m.Run()
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
	}
	os.Exit(code)
}

func pod(e endpoint, node string, l map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: e.pod, Labels: l},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
}

func deployment(e endpoint, l map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: e.deployment, Labels: l},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}}}
}

func service(e endpoint, sel map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: e.service},
		Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}
}

// fixtures: the Kubernetes objects behind the flows. shop runs frontend,
// web-v1 and web-v2 on node-a; tools runs loadgen on node-b. A ReplicaSet
// (no mesh names replica sets: it aggregates its pod) and a TrafficSplit web
// (90/10) complete it.
func fixtures(ctx context.Context, c client.Client) error {
	lf := map[string]string{"app": "frontend"}
	l1 := map[string]string{"app": "web", "version": "v1"}
	l2 := map[string]string{"app": "web", "version": "v2"}
	lg := map[string]string{"app": "loadgen"}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tools"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smi-adapter-system"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}},
		pod(frontend, "node-a", lf), pod(webV1, "node-a", l1), pod(webV2, "node-a", l2), pod(loadgen, "node-b", lg),
		deployment(frontend, lf), deployment(webV1, l1), deployment(webV2, l2), deployment(loadgen, lg),
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-v1-7c9d5"},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: l1},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l1}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}}},
		service(frontend, lf), service(webV1, l1), service(webV2, l2),
		service(endpoint{ns: "shop", service: "web"}, map[string]string{"app": "web"}),
		&splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v1", Weight: 90}, {Service: "web-v2", Weight: 10}}}},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}
