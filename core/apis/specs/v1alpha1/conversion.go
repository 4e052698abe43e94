package v1alpha1

import (
	"sigs.k8s.io/controller-runtime/pkg/conversion"

	"github.com/smi-adapter/smi-adapter/core/apis/common"
	"github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
)

// ConvertTo converts this HTTPRouteGroup to the hub version (v1alpha4).
// v1alpha1 has no header matches: those of an object this client read are
// restored from common.AnnotationHubSpec, so writing it back never widens a match.
func (src *HTTPRouteGroup) ConvertTo(dstRaw conversion.Hub) error {
	dst := dstRaw.(*v1alpha4.HTTPRouteGroup)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Spec.Matches = nil
	for _, m := range src.Matches {
		dst.Spec.Matches = append(dst.Spec.Matches, v1alpha4.HTTPMatch{Name: m.Name, Methods: copyStrings(m.Methods), PathRegex: m.PathRegex})
	}
	var lost v1alpha4.LostHTTP
	if common.TakeHubSpec(&dst.Annotations, &lost) {
		v1alpha4.RestoreHeaders(dst.Spec.Matches, lost.Matches)
	}
	return nil
}

// ConvertFrom converts the hub version (v1alpha4) to this version.
func (dst *HTTPRouteGroup) ConvertFrom(srcRaw conversion.Hub) error {
	src := srcRaw.(*v1alpha4.HTTPRouteGroup)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	dst.Matches = nil
	for _, m := range src.Spec.Matches {
		dst.Matches = append(dst.Matches, HTTPMatch{Name: m.Name, Methods: copyStrings(m.Methods), PathRegex: m.PathRegex})
	}
	hasHeaders := v1alpha4.HasHeaders(src.Spec.Matches)
	return common.SaveHubSpec(&dst.Annotations, hasHeaders, v1alpha4.LostHTTP{Matches: src.Spec.Matches})
}

// ConvertTo converts this TCPRoute to the hub version (v1alpha4). v1alpha3
// has no ports: a TCPRoute read in v1alpha3 and written back gets its ports
// back from common.AnnotationHubSpec.
func (src *TCPRoute) ConvertTo(dstRaw conversion.Hub) error {
	dst := dstRaw.(*v1alpha4.TCPRoute)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	var lost v1alpha4.LostTCP
	dst.Spec = v1alpha4.TCPRouteSpec{}
	if common.TakeHubSpec(&dst.Annotations, &lost) {
		dst.Spec.Matches = lost.Matches
	}
	return nil
}

// ConvertFrom converts the hub version (v1alpha4) to this version.
func (dst *TCPRoute) ConvertFrom(srcRaw conversion.Hub) error {
	src := srcRaw.(*v1alpha4.TCPRoute)
	dst.ObjectMeta = *src.ObjectMeta.DeepCopy()
	dst.Status = *src.Status.DeepCopy()
	m := src.Spec.Matches
	return common.SaveHubSpec(&dst.Annotations, m.Name != "" || len(m.Ports) > 0, v1alpha4.LostTCP{Matches: *m.DeepCopy()})
}

func copyStrings(in []string) []string {
	if in == nil {
		return nil
	}
	return append([]string{}, in...)
}
