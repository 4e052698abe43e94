package consul_test

import (
	"context"
	"fmt"
	"testing"

	capi "github.com/hashicorp/consul/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

func svc(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}
}

// chainSplits reads Consul's compiled discovery chain of a service and
// returns the splitter's weights by service.
func chainSplits(name string) (map[string]float32, error) {
	out, _, err := agent.Client.DiscoveryChain().Get(name, nil, nil)
	if err != nil {
		return nil, err
	}
	got := map[string]float32{}
	for _, n := range out.Chain.Nodes {
		if n.Type != "splitter" {
			continue
		}
		for _, s := range n.Splits {
			target := out.Chain.Targets[out.Chain.Nodes[s.NextNode].Resolver.Target]
			got[target.Service] += s.Weight
		}
	}
	return got, nil
}

// TestSplitInDiscoveryChain: a split becomes a service-splitter (after the
// service-defaults it needs) that Consul compiles into the service's
// discovery chain with weights summing to 100; steps follow; deletion
// removes splitter and defaults, in that order.
func TestSplitInDiscoveryChain(t *testing.T) {
	ns := namespace(t)
	create(t, svc(ns, "web"), svc(ns, "web-v1"), svc(ns, "web-v2"))
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: "web", Backends: []splitv1alpha4.TrafficSplitBackend{{Service: "web-v1", Weight: 2}, {Service: "web-v2", Weight: 1}}}}
	create(t, ts)
	eventually(t, func() error {
		got, err := chainSplits("web")
		if err != nil {
			return err
		}
		if got["web-v1"] != 66.67 || got["web-v2"] != 33.33 {
			return fmt.Errorf("chain splits %v", got)
		}
		return nil
	})
	eventually(t, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ts), ts); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("programmed %+v", c)
		}
		return nil
	})
	if err := env.Update(context.Background(), ts, func() { ts.Spec.Backends[0].Weight = 1 }); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		got, err := chainSplits("web")
		if err != nil {
			return err
		}
		if got["web-v1"] != 50 || got["web-v2"] != 50 {
			return fmt.Errorf("chain splits %v", got)
		}
		return nil
	})
	if err := env.Client.Delete(context.Background(), ts); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if e, _, err := agent.Client.ConfigEntries().Get(capi.ServiceSplitter, "web", nil); err == nil {
			return fmt.Errorf("splitter still there: %v", e.GetMeta())
		}
		if _, _, err := agent.Client.ConfigEntries().Get(capi.ServiceDefaults, "web", nil); err == nil {
			return fmt.Errorf("service-defaults still there")
		}
		return nil
	})
}

// TestIntentionsAndDrift: a TrafficTarget becomes the destination's
// service-intentions (listed sources, "*" deny); Consul's own check agrees
// on the L4 decision; someone's edit is repaired on the next resync.
func TestIntentionsAndDrift(t *testing.T) {
	ns := namespace(t)
	create(t, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tcp"}},
		&accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
			Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "db-" + ns},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "app"}},
			}})
	dest := "db-" + ns
	check := func(src string) (bool, error) {
		ok, _, err := agent.Client.Connect().IntentionCheck(&capi.IntentionCheck{Source: src, Destination: dest}, nil)
		return ok, err
	}
	eventually(t, func() error {
		ok, err := check("app")
		if err != nil || !ok {
			return fmt.Errorf("app -> %s: %v %v", dest, ok, err)
		}
		if ok, _ := check("intruder"); ok {
			return fmt.Errorf("intruder allowed")
		}
		return nil
	})
	// Drift: allow the intruder by hand; smi-adapter restores its entry.
	e, _, err := agent.Client.ConfigEntries().Get(capi.ServiceIntentions, dest, nil)
	if err != nil {
		t.Fatal(err)
	}
	si := e.(*capi.ServiceIntentionsConfigEntry)
	si.Sources = append([]*capi.SourceIntention{{Name: "intruder", Action: capi.IntentionActionAllow}}, si.Sources...)
	if _, _, err := agent.Client.ConfigEntries().Set(si, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if ok, _ := check("intruder"); ok {
			return fmt.Errorf("drift not repaired yet")
		}
		return nil
	})
}

