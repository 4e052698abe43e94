package apis

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/conversion"

	accessv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha1"
	accessv1alpha2 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha2"
	accessv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/access/v1alpha3"
	specsv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha1"
	specsv1alpha2 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha2"
	specsv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha3"
	specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"
	splitv1alpha1 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha1"
	splitv1alpha2 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha2"
	splitv1alpha3 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha3"
	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// AddToScheme registers every SMI group and version.
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		accessv1alpha1.AddToScheme, accessv1alpha2.AddToScheme, accessv1alpha3.AddToScheme,
		specsv1alpha1.AddToScheme, specsv1alpha2.AddToScheme, specsv1alpha3.AddToScheme, specsv1alpha4.AddToScheme,
		splitv1alpha1.AddToScheme, splitv1alpha2.AddToScheme, splitv1alpha3.AddToScheme, splitv1alpha4.AddToScheme,
	} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}

// HubVersions maps each SMI group to its hub (storage) version.
var HubVersions = map[string]string{
	accessv1alpha3.GroupVersion.Group: accessv1alpha3.GroupVersion.Version,
	specsv1alpha4.GroupVersion.Group:  specsv1alpha4.GroupVersion.Version,
	splitv1alpha4.GroupVersion.Group:  splitv1alpha4.GroupVersion.Version,
}

// HubObjects are empty objects of every hub kind (the kinds the controller watches).
func HubObjects() []client.Object {
	return []client.Object{
		&accessv1alpha3.TrafficTarget{}, &specsv1alpha4.HTTPRouteGroup{}, &specsv1alpha4.TCPRoute{},
		&specsv1alpha4.UDPRoute{}, &splitv1alpha4.TrafficSplit{},
	}
}

// ToHub converts an SMI object of any version to its hub version. A hub
// object is returned as it is. gvk is the object's own group/version/kind.
func ToHub(s *runtime.Scheme, obj runtime.Object, gvk schema.GroupVersionKind) (client.Object, error) {
	if _, ok := obj.(conversion.Hub); ok {
		co, ok := obj.(client.Object)
		if !ok {
			return nil, fmt.Errorf("%s is not a client.Object", gvk)
		}
		return co, nil
	}
	spoke, ok := obj.(conversion.Convertible)
	if !ok {
		return nil, fmt.Errorf("%s is not an SMI kind smi-adapter converts", gvk)
	}
	hubGVK := gvk.GroupKind().WithVersion(HubVersions[gvk.Group])
	hubObj, err := s.New(hubGVK)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", hubGVK, err)
	}
	hub, ok := hubObj.(conversion.Hub)
	if !ok {
		return nil, fmt.Errorf("%s is not a hub", hubGVK)
	}
	if err := spoke.ConvertTo(hub); err != nil {
		return nil, fmt.Errorf("convert %s to %s: %w", gvk, hubGVK.Version, err)
	}
	hubObj.GetObjectKind().SetGroupVersionKind(hubGVK)
	return hubObj.(client.Object), nil
}

// FromHub converts a hub object to the given version of its kind.
func FromHub(s *runtime.Scheme, hub conversion.Hub, gvk schema.GroupVersionKind) (runtime.Object, error) {
	obj, err := s.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", gvk, err)
	}
	if _, isHub := obj.(conversion.Hub); isHub {
		out := hub.DeepCopyObject()
		out.GetObjectKind().SetGroupVersionKind(gvk)
		return out, nil
	}
	spoke, ok := obj.(conversion.Convertible)
	if !ok {
		return nil, fmt.Errorf("%s is not convertible", gvk)
	}
	if err := spoke.ConvertFrom(hub); err != nil {
		return nil, fmt.Errorf("convert to %s: %w", gvk, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}
