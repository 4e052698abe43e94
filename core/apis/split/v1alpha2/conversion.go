package v1alpha2

import (
	"sigs.k8s.io/controller-runtime/pkg/conversion"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
	"github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// ConvertTo converts this TrafficSplit to the hub version (v1alpha4). Matches
// of an object this client read in v1alpha2 come back from common.AnnotationHubSpec,
// so that writing it back does not turn a split of some requests into a split of all.
func (src *TrafficSplit) ConvertTo(dstRaw conversion.Hub) error {
	dst := dstRaw.(*v1alpha4.TrafficSplit)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Spec = v1alpha4.TrafficSplitSpec{Service: src.Spec.Service}
	for _, b := range src.Spec.Backends {
		dst.Spec.Backends = append(dst.Spec.Backends, v1alpha4.TrafficSplitBackend{Service: b.Service, Weight: b.Weight})
	}
	var lost v1alpha4.LostMatches
	if common.TakeHubSpec(&dst.Annotations, &lost) {
		dst.Spec.Matches = lost.Matches
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
	return common.SaveHubSpec(&dst.Annotations, len(src.Spec.Matches) > 0, v1alpha4.LostMatches{Matches: v1alpha4.CopyMatches(src.Spec.Matches)})
}