// TestForeignEntryIsNotTouched: a service-splitter without our Meta is
// reported as Conflict on the TrafficSplit and left as it is.
func TestForeignEntryIsNotTouched(t *testing.T) {
	ns := namespace(t)
	root := "shop-" + ns
	create(t, svc(ns, root), svc(ns, root+"-v1"))
	if _, _, err := agent.Client.ConfigEntries().Set(&capi.ServiceConfigEntry{Kind: capi.ServiceDefaults, Name: root, Protocol: "http"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := agent.Client.ConfigEntries().Set(&capi.ServiceConfigEntry{Kind: capi.ServiceDefaults, Name: "other", Protocol: "http"}, nil); err != nil {
		t.Fatal(err)
	}
	foreign := &capi.ServiceSplitterConfigEntry{Kind: capi.ServiceSplitter, Name: root, Splits: []capi.ServiceSplit{{Weight: 100, Service: "other"}}}
	if _, _, err := agent.Client.ConfigEntries().Set(foreign, nil); err != nil {
		t.Fatal(err)
	}
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: root},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: root, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: root + "-v1", Weight: 1}}}}
	create(t, ts)
	eventually(t, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ts), ts); err != nil {
			return err
		}
		c := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != consul.ReasonConflict {
			return fmt.Errorf("programmed %+v", c)
		}
		return nil
	})
	e, _, err := agent.Client.ConfigEntries().Get(capi.ServiceSplitter, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := e.(*capi.ServiceSplitterConfigEntry); len(s.Splits) != 1 || s.Splits[0].Service != "other" || s.Meta[consul.MetaManagedBy] != "" {
		t.Fatalf("foreign splitter changed: %+v", s)
	}
}

// TestMatchesBecomeRouterThenSplitter: with matches, Consul's chain starts
// with a router whose matching route goes to the split, the rest to the root.
func TestMatchesBecomeRouterThenSplitter(t *testing.T) {
	ns := namespace(t)
	root := "ab-" + ns
	create(t, svc(ns, root), svc(ns, root+"-v1"), svc(ns, root+"-v2"),
		&specsv1alpha4.HTTPRouteGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "beta"},
			Spec: specsv1alpha4.HTTPRouteGroupSpec{Matches: []specsv1alpha4.HTTPMatch{{Name: "b", PathRegex: "/beta", Methods: []string{"GET"}}}}},
		&splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: root},
			Spec: splitv1alpha4.TrafficSplitSpec{Service: root, Matches: []splitv1alpha4.TrafficSplitMatch{{Kind: "HTTPRouteGroup", Name: "beta"}},
				Backends: []splitv1alpha4.TrafficSplitBackend{{Service: root + "-v1", Weight: 1}, {Service: root + "-v2", Weight: 3}}}})
	eventually(t, func() error {
		out, _, err := agent.Client.DiscoveryChain().Get(root, nil, nil)
		if err != nil {
			return err
		}
		start := out.Chain.Nodes[out.Chain.StartNode]
		if start == nil || start.Type != "router" || len(start.Routes) != 2 {
			return fmt.Errorf("start node %+v", start)
		}
		m := start.Routes[0].Definition.Match.HTTP
		if m.PathRegex != "^(?:/beta).*$" || len(m.Methods) != 1 {
			return fmt.Errorf("first route %+v", m)
		}
		next := out.Chain.Nodes[start.Routes[0].NextNode]
		if next.Type != "splitter" || len(next.Splits) != 2 {
			return fmt.Errorf("matched requests go to %+v", next)
		}
		if last := out.Chain.Nodes[start.Routes[1].NextNode]; last.Type != "resolver" || out.Chain.Targets[last.Resolver.Target].Service != root {
			return fmt.Errorf("the rest goes to %+v", last)
		}
		return nil
	})
}

