package v1alpha1

import (
	"strconv"

	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/conversion"

	"github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	"github.com/smi-adapter/smi-adapter/core/apis/common"
)

// ConvertTo converts this TrafficTarget to the hub version (v1alpha3): specs become rules. The
// destination port, which v1alpha3 lacks, is kept in AnnotationDestinationPort.
func (src *TrafficTarget) ConvertTo(dstRaw conversion.Hub) error {
	dst := dstRaw.(*v1alpha3.TrafficTarget)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Spec.Destination = subjectToHub(src.Destination)
	if p := src.Destination.Port; p != nil {
		// A string port (smi-sdk-go's first v1alpha1 type) is kept as
		// written: normalize reads it as the number it spells, or refuses it.
		// An explicit empty string is no port number either: it must not
		// read as "no port" (all ports), so it is kept as `""`, refused.
		raw := p.StrVal
		if p.Type == intstr.Int {
			raw = strconv.Itoa(int(p.IntVal))
		} else if raw == "" {
			raw = `""`
		}
		common.SetAnnotation(&dst.Annotations, common.AnnotationDestinationPort, raw)
	}
	dst.Spec.Sources = nil
	for _, s := range src.Sources {
		dst.Spec.Sources = append(dst.Spec.Sources, subjectToHub(s))
	}
	dst.Spec.Rules = nil
	for _, r := range src.Specs {
		dst.Spec.Rules = append(dst.Spec.Rules, v1alpha3.TrafficTargetRule{Kind: r.Kind, Name: r.Name, Matches: copyStrings(r.Matches)})
	}
	return nil
}

// ConvertFrom converts the hub version (v1alpha3) to this version.
func (dst *TrafficTarget) ConvertFrom(srcRaw conversion.Hub) error {
	src := srcRaw.(*v1alpha3.TrafficTarget)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Destination = subjectFromHub(src.Spec.Destination)
	if port, ok := common.DestinationPort(dst.Annotations); ok {
		p := intstr.FromInt32(port)
		dst.Destination.Port = &p
		common.SetAnnotation(&dst.Annotations, common.AnnotationDestinationPort, "")
	}
	dst.Sources = nil
	for _, s := range src.Spec.Sources {
		dst.Sources = append(dst.Sources, subjectFromHub(s))
	}
	dst.Specs = nil
	for _, r := range src.Spec.Rules {
		dst.Specs = append(dst.Specs, TrafficTargetSpec{Kind: r.Kind, Name: r.Name, Matches: copyStrings(r.Matches)})
	}
	return nil
}

func subjectToHub(s IdentityBindingSubject) v1alpha3.IdentityBindingSubject {
	return v1alpha3.IdentityBindingSubject{Kind: s.Kind, Name: s.Name, Namespace: s.Namespace}
}

func subjectFromHub(s v1alpha3.IdentityBindingSubject) IdentityBindingSubject {
	return IdentityBindingSubject{Kind: s.Kind, Name: s.Name, Namespace: s.Namespace}
}

func copyStrings(in []string) []string {
	if in == nil {
		return nil
	}
	return append([]string{}, in...)
}
