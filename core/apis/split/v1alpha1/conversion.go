package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/conversion"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
	"github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// ConvertTo converts this TrafficSplit to the hub version (v1alpha4). Quantity
// weights become integers with exactly the same ratios (common.QuantitiesToWeights);
// the Quantity spellings are remembered so this client reads back what it wrote.
func (src *TrafficSplit) ConvertTo(dstRaw conversion.Hub) error {
	dst := dstRaw.(*v1alpha4.TrafficSplit)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Spec = v1alpha4.TrafficSplitSpec{Service: src.Spec.Service}
	qs := make([]resource.Quantity, len(src.Spec.Backends))
	for i, b := range src.Spec.Backends {
		qs[i] = b.Weight
	}
	ints, err := common.QuantitiesToWeights(qs)
	if err != nil {
		return fmt.Errorf("spec.%w", err)
	}
	for i, b := range src.Spec.Backends {
		dst.Spec.Backends = append(dst.Spec.Backends, v1alpha4.TrafficSplitBackend{Service: b.Service, Weight: ints[i]})
	}
	common.SetAnnotation(&dst.Annotations, common.AnnotationV1alpha1Weights, common.EncodeWeightMemo(ints, qs))
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
	ints := make([]int, len(src.Spec.Backends))
	for i, b := range src.Spec.Backends {
		ints[i] = b.Weight
	}
	remembered := common.DecodeWeightMemo(dst.Annotations[common.AnnotationV1alpha1Weights], ints)
	common.SetAnnotation(&dst.Annotations, common.AnnotationV1alpha1Weights, "")
	for i, b := range src.Spec.Backends {
		w := *resource.NewQuantity(int64(b.Weight), resource.DecimalSI)
		if remembered != nil {
			w = remembered[i]
		}
		dst.Spec.Backends = append(dst.Spec.Backends, TrafficSplitBackend{Service: b.Service, Weight: w})
	}
	return common.SaveHubSpec(&dst.Annotations, len(src.Spec.Matches) > 0, v1alpha4.LostMatches{Matches: v1alpha4.CopyMatches(src.Spec.Matches)})
}
