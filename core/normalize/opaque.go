package normalize

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/smi-adapter/smi-adapter/core/model"
)

// AnnotationOpaquePorts is Linkerd's annotation (on a pod, its namespace or
// a Service; the proxy injector copies the namespace's onto pods and
// Services) listing the ports its proxy carries as raw TCP. Present, it
// replaces Linkerd's default opaque ports for that object.
const AnnotationOpaquePorts = "config.linkerd.io/opaque-ports"

// opaquePorts reads an opaque-ports annotation as Linkerd does
// (pkg/util.GetPortRanges, ParsePortRange; isNamed): comma-separated
// entries, each a port name of the object (named ports win, "123-456" may
// be a name), a port or a range lower-upper; an invalid entry is skipped.
// ok is false when the object has no such annotation.
func opaquePorts(annotations map[string]string, names map[string]int32) (ports func(int32) bool, ok bool) {
	v, ok := annotations[AnnotationOpaquePorts]
	if !ok {
		return nil, false
	}
	type span struct{ lo, hi int32 }
	var spans []span
	for _, e := range strings.Split(strings.TrimSuffix(v, ","), ",") {
		e = strings.TrimSpace(e)
		if p, named := names[e]; named {
			spans = append(spans, span{p, p})
			continue
		}
		bounds := strings.Split(e, "-")
		if len(bounds) > 2 {
			continue
		}
		if len(bounds) == 1 {
			bounds = append(bounds, bounds[0])
		}
		lo, err1 := strconv.Atoi(bounds[0])
		hi, err2 := strconv.Atoi(bounds[1])
		if err1 != nil || err2 != nil || lo < 0 || hi > 65535 || hi < lo {
			continue
		}
		spans = append(spans, span{int32(lo), int32(hi)})
	}
	return func(p int32) bool {
		for _, s := range spans {
			if s.lo <= p && p <= s.hi {
				return true
			}
		}
		return false
	}, true
}

// opacity is what an object's opaque-ports annotation says of port.
func opacity(listed func(int32) bool, annotated bool, port int32) model.Opacity {
	switch {
	case !annotated:
		return model.OpacityDefault
	case listed(port):
		return model.OpacityOpaque
	}
	return model.OpacityDetected
}

// serviceOpaque reads a Service's annotation (names are its ports' names,
// ports its ports' numbers).
func serviceOpaque(s *corev1.Service) (func(int32) bool, bool) {
	names := map[string]int32{}
	for _, p := range s.Spec.Ports {
		if p.Name != "" {
			names[p.Name] = p.Port
		}
	}
	return opaquePorts(s.Annotations, names)
}

// podOpaque reads a pod's annotation (names are its containers' port names).
func podOpaque(p *corev1.Pod) (func(int32) bool, bool) {
	names := map[string]int32{}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name != "" {
				if _, dup := names[cp.Name]; !dup {
					names[cp.Name] = cp.ContainerPort // Linkerd takes the first
				}
			}
		}
	}
	return opaquePorts(p.Annotations, names)
}
