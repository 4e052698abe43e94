package normalize

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smi-adapter/smi-adapter/core/model"
)

// TestOpaquePortsAsLinkerdReadsThem: config.linkerd.io/opaque-ports read
// as Linkerd's pkg/util and destination watcher read it: names of the
// object's ports first (a name like "123-456" too), numbers, ranges,
// a trailing comma, invalid entries skipped; absent is the defaults,
// present (even empty) replaces them.
func TestOpaquePortsAsLinkerdReadsThem(t *testing.T) {
	pod := func(ann *string) *corev1.Pod {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
			{Name: "admin", ContainerPort: 9990}, {Name: "123-456", ContainerPort: 7000}, {Name: "http", ContainerPort: 8080}}}}}}
		if ann != nil {
			p.Annotations = map[string]string{AnnotationOpaquePorts: *ann}
		}
		return p
	}
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		ann  *string
		port int32
		want model.Opacity
	}{
		{nil, 3306, model.OpacityDefault},
		{str(""), 3306, model.OpacityDetected},
		{str("admin"), 9990, model.OpacityOpaque},
		{str("admin"), 8080, model.OpacityDetected},
		{str("123-456"), 7000, model.OpacityOpaque},
		{str("123-456"), 200, model.OpacityDetected}, // a name, not a range
		{str("4000-5000, 8080,"), 4500, model.OpacityOpaque},
		{str("4000-5000, 8080,"), 8080, model.OpacityOpaque},
		{str("4000-5000, 8080,"), 5001, model.OpacityDetected},
		{str("5000-4000,x,1-2-3,70000"), 4500, model.OpacityDetected},
		{str("5000-4000,x,1-2-3,3306"), 3306, model.OpacityOpaque},
	} {
		listed, annotated := podOpaque(pod(c.ann))
		if got := opacity(listed, annotated, c.port); got != c.want {
			t.Errorf("pod annotation %v, port %d: %q, want %q", c.ann, c.port, got, c.want)
		}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationOpaquePorts: "db"}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "db", Port: 5433}, {Name: "pg", Port: 5432}}}}
	got := service(svc)
	if got.Ports[0].Opacity != model.OpacityDetected || got.Ports[1].Opacity != model.OpacityOpaque {
		t.Errorf("Service ports by name: %+v", got.Ports)
	}
}
