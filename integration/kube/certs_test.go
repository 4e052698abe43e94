package kube_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/smi-adapter/smi-adapter/core/certs"
)

// widgetCRD is a throwaway CRD with a webhook conversion, so that injecting a
// CA does not disturb the SMI CRDs the suite's webhook serves.
func widgetCRD(t *testing.T, name string) {
	t.Helper()
	schema := &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: new(true)}
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name + "s.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: "example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: name + "s", Kind: "W" + name, ListKind: "W" + name + "List", Singular: name},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				{Name: "v1", Served: true, Storage: true, Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: schema}},
				{Name: "v2", Served: true, Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: schema}},
			},
			Conversion: &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter, Webhook: &apiextensionsv1.WebhookConversion{
				ConversionReviewVersions: []string{"v1"},
				ClientConfig:             &apiextensionsv1.WebhookClientConfig{Service: &apiextensionsv1.ServiceReference{Namespace: "smi-adapter-system", Name: "smi-adapter-webhook", Path: new("/convert")}},
			}},
		}}
	if err := env.Client.Create(context.Background(), crd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), crd) })
}

func TestCertificatesIssueRenewAndInject(t *testing.T) {
	ns := namespace(t)
	widgetCRD(t, "widget")
	dir := t.TempDir()
	cfg := certs.Config{Secret: client.ObjectKey{Namespace: ns, Name: "smi-adapter-webhook-cert"},
		DNSName: []string{"smi-adapter-webhook." + ns + ".svc", "smi-adapter-webhook." + ns + ".svc.cluster.local"},
		CertDir: dir, CRDs: []string{"widgets.example.com"}}
	ctx := context.Background()
	if err := certs.Ensure(ctx, env.Client, cfg); err != nil {
		t.Fatal(err)
	}
	sec := &corev1.Secret{}
	if err := env.Client.Get(ctx, cfg.Secret, sec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{certs.KeyCA, certs.KeyCert, certs.KeyKey} {
		if len(sec.Data[k]) == 0 {
			t.Fatalf("secret lacks %s", k)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tls.crt")); !bytes.Equal(b, sec.Data[certs.KeyCert]) {
		t.Fatal("tls.crt not written to the cert dir")
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "widgets.example.com"}, crd); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(crd.Spec.Conversion.Webhook.ClientConfig.CABundle, sec.Data[certs.KeyCA]) {
		t.Fatal("CA not injected into the CRD's conversion webhook")
	}

	// Valid: nothing is rewritten.
	rv := sec.ResourceVersion
	if err := certs.Ensure(ctx, env.Client, cfg); err != nil {
		t.Fatal(err)
	}
	_ = env.Client.Get(ctx, cfg.Secret, sec)
	if sec.ResourceVersion != rv {
		t.Fatal("a valid certificate was reissued")
	}

	// 70 of 90 days later: the serving certificate is renewed, the CA kept.
	ca, cert := sec.Data[certs.KeyCA], sec.Data[certs.KeyCert]
	later := cfg
	later.Now = func() time.Time { return time.Now().Add(70 * 24 * time.Hour) }
	if err := certs.Ensure(ctx, env.Client, later); err != nil {
		t.Fatal(err)
	}
	_ = env.Client.Get(ctx, cfg.Secret, sec)
	if bytes.Equal(sec.Data[certs.KeyCert], cert) || !bytes.Equal(sec.Data[certs.KeyCA], ca) {
		t.Fatal("renewal must replace the serving certificate and keep the CA")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tls.crt")); !bytes.Equal(b, sec.Data[certs.KeyCert]) {
		t.Fatal("renewed certificate not written to the cert dir")
	}
}

// TestCertificatesReplicasAgree: two replicas starting at once end up
// serving the same certificate.
func TestCertificatesReplicasAgree(t *testing.T) {
	ns := namespace(t)
	dirs := []string{t.TempDir(), t.TempDir()}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = certs.Ensure(context.Background(), env.Client, certs.Config{Secret: client.ObjectKey{Namespace: ns, Name: "cert"},
				DNSName: []string{"smi-adapter-webhook." + ns + ".svc"}, CertDir: dirs[i]})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dirs[0], "tls.crt"))
	b, _ := os.ReadFile(filepath.Join(dirs[1], "tls.crt"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("replicas serve different certificates")
	}
}
