package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	splitv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/split/v1alpha4"
)

// TestSchemeHasWhatRunReads: the manager's scheme (which `smi-adapter run`
// also gives its direct client) knows every typed object run reads or
// writes: without CustomResourceDefinition, --cert-mode=self (the default)
// failed at start-up in certs.Ensure with "no kind is registered".
func TestSchemeHasWhatRunReads(t *testing.T) {
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []runtime.Object{
		&apiextensionsv1.CustomResourceDefinition{}, // certs.Ensure, storagemigration
		&apiregistrationv1.APIService{},             // certs.Ensure
		&corev1.Secret{},                            // certs.Ensure
		&splitv1alpha4.TrafficSplit{},
	} {
		if _, _, err := s.ObjectKinds(obj); err != nil {
			t.Errorf("%T: %v", obj, err)
		}
	}
}
