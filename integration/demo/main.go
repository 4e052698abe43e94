// Command demo shows smi-adapter end to end on this machine: it starts a
// local control plane (the kube-apiserver and etcd the tests use) with the
// mesh's CRDs (or a local Consul agent), runs the adapter, applies an example
// application's SMI objects — an access policy, a route group, a canary
// split — and prints, step by step, the native resources and the SMI status
// conditions as they converge; then it shifts the canary and shows the change.
// It cleans up after itself.
//
//	go run ./integration/demo --backend istio|linkerd|consul
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/adapters/istio"
	"github.com/smi-adapter/smi-adapter/adapters/kubesink"
	"github.com/smi-adapter/smi-adapter/adapters/linkerd"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha2 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha2"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/integration/harness"
)

const ns = "demo"

func main() {
	mesh := flag.String("backend", "istio", "mesh: istio, linkerd or consul")
	flag.Parse()
	if err := run(*mesh); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m==> %s\033[0m\n", fmt.Sprintf(format, args...))
}

func run(mesh string) error {
	var (
		newBackend backend.Constructor
		kinds      []schema.GroupVersionKind
		crds       []string
		settings   = map[string]string{}
		agent      *harness.Consul
	)
	switch mesh {
	case "istio":
		p, err := harness.IstioCRDs()
		if err != nil {
			return err
		}
		newBackend, crds, kinds = istio.New, []string{p}, []schema.GroupVersionKind{istio.VirtualServiceGVK, istio.AuthorizationPolicyGVK}
	case "linkerd":
		p, err := harness.LinkerdCRDs()
		if err != nil {
			return err
		}
		newBackend, crds = linkerd.New, []string{p}
		kinds = []schema.GroupVersionKind{linkerd.ServiceProfileGVK, linkerd.ServerGVK, linkerd.MeshTLSAuthenticationGVK, linkerd.NetworkAuthenticationGVK, linkerd.AuthorizationPolicyGVK, linkerd.HTTPRouteGVK}
	case "consul":
		step("starting a local Consul agent")
		var err error
		if agent, err = harness.StartConsul(); err != nil {
			return err
		}
		defer agent.Stop()
		fmt.Println("consul agent on", agent.Addr)
		newBackend, settings = consul.New, map[string]string{"address": agent.Addr, "resync": "2s"}
	default:
		return fmt.Errorf("unknown backend %q (istio, linkerd, consul)", mesh)
	}

	step("starting a local control plane (kube-apiserver %s + etcd %s) with the SMI CRDs and the %s backend", harness.KubeVersion, harness.EtcdVersion, mesh)
	env, err := harness.Start(harness.Options{NewBackend: newBackend, Settings: settings, ExtraCRDPaths: crds})
	if err != nil {
		_ = env.Stop()
		return err
	}
	defer func() {
		step("cleaning up")
		_ = env.Stop()
	}()
	fmt.Printf("ready in %s\n", env.StartTime.Round(time.Millisecond))
	ctx := context.Background()
	c := env.Client

	step("applying the example application: Services, pods, and its SMI objects")
	objs := example()
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
		fmt.Printf("created %s %s\n", kindName(o), o.GetName())
	}

	step("waiting for the SMI objects to converge")
	tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"}}
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
	if err := waitProgrammed(ctx, c, tt, ts); err != nil {
		return err
	}
	printConditions(ctx, c, tt, ts)
	step("native resources smi-adapter wrote")
	printNative(ctx, c, kinds, agent)

	step("shifting the canary from 90/10 to 50/50 (as Flagger does, in v1alpha2)")
	split := &splitv1alpha2.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
	if err := env.Update(ctx, split, func() { split.Spec.Backends[0].Weight, split.Spec.Backends[1].Weight = 50, 50 }); err != nil {
		return err
	}
	time.Sleep(time.Second)
	if err := waitProgrammed(ctx, c, ts); err != nil {
		return err
	}
	if mesh == "consul" {
		time.Sleep(2 * time.Second)
	}
	printConditions(ctx, c, ts)
	step("native resources after the shift")
	printNative(ctx, c, kinds, agent)
	return nil
}

