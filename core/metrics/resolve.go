package metrics

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metricsv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/metrics/v1alpha1"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// +kubebuilder:rbac:groups="",resources=namespaces;nodes;pods;services;replicationcontrollers,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch

// kindInfo says how a kind of the API maps to Kubernetes.
type kindInfo struct {
	kind, apiVersion string
	newObj           func() client.Object
	newList          func() client.ObjectList
}

var kinds = map[Kind]kindInfo{
	Namespaces: {"Namespace", "v1", func() client.Object { return &corev1.Namespace{} }, func() client.ObjectList { return &corev1.NamespaceList{} }},
	Nodes:      {"Node", "v1", func() client.Object { return &corev1.Node{} }, func() client.ObjectList { return &corev1.NodeList{} }},
	Pods:       {"Pod", "v1", func() client.Object { return &corev1.Pod{} }, func() client.ObjectList { return &corev1.PodList{} }},
	ReplicationControllers: {"ReplicationController", "v1", func() client.Object { return &corev1.ReplicationController{} },
		func() client.ObjectList { return &corev1.ReplicationControllerList{} }},
	Services:     {"Service", "v1", func() client.Object { return &corev1.Service{} }, func() client.ObjectList { return &corev1.ServiceList{} }},
	DaemonSets:   {"DaemonSet", "apps/v1", func() client.Object { return &appsv1.DaemonSet{} }, func() client.ObjectList { return &appsv1.DaemonSetList{} }},
	Deployments:  {"Deployment", "apps/v1", func() client.Object { return &appsv1.Deployment{} }, func() client.ObjectList { return &appsv1.DeploymentList{} }},
	ReplicaSets:  {"ReplicaSet", "apps/v1", func() client.Object { return &appsv1.ReplicaSet{} }, func() client.ObjectList { return &appsv1.ReplicaSetList{} }},
	StatefulSets: {"StatefulSet", "apps/v1", func() client.Object { return &appsv1.StatefulSet{} }, func() client.ObjectList { return &appsv1.StatefulSetList{} }},
	Jobs:         {"Job", "batch/v1", func() client.Object { return &batchv1.Job{} }, func() client.ObjectList { return &batchv1.JobList{} }},
	TrafficSplits: {"TrafficSplit", splitv1alpha4.GroupVersion.String(), func() client.Object { return &splitv1alpha4.TrafficSplit{} },
		func() client.ObjectList { return &splitv1alpha4.TrafficSplitList{} }},
}

// KindName is the Kubernetes kind of an API kind (Deployment for deployments).
func KindName(k Kind) string { return kinds[k].kind }

// ref is an ObjectReference to a resource of a kind.
func ref(k Kind, namespace, name string) *metricsv1alpha1.ObjectReference {
	i := kinds[k]
	return &metricsv1alpha1.ObjectReference{Kind: i.kind, APIVersion: i.apiVersion, Namespace: namespace, Name: name}
}

// object is a resolved Kubernetes object.
type object struct {
	kind Kind
	obj  client.Object
}

func (o object) namespace() string { return o.obj.GetNamespace() }
func (o object) name() string      { return o.obj.GetName() }

// get reads one object: a missing one is the API's 404.
func (e *Engine) get(ctx context.Context, k Kind, namespace, name string) (object, error) {
	i, ok := kinds[k]
	if !ok {
		return object{}, apierrors.NewNotFound(schema.GroupResource{Resource: string(k)}, name)
	}
	obj := i.newObj()
	if err := e.reader(k).Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return object{}, apierrors.NewNotFound(schema.GroupResource{Resource: string(k)}, name)
		}
		return object{}, fmt.Errorf("get %s %s/%s: %w", k, namespace, name, err)
	}
	return object{kind: k, obj: obj}, nil
}

// list reads the objects of a kind in a namespace ("" = all) that match the
// selector, sorted by namespace and name.
func (e *Engine) list(ctx context.Context, k Kind, namespace string, sel labels.Selector) ([]object, error) {
	l := kinds[k].newList()
	opts := []client.ListOption{}
	if namespace != "" && k.Namespaced() {
		opts = append(opts, client.InNamespace(namespace))
	}
	if sel != nil && !sel.Empty() {
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	if err := e.reader(k).List(ctx, l, opts...); err != nil {
		return nil, fmt.Errorf("list %s: %w", k, err)
	}
	var out []object
	if err := forEach(l, func(o client.Object) { out = append(out, object{kind: k, obj: o}) }); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].namespace() != out[j].namespace() {
			return out[i].namespace() < out[j].namespace()
		}
		return out[i].name() < out[j].name()
	})
	return out, nil
}

func forEach(l client.ObjectList, f func(client.Object)) error {
	switch l := l.(type) {
	case *corev1.NamespaceList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *corev1.NodeList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *corev1.PodList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *corev1.ReplicationControllerList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *corev1.ServiceList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *appsv1.DaemonSetList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *appsv1.DeploymentList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *appsv1.ReplicaSetList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *appsv1.StatefulSetList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *batchv1.JobList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	case *splitv1alpha4.TrafficSplitList:
		for i := range l.Items {
			f(&l.Items[i])
		}
	default:
		return fmt.Errorf("unexpected list %T", l)
	}
	return nil
}

// reader: pods come from the controller's cache, the rest is read directly
// (a metrics request is rare; caching every Deployment would cost memory).
func (e *Engine) reader(k Kind) client.Reader {
	if k == Pods && e.Pods != nil {
		return e.Pods
	}
	return e.Objects
}

// podsOf lists the names of the pods a resource aggregates: itself for a pod,
// those its selector selects for a workload or Service, every pod of a
// namespace or node.
func (e *Engine) podsOf(ctx context.Context, o object) ([]string, error) {
	var sel labels.Selector
	namespace := o.namespace()
	node := ""
	switch obj := o.obj.(type) {
	case *corev1.Pod:
		return []string{obj.Name}, nil
	case *corev1.Namespace:
		namespace, sel = obj.Name, labels.Everything()
	case *corev1.Node:
		node, sel = obj.Name, labels.Everything()
	case *corev1.Service:
		if len(obj.Spec.Selector) == 0 {
			return nil, nil // no selector: no pods of its own
		}
		sel = labels.SelectorFromSet(obj.Spec.Selector)
	case *corev1.ReplicationController:
		if len(obj.Spec.Selector) == 0 {
			return nil, nil
		}
		sel = labels.SelectorFromSet(obj.Spec.Selector)
	default:
		ls := workloadSelector(o.obj)
		if ls == nil {
			return nil, nil
		}
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return nil, fmt.Errorf("%s %s/%s selector: %w", o.kind, o.namespace(), o.name(), err)
		}
		if s.Empty() {
			return nil, nil
		}
		sel = s
	}
	objs, err := e.list(ctx, Pods, namespace, sel)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range objs {
		if node != "" && p.obj.(*corev1.Pod).Spec.NodeName != node {
			continue
		}
		names = append(names, p.name())
	}
	return names, nil
}

func workloadSelector(obj client.Object) *metav1.LabelSelector {
	switch w := obj.(type) {
	case *appsv1.Deployment:
		return w.Spec.Selector
	case *appsv1.StatefulSet:
		return w.Spec.Selector
	case *appsv1.DaemonSet:
		return w.Spec.Selector
	case *appsv1.ReplicaSet:
		return w.Spec.Selector
	case *batchv1.Job:
		return w.Spec.Selector
	}
	return nil
}