// TestAgentRestart: a restarted -dev agent has forgotten every entry; the
// resync writes them again (nothing else to do, nothing lost on our side).
func TestAgentRestart(t *testing.T) {
	ns := namespace(t)
	root := "rs-" + ns
	create(t, svc(ns, root), svc(ns, root+"-v1"),
		&splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: root},
			Spec: splitv1alpha4.TrafficSplitSpec{Service: root, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: root + "-v1", Weight: 1}}}})
	present := func() error {
		_, _, err := agent.Client.ConfigEntries().Get(capi.ServiceSplitter, root, nil)
		return err
	}
	eventually(t, present)
	if err := agent.Restart(); err != nil {
		t.Fatal(err)
	}
	if present() == nil {
		t.Fatal("a restarted -dev agent should start empty")
	}
	eventually(t, present)
}

// TestNameCollisionAcrossNamespaces: ns-a/pay and ns-b/pay are one Consul
// service. Both TrafficTargets say so (NameCollision); the entry keeps one
// owner and is never overwritten by the other; when the owner's
// TrafficTarget goes, the other takes the entry over.
func TestNameCollisionAcrossNamespaces(t *testing.T) {
	a, b := namespace(t), namespace(t)
	tt := func(ns, src string) *accessv1alpha3.TrafficTarget {
		return &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pay"},
			Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "pay"},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: src}},
			}}
	}
	create(t, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: a, Name: "tcp"}},
		&specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: b, Name: "tcp"}})
	ta := tt(a, "from-a")
	create(t, ta)
	owner := func() string {
		e, _, err := agent.Client.ConfigEntries().Get(capi.ServiceIntentions, "pay", nil)
		if err != nil {
			return ""
		}
		return e.GetMeta()[consul.MetaKey]
	}
	eventually(t, func() error {
		if owner() != "Access/"+a+"/pay" {
			return fmt.Errorf("owner %q", owner())
		}
		return nil
	})
	tb := tt(b, "from-b")
	create(t, tb)
	for _, obj := range []*accessv1alpha3.TrafficTarget{ta, tb} {
		eventually(t, func() error {
			if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
			c := meta.FindStatusCondition(obj.Status.Conditions, common.ConditionProgrammed)
			if c == nil || c.Reason != consul.ReasonCollision {
				return fmt.Errorf("%s: programmed %+v", obj.Namespace, c)
			}
			return nil
		})
	}
	if owner() != "Access/"+a+"/pay" {
		t.Fatalf("the entry changed hands during a collision: %q", owner())
	}
	if err := env.Client.Delete(context.Background(), ta); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if owner() != "Access/"+b+"/pay" {
			return fmt.Errorf("owner %q", owner())
		}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(tb), tb); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(tb.Status.Conditions, common.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("programmed %+v", c)
		}
		return nil
	})
}

// TestAgentUnreachable: while Consul is down the split is Programmed=False
// with the reason, and retried; when it is back, the entries converge.
func TestAgentUnreachable(t *testing.T) {
	ns := namespace(t)
	root := "down-" + ns
	create(t, svc(ns, root), svc(ns, root+"-v1"))
	if err := agent.Stop(); err != nil {
		t.Fatal(err)
	}
	ts := &splitv1alpha4.TrafficSplit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: root},
		Spec: splitv1alpha4.TrafficSplitSpec{Service: root, Backends: []splitv1alpha4.TrafficSplitBackend{{Service: root + "-v1", Weight: 1}}}}
	create(t, ts)
	eventually(t, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ts), ts); err != nil {
			return err
		}
		c := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "BackendError" {
			return fmt.Errorf("programmed %+v", c)
		}
		return nil
	})
	if err := agent.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		_, _, err := agent.Client.ConfigEntries().Get(capi.ServiceSplitter, root, nil)
		if err != nil {
			return err
		}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ts), ts); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(ts.Status.Conditions, common.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("programmed %+v", c)
		}
		return nil
	})
}
