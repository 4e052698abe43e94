package v1alpha3

import (
	"sigs.k8s.io/controller-runtime/pkg/conversion"

	"github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// ConvertTo converts this TrafficSplit to the hub version (v1alpha4).
func (src *TrafficSplit) ConvertTo(dstRaw conversion.Hub) error {
	dst := dstRaw.(*v1alpha4.TrafficSplit)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Spec = v1alpha4.TrafficSplitSpec{Service: src.Spec.Service}
	for _, b := range src.Spec.Backends {
		dst.Spec.Backends = append(dst.Spec.Backends, v1alpha4.TrafficSplitBackend{Service: b.Service, Weight: b.Weight})
	}
	for _, m := range src.Spec.Matches {
		dst.Spec.Matches = append(dst.Spec.Matches, v1alpha4.TrafficSplitMatch{APIGroup: copyPtr(m.APIGroup), Kind: m.Kind, Name: m.Name})
	}
	return nil
}

// ConvertFrom converts the hub version (v1alpha4) to this version.
func (dst *TrafficSplit) ConvertFrom(srcRaw conversion.Hub) error {
	src := srcRaw.(*v1alpha4.TrafficSplit)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Spec = TrafficSplitSpec{Service: src.Spec.Service}
	for _, b := range src.Spec.Backends {
		dst.Spec.Backends = append(dst.Spec.Backends, TrafficSplitBackend{Service: b.Service, Weight: b.Weight})
	}
	for _, m := range src.Spec.Matches {
		dst.Spec.Matches = append(dst.Spec.Matches, TrafficSplitMatch{APIGroup: copyPtr(m.APIGroup), Kind: m.Kind, Name: m.Name})
	}
	return nil
}

func copyPtr(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}
