package normalize_test

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
)

func pod(ns, name, account string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{ServiceAccountName: account},
		Status: corev1.PodStatus{Phase: phase}}
}

func service(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

// elsewhereWorld: ns-a/api grants ns-a/web and ns-x/db; identities named web
// exist in ns-a (a pod), ns-b (a running pod and a Service), ns-c (a Service
// only) and not in ns-d (its pod has terminated); a pod without a service
// account runs as "default".
func elsewhereWorld(t *testing.T) *normalize.Memory {
	t.Helper()
	objs := []runtime.Object{
		&accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-a", Name: "api"},
			Spec: accessv1alpha3.TrafficTargetSpec{
				Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
				Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
				Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "web"}, {Kind: "ServiceAccount", Name: "db", Namespace: "ns-x"}},
			}},
		&specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-a", Name: "tcp"}},
		pod("ns-a", "web-0", "web", corev1.PodRunning),
		pod("ns-b", "web-0", "web", corev1.PodPending),
		service("ns-b", "web"),
		service("ns-c", "web"),
		pod("ns-d", "web-0", "web", corev1.PodSucceeded),
		pod("ns-e", "job", "", corev1.PodRunning),
		service("ns-e", "db"),
	}
	m, err := normalize.NewMemory("default", objs...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestIdentityNamespaces: the in-memory lookup finds the namespaces where an
// identity of a name exists (a running pod as that service account, or a
// Service of that name), each once, sorted; terminated pods do not count.
func TestIdentityNamespaces(t *testing.T) {
	m := elsewhereWorld(t)
	for name, want := range map[string][]string{
		"web":     {"ns-a", "ns-b", "ns-c"},
		"default": {"ns-e"},
		"db":      {"ns-e"},
		"nobody":  nil,
	} {
		if got := m.IdentityNamespaces(name); !reflect.DeepEqual(got, want) {
			t.Errorf("IdentityNamespaces(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestBuildFillsElsewhereOnlyWhenAsked: with IdentitiesElsewhere each grant
// lists the other namespaces' identities of its source's name; without it
// (Istio, Linkerd) the model is what it always was.
func TestBuildFillsElsewhereOnlyWhenAsked(t *testing.T) {
	m := elsewhereWorld(t)
	key := model.Key{Kind: model.KeyAccess, Namespace: "ns-a", Name: "api"}
	slice, _ := normalize.Options{IdentitiesElsewhere: true}.Build(key, m)
	got := map[model.Identity][]model.Identity{}
	for _, g := range slice.Access.Grants {
		got[g.Source] = g.Elsewhere
	}
	want := map[model.Identity][]model.Identity{
		{Namespace: "ns-a", Name: "web"}: {{Namespace: "ns-b", Name: "web"}, {Namespace: "ns-c", Name: "web"}},
		{Namespace: "ns-x", Name: "db"}:  {{Namespace: "ns-e", Name: "db"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Elsewhere: got %v, want %v", got, want)
	}
	plain, _ := normalize.Build(key, m)
	for _, g := range plain.Access.Grants {
		if g.Elsewhere != nil {
			t.Errorf("Build without the option filled Elsewhere of %s: %v", g.Source, g.Elsewhere)
		}
	}
}

// TestIdentityNamespacesConnectService: a pod registering as another Consul
// service through consul-k8s's connect-service annotation makes an identity
// of that name exist (one name, or each name of a multi-port list, blanks
// trimmed) besides its service account's; a terminated pod makes none.
func TestIdentityNamespacesConnectService(t *testing.T) {
	annotated := func(ns, name, account, names string, phase corev1.PodPhase) *corev1.Pod {
		p := pod(ns, name, account, phase)
		p.Annotations = map[string]string{normalize.AnnotationConnectService: names}
		return p
	}
	m, err := normalize.NewMemory("default",
		annotated("ns-b", "impostor", "x", "web", corev1.PodRunning),
		annotated("ns-c", "multi", "y", "api, web ,admin,", corev1.PodRunning),
		annotated("ns-d", "done", "z", "web", corev1.PodFailed),
		annotated("ns-e", "blank", "v", " ", corev1.PodRunning),
		pod("ns-a", "web-0", "web", corev1.PodRunning),
	)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"web":   {"ns-a", "ns-b", "ns-c"},
		"api":   {"ns-c"},
		"admin": {"ns-c"},
		"x":     {"ns-b"},
		"z":     nil,
		"":      nil,
		"v":     {"ns-e"},
	} {
		if got := m.IdentityNamespaces(name); !reflect.DeepEqual(got, want) {
			t.Errorf("IdentityNamespaces(%q) = %v, want %v", name, got, want)
		}
	}
	// The model of a grant to ns-a/web names the impostors.
	tt := &accessv1alpha3.TrafficTarget{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-a", Name: "api"},
		Spec: accessv1alpha3.TrafficTargetSpec{
			Destination: accessv1alpha3.IdentityBindingSubject{Kind: "ServiceAccount", Name: "api"},
			Rules:       []accessv1alpha3.TrafficTargetRule{{Kind: "TCPRoute", Name: "tcp"}},
			Sources:     []accessv1alpha3.IdentityBindingSubject{{Kind: "ServiceAccount", Name: "web"}},
		}}
	m, err = normalize.NewMemory("default", tt, &specsv1alpha4.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-a", Name: "tcp"}},
		annotated("ns-b", "impostor", "x", "web", corev1.PodRunning))
	if err != nil {
		t.Fatal(err)
	}
	slice, _ := normalize.Options{IdentitiesElsewhere: true}.Build(model.Key{Kind: model.KeyAccess, Namespace: "ns-a", Name: "api"}, m)
	if got, want := slice.Access.Grants[0].Elsewhere, []model.Identity{{Namespace: "ns-b", Name: "web"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Elsewhere %v, want %v", got, want)
	}
}
