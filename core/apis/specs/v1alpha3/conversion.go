package v1alpha3

import (
	"sigs.k8s.io/controller-runtime/pkg/conversion"

	"github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
)

// ConvertTo converts this HTTPRouteGroup to the hub version (v1alpha4).
func (src *HTTPRouteGroup) ConvertTo(dstRaw conversion.Hub) error {
	dst := dstRaw.(*v1alpha4.HTTPRouteGroup)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Spec.Matches = nil
	for _, m := range src.Spec.Matches {
		dst.Spec.Matches = append(dst.Spec.Matches, v1alpha4.HTTPMatch{Name: m.Name, Methods: copyStrings(m.Methods), PathRegex: m.PathRegex, Headers: m.Headers.DeepCopy()})
	}
	return nil
}

// ConvertFrom converts the hub version (v1alpha4) to this version.
func (dst *HTTPRouteGroup) ConvertFrom(srcRaw conversion.Hub) error {
	src := srcRaw.(*v1alpha4.HTTPRouteGroup)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Spec.Matches = nil
	for _, m := range src.Spec.Matches {
		dst.Spec.Matches = append(dst.Spec.Matches, HTTPMatch{Name: m.Name, Methods: copyStrings(m.Methods), PathRegex: m.PathRegex, Headers: m.Headers.DeepCopy()})
	}
	return nil
}

// ConvertTo converts this TCPRoute to the hub version (v1alpha4); ports of
// an object read in v1alpha3 come back from common.AnnotationHubSpec.
func (src *TCPRoute) ConvertTo(dstRaw conversion.Hub) error {
	v1alpha4.TCPToHub(&src.ObjectMeta, &src.Status, dstRaw.(*v1alpha4.TCPRoute))
	return nil
}

// ConvertFrom converts the hub version (v1alpha4) to this version.
func (dst *TCPRoute) ConvertFrom(srcRaw conversion.Hub) error {
	return v1alpha4.TCPFromHub(srcRaw.(*v1alpha4.TCPRoute), &dst.ObjectMeta, &dst.Status)
}

func copyStrings(in []string) []string {
	if in == nil {
		return nil
	}
	return append([]string{}, in...)
}
