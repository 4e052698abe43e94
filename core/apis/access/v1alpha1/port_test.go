package v1alpha1

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
)

// TestStringPort: a destination port written as a string (smi-sdk-go's first
// v1alpha1 type) is the port it spells; any other string, the empty one
// included, is no port number, so the TrafficTarget grants nothing — it
// never reads as "no port" (every port).
func TestStringPort(t *testing.T) {
	for _, c := range []struct {
		port intstr.IntOrString
		want int32 // 0: not a port number
	}{
		{intstr.FromInt32(8080), 8080},
		{intstr.FromString("8080"), 8080},
		{intstr.FromString("http"), 0},
		{intstr.FromString(""), 0},
		{intstr.FromString("08080"), 0},
		{intstr.FromString("70000"), 0},
		{intstr.FromInt32(0), 0},
	} {
		src := &TrafficTarget{Destination: IdentityBindingSubject{Kind: "ServiceAccount", Name: "db", Port: &c.port}}
		hub := &v1alpha3.TrafficTarget{}
		if err := src.ConvertTo(hub); err != nil {
			t.Fatal(err)
		}
		raw, present := hub.Annotations[common.AnnotationDestinationPort]
		if !present {
			t.Errorf("port %q: no destination port on the hub: it would grant every port", c.port.String())
			continue
		}
		got, ok := common.DestinationPort(hub.Annotations)
		if (c.want != 0) != ok || got != c.want {
			t.Errorf("port %q: hub annotation %q reads as %d (%v), want %d", c.port.String(), raw, got, ok, c.want)
		}
	}
}
