// Package certs gives the conversion webhook (and later the metrics API) a
// serving certificate that smi-adapter creates and rotates itself: a CA and a
// serving certificate kept in one Secret that every replica shares, written to
// the webhook server's certificate directory (controller-runtime reloads it
// when it changes), with the CA injected into the CRDs' conversion webhook
// configuration. cert-manager can do the same job instead (deploy overlay).
package certs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Keys of the Secret.
const (
	KeyCA   = "ca.crt"
	KeyCert = "tls.crt"
	KeyKey  = "tls.key"
	// caKey is the CA's private key, kept so the serving certificate can be
	// renewed without changing the CA every time.
	keyCAKey = "ca.key"
)

// Config of the certificate manager.
type Config struct {
	Secret  client.ObjectKey // where the certificates live
	DNSName []string         // names the serving certificate is valid for (the webhook Service)
	CertDir string           // where tls.crt and tls.key are written for the webhook server
	CRDs    []string         // CRDs whose conversion webhook gets the CA
	// APIServices (e.g. v1alpha1.metrics.smi-spec.io) whose caBundle gets the CA.
	APIServices []string
	// Validity of the serving certificate; renewed when less than a third is left.
	Validity time.Duration
	Now      func() time.Time
}

func (c *Config) defaults() {
	if c.Validity == 0 {
		c.Validity = 90 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Ensure makes the Secret hold a valid CA and serving certificate for the
// configured names (creating or renewing them when needed), writes the
// serving pair into CertDir and injects the CA into the CRDs. Replicas race
// safely: the Secret is written with optimistic concurrency and the loser
// re-reads the winner's certificates.
func Ensure(ctx context.Context, c client.Client, cfg Config) error {
	cfg.defaults()
	log := logf.FromContext(ctx).WithValues("secret", cfg.Secret.String())
	for attempt := 0; attempt < 5; attempt++ {
		sec := &corev1.Secret{}
		err := c.Get(ctx, cfg.Secret, sec)
		exists := err == nil
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("get secret: %w", err)
		}
		if exists && valid(sec.Data, cfg) {
			if err := write(cfg.CertDir, sec.Data); err != nil {
				return err
			}
			return injectAll(ctx, c, cfg, sec.Data[KeyCA])
		}
		data, err := issue(sec.Data, cfg)
		if err != nil {
			return err
		}
		if exists {
			sec.Data = data
			err = c.Update(ctx, sec)
		} else {
			sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: cfg.Secret.Namespace, Name: cfg.Secret.Name,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "smi-adapter"}}, Type: corev1.SecretTypeTLS, Data: data}
			err = c.Create(ctx, sec)
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			continue // another replica won: use its certificates
		}
		if err != nil {
			return fmt.Errorf("store certificates: %w", err)
		}
		log.Info("issued webhook serving certificate", "names", cfg.DNSName)
		if err := write(cfg.CertDir, data); err != nil {
			return err
		}
		return injectAll(ctx, c, cfg, data[KeyCA])
	}
	return errors.New("could not store certificates: too many concurrent writers")
}

// valid: a CA and a serving certificate it signed, for every name, with more
// than a third of its validity left.
func valid(data map[string][]byte, cfg Config) bool {
	ca, err := parseCert(data[KeyCA])
	if err != nil {
		return false
	}
	cert, err := parseCert(data[KeyCert])
	if err != nil || cert.CheckSignatureFrom(ca) != nil || len(data[KeyKey]) == 0 || len(data[keyCAKey]) == 0 {
		return false
	}
	for _, n := range cfg.DNSName {
		if !slices.Contains(cert.DNSNames, n) {
			return false
		}
	}
	left := cert.NotAfter.Sub(cfg.Now())
	return left > cert.NotAfter.Sub(cert.NotBefore)/3 && ca.NotAfter.After(cert.NotAfter)
}

func parseCert(p []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(p)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParseCertificate(b.Bytes)
}

// issue keeps a CA that is still good for the new certificate, else makes a
// new one, and signs a new serving certificate.
func issue(old map[string][]byte, cfg Config) (map[string][]byte, error) {
	now := cfg.Now()
	ca, caKey := reuseCA(old, now.Add(cfg.Validity))
	if ca == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "smi-adapter-ca"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * cfg.Validity), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			return nil, err
		}
		if ca, err = x509.ParseCertificate(der); err != nil {
			return nil, err
		}
		caKey = k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: cfg.DNSName[0]}, DNSNames: cfg.DNSName,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(cfg.Validity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	caKeyDER, err := x509.MarshalECPrivateKey(caKey)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		KeyCA:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}),
		keyCAKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: caKeyDER}),
		KeyCert:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyKey:   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func reuseCA(old map[string][]byte, until time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	ca, err := parseCert(old[KeyCA])
	if err != nil || ca.NotAfter.Before(until) {
		return nil, nil
	}
	b, _ := pem.Decode(old[keyCAKey])
	if b == nil {
		return nil, nil
	}
	k, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return nil, nil
	}
	return ca, k
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// write puts tls.crt and tls.key into dir when they differ (the webhook
// server's certificate watcher picks up the change).
func write(dir string, data map[string][]byte) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, k := range []string{KeyCert, KeyKey} {
		path := filepath.Join(dir, k)
		if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data[k]) {
			continue
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data[k], 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
}

func injectAll(ctx context.Context, c client.Client, cfg Config, ca []byte) error {
	if err := inject(ctx, c, cfg.CRDs, ca); err != nil {
		return err
	}
	return injectAPIServices(ctx, c, cfg.APIServices, ca)
}

// injectAPIServices sets the CA as caBundle of each APIService. A missing
// APIService is not an error (the metrics API may not be installed).
func injectAPIServices(ctx context.Context, c client.Client, names []string, ca []byte) error {
	for _, name := range names {
		as := &apiregistrationv1.APIService{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, as); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("get APIService %s: %w", name, err)
		}
		if bytes.Equal(as.Spec.CABundle, ca) {
			continue
		}
		patch := client.MergeFrom(as.DeepCopy())
		as.Spec.CABundle = ca
		if err := c.Patch(ctx, as, patch); err != nil {
			return fmt.Errorf("inject CA into APIService %s: %w", name, err)
		}
	}
	return nil
}

// inject sets the CA as caBundle of each CRD's conversion webhook.
func inject(ctx context.Context, c client.Client, crds []string, ca []byte) error {
	for _, name := range crds {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return fmt.Errorf("get CRD %s: %w", name, err)
		}
		conv := crd.Spec.Conversion
		if conv == nil || conv.Webhook == nil || conv.Webhook.ClientConfig == nil || bytes.Equal(conv.Webhook.ClientConfig.CABundle, ca) {
			continue
		}
		patch := client.MergeFrom(crd.DeepCopy())
		conv.Webhook.ClientConfig.CABundle = ca
		if err := c.Patch(ctx, crd, patch); err != nil {
			return fmt.Errorf("inject CA into CRD %s: %w", name, err)
		}
	}
	return nil
}

// Rotator re-runs Ensure periodically in every replica (a manager Runnable).
type Rotator struct {
	Client client.Client
	Config Config
	Every  time.Duration
}

// Start implements manager.Runnable.
func (r *Rotator) Start(ctx context.Context) error {
	every := r.Every
	if every == 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := Ensure(ctx, r.Client, r.Config); err != nil {
				logf.FromContext(ctx).Error(err, "certificate rotation")
			}
		}
	}
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every replica
// serves the webhook, so every replica keeps its certificate files current.
func (r *Rotator) NeedLeaderElection() bool { return false }
