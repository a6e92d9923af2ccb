package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

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

func serialFor(t *testing.T, s *Store, name string) int64 {
	t.Helper()
	c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c.Leaf.SerialNumber.Int64()
}

// newDirStore is a store of three files in a directory: shop (1), a
// wildcard (2) and the default (3). It returns the directory too.
func newDirStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	writeCert(t, dir, "shop", 1, "shop.test", "www.shop.test")
	writeCert(t, dir, "wild", 2, "*.apps.test")
	writeCert(t, dir, "default", 3, "fallback.test")
	s, err := New(Options{Dir: dir, Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestStore_SelectsBySNIWithWildcardsAndDefault(t *testing.T) {
	s, _ := newDirStore(t)
	for name, want := range map[string]int64{"shop.test": 1, "WWW.shop.test.": 1, "a.apps.test": 2, "other.test": 3, "": 3} {
		if got := serialFor(t, s, name); got != want {
			t.Errorf("%q: certificate %d, want %d", name, got, want)
		}
	}
}

// serve serves TLS with s's configuration on loopback until the test
// ends and returns the address.
func serve(t *testing.T, s *Store, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: s.TLSConfig(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(discardLog.Handler(), slog.LevelError)}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// handshake dials addr with SNI name (none when empty) and returns the
// leaf served and the protocol negotiated.
func handshake(t *testing.T, addr, name string) (*x509.Certificate, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatalf("handshake with %q: %v", name, err)
	}
	defer conn.Close()
	st := conn.ConnectionState()
	return st.PeerCertificates[0], st.NegotiatedProtocol
}

func TestStore_TLSConfigServesBySNIAndOffersHTTP2(t *testing.T) {
	s, _ := newDirStore(t)
	addr := serve(t, s, http.NotFoundHandler())
	for name, want := range map[string]int64{"shop.test": 1, "x.apps.test": 2, "unknown.test": 3, "": 3} {
		leaf, proto := handshake(t, addr, name)
		if got := leaf.SerialNumber.Int64(); got != want || proto != "h2" {
			t.Errorf("SNI %q: certificate %d over %q, want %d over h2", name, got, proto, want)
		}
	}
}

func TestStore_ReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "shop", 1, "shop.test")
	s, err := New(Options{Dir: dir, Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx, 20*time.Millisecond)
	writeCert(t, dir, "shop", 7, "shop.test")
	deadline := time.Now().Add(5 * time.Second)
	for serialFor(t, s, "shop.test") != 7 {
		if time.Now().After(deadline) {
			t.Fatal("the rewritten certificate was not picked up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A broken file keeps the previous certificate.
	_ = os.WriteFile(filepath.Join(dir, "shop.crt"), []byte("garbage"), 0o644)
	time.Sleep(100 * time.Millisecond) // several reload periods: nothing may change
	if got := serialFor(t, s, "shop.test"); got != 7 {
		t.Fatalf("after a broken file: serial %d", got)
	}
}

func TestStore_NeedsCertificates(t *testing.T) {
	if _, err := New(Options{Dir: t.TempDir()}); err == nil {
		t.Fatal("no error for an empty certificate directory")
	}
}
