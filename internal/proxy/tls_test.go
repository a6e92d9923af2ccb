package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for names as dir/base.crt
// and .key, with serial as its serial number.
func writeCert(t *testing.T, dir, base string, serial int64, names ...string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	// Write the key first: a reload between the two writes sees a pair
	// that does not match and keeps the previous table.
	if err := os.WriteFile(filepath.Join(dir, base+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, base+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func serialFor(t *testing.T, cs *CertStore, name string) int64 {
	t.Helper()
	c, err := cs.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c.Leaf.SerialNumber.Int64()
}

func TestCertStore_SelectsBySNIWithWildcardsAndDefault(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "shop", 1, "shop.test", "www.shop.test")
	writeCert(t, dir, "wild", 2, "*.apps.test")
	writeCert(t, dir, "default", 3, "fallback.test")
	cs, err := NewCertStore(CertOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{"shop.test": 1, "WWW.shop.test.": 1, "a.apps.test": 2, "other.test": 3, "": 3} {
		if got := serialFor(t, cs, name); got != want {
			t.Errorf("%q: certificate %d, want %d", name, got, want)
		}
	}
}

func TestCertStore_ReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "shop", 1, "shop.test")
	cs, err := NewCertStore(CertOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cs.Run(ctx, 20*time.Millisecond)
	writeCert(t, dir, "shop", 7, "shop.test")
	deadline := time.Now().Add(5 * time.Second)
	for serialFor(t, cs, "shop.test") != 7 {
		if time.Now().After(deadline) {
			t.Fatal("the rewritten certificate was not picked up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A broken file keeps the previous certificate.
	_ = os.WriteFile(filepath.Join(dir, "shop.crt"), []byte("garbage"), 0o644)
	time.Sleep(100 * time.Millisecond) // several reload periods: nothing may change
	if got := serialFor(t, cs, "shop.test"); got != 7 {
		t.Fatalf("after a broken file: serial %d", got)
	}
}

func TestCertStore_NeedsCertificates(t *testing.T) {
	if _, err := NewCertStore(CertOptions{Dir: t.TempDir()}); err == nil {
		t.Fatal("no error for an empty certificate directory")
	}
}
