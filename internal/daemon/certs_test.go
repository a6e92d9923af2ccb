package daemon

import (
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
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/proxy/certs"
)

// writeCert writes a self-signed certificate for names, with serial as
// its serial number, as dir/base.crt and .key, and returns both paths.
func writeCert(t *testing.T, dir, base string, serial int64, names ...string) (crt, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	crt, key = filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return crt, key
}

func TestRouteCerts_TheProxysRoutesReachTheStore(t *testing.T) {
	if proxyCerts(nil) != nil {
		t.Fatal("no store is not a nil proxy.Certs")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	defCrt, defKey := writeCert(t, dir, "default", 3, "default.test")
	store, err := certs.New(certs.Options{DefaultCert: defCrt, DefaultKey: defKey, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	px := proxy.New(proxy.Options{Logger: log, Certs: proxyCerts(store)})
	key := proxy.RouteKey{App: "own", Env: "production", Service: "web"}
	pool := proxy.NewPool(key, "r1", []proxy.Target{{ID: "c1", Name: "own-1", Addr: "127.0.0.1:1"}}, proxy.HealthConfig{}, log)
	defer pool.Close()
	serial := func(name string) int64 {
		t.Helper()
		c, err := store.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return c.Leaf.SerialNumber.Int64()
	}

	crt, k := writeCert(t, dir, "own", 10, "own.test")
	o := proxy.RouteOptions{TLSCert: crt, TLSKey: k}
	// A deploy naming a certificate that does not cover its hosts is
	// refused with the reason.
	_, err = px.SetRouteOptions(key, []string{"other.test"}, pool, o)
	if want := "route own/production/web: certificate " + crt + " does not cover host other.test (it names own.test)"; err == nil || err.Error() != want {
		t.Fatalf("a certificate for another host: %v, want %q", err, want)
	}
	if _, err := px.SetRouteOptions(key, []string{"own.test"}, pool, o); err != nil {
		t.Fatal(err)
	}
	if got := serial("own.test"); got != 10 {
		t.Fatalf("the route's certificate: %d", got)
	}
	px.RemoveRoute(key)
	if got := serial("own.test"); got != 3 {
		t.Fatalf("after the route left: certificate %d, want the default", got)
	}
}