func kindName(o client.Object) string {
	s := fmt.Sprintf("%T", o)
	return s[strings.LastIndex(s, ".")+1:]
}

func example() []client.Object {
	svc := func(name, app string) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		if app != "" {
			s.Spec.Selector = map[string]string{"app": app}
		}
		return s
	}
	pod := func(name, sa, app string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{ServiceAccountName: sa, AutomountServiceAccountToken: new(false), Containers: []corev1.Container{{
				Name: "app", Image: "example/app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}},
			}}}}
	}
	return []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}},
		svc("api", "api"), svc("web", ""), svc("web-v1", "web-v1"), svc("web-v2", "web-v2"),
		pod("api-0", "api", "api"), pod("web-v1-0", "web", "web-v1"), pod("web-v2-0", "web", "web-v2"),
		&specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-routes"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{
				{Name: "read", PathRegex: "/api/items", Methods: []string{"GET"}},
				{Name: "metrics", PathRegex: "/metrics", Methods: []string{"GET"}},
			}}},
		&accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
			Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "HTTPRouteGroup", Name: "api-routes", Matches: []string{"read"}}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "web"}},
			}},
		&splitv1alpha2.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: splitv1alpha2.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha2.TrafficSplitBackend{
				{Service: "web-v1", Weight: 90}, {Service: "web-v2", Weight: 10}}}},
	}
}

func conditionsOf(o client.Object) []metav1.Condition {
	switch v := o.(type) {
	case *accessv1alpha3.TrafficTarget:
		return v.Status.Conditions
	case *splitv1alpha4.TrafficSplit:
		return v.Status.Conditions
	}
	return nil
}

func waitProgrammed(ctx context.Context, c client.Client, objs ...client.Object) error {
	deadline := time.Now().Add(60 * time.Second)
	for _, o := range objs {
		for {
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return err
			}
			p := meta.FindStatusCondition(conditionsOf(o), common.ConditionProgrammed)
			if p != nil && p.ObservedGeneration == o.GetGeneration() {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s %s did not converge", kindName(o), o.GetName())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

func printConditions(ctx context.Context, c client.Client, objs ...client.Object) {
	for _, o := range objs {
		_ = c.Get(ctx, client.ObjectKeyFromObject(o), o)
		for _, cond := range conditionsOf(o) {
			fmt.Printf("%-14s %-8s %-10s=%-5s %-12s %s\n", kindName(o), o.GetName(), cond.Type, cond.Status, cond.Reason, cond.Message)
		}
	}
}

func printNative(ctx context.Context, c client.Client, kinds []schema.GroupVersionKind, agent *harness.Consul) {
	if agent != nil {
		var lines []string
		for _, kind := range consul.Kinds {
			list, _, err := agent.Client.ConfigEntries().List(kind, nil)
			if err != nil {
				fmt.Println("list", kind, err)
				continue
			}
			for _, e := range list {
				b, _ := json.Marshal(consul.Clean(e))
				y, _ := yaml.JSONToYAML(b)
				lines = append(lines, "---\n"+string(y))
			}
		}
		fmt.Print(strings.Join(lines, ""))
		if out, _, err := agent.Client.DiscoveryChain().Get("web", nil, nil); err == nil {
			for _, n := range out.Chain.Nodes {
				if n.Type == "splitter" {
					for _, s := range n.Splits {
						fmt.Printf("discovery chain of web: %.2f%% -> %s\n", s.Weight, out.Chain.Targets[out.Chain.Nodes[s.NextNode].Resolver.Target].Service)
					}
				}
			}
		}
		return
	}
	for _, gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{kubesink.LabelManagedBy: kubesink.ManagedBy}); err != nil {
			fmt.Println("list", gvk.Kind, err)
			continue
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].GetName() < list.Items[j].GetName() })
		for _, item := range list.Items {
			unstructured.RemoveNestedField(item.Object, "metadata", "managedFields")
			for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp"} {
				unstructured.RemoveNestedField(item.Object, "metadata", f)
			}
			unstructured.RemoveNestedField(item.Object, "status")
			y, _ := yaml.Marshal(item.Object)
			fmt.Printf("---\n%s", y)
		}
	}
}
