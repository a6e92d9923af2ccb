package acmetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// Options say where pebble validates challenges.
type Options struct {
	// HTTPPort is the port pebble connects to for http-01 challenges
	// (the host names resolve to 127.0.0.1); TLSPort the one for
	// tls-alpn-01. Zero: a closed port, so that challenge type fails.
	HTTPPort, TLSPort int
}

// Pebble is a running pebble.
type Pebble struct {
	// DirectoryURL is the ACME directory.
	DirectoryURL string
	// CAFile is a PEM file of the CA that signed pebble's own HTTPS
	// certificate: what an ACME client must trust to reach DirectoryURL.
	CAFile string

	mgmt  string // management address
	trust *x509.CertPool
	out   *testutil.SyncBuffer
}

// Binary returns the path of the pebble binary, or "" when there is none.
func Binary() string {
	if p := os.Getenv("BERTH_PEBBLE"); p != "" {
		return p
	}
	if p, err := exec.LookPath("pebble"); err == nil {
		return p
	}
	dir, err := os.Getwd()
	for err == nil {
		p := filepath.Join(dir, ".cache", "bin", "pebble")
		if _, serr := os.Stat(p); serr == nil {
			return p
		}
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

// Require returns the pebble binary, skipping the test when there is none
// (failing it when BERTH_REQUIRE_DOCKER=1, as in CI).
func Require(t testing.TB) string {
	t.Helper()
	p := Binary()
	if p == "" {
		msg := "pebble not found: run scripts/ensure-test-deps (installs it into .cache/bin) or set BERTH_PEBBLE"
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// Start runs pebble on loopback until the test ends. Challenges are
// validated for real (PEBBLE_VA_ALWAYS_VALID is not set); the random
// validation sleeps and bad-nonce injections are off to keep tests fast
// and deterministic.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	bin := Require(t)
	dir := t.TempDir()
	caFile, trust := writeServerCert(t, dir)
	dns := startDNS(t)
	listen, mgmt := freeAddr(t), freeAddr(t)
	if o.HTTPPort == 0 {
		o.HTTPPort = closedPort(t)
	}
	if o.TLSPort == 0 {
		o.TLSPort = closedPort(t)
	}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           listen,
		"managementListenAddress": mgmt,
		"certificate":             filepath.Join(dir, "server.crt"),
		"privateKey":              filepath.Join(dir, "server.key"),
		"httpPort":                o.HTTPPort,
		"tlsPort":                 o.TLSPort,
		"keyAlgorithm":            "ecdsa",
		"retryAfter":              map[string]int{"authz": 0, "order": 0},
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Pebble{DirectoryURL: "https://" + listen + "/dir", CAFile: caFile, mgmt: mgmt, trust: trust, out: &testutil.SyncBuffer{}}
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", dns)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pebble: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("pebble's log:\n%s", p.out.String())
		}
	})
	client := p.httpClient()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(p.DirectoryURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("pebble exited:\n%s", p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not answer at %s within 15s (%v):\n%s", p.DirectoryURL, err, p.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a starting process
	}
	return p
}

func (p *Pebble) httpClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.trust}}}
}

// Roots returns pebble's issuing root (management endpoint /roots/0):
// what a client trusts to verify the certificates pebble issues.
func (p *Pebble) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	resp, err := p.httpClient().Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pebble /roots/0: %d %v", resp.StatusCode, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble /roots/0: no certificate in %q", b)
	}
	return pool
}

// Orders returns how many orders pebble has received.
func (p *Pebble) Orders() int {
	return strings.Count(p.out.String(), "Added order")
}

// Log returns what pebble has printed.
func (p *Pebble) Log() string { return p.out.String() }

// writeServerCert writes a CA (ca.crt) and a certificate for 127.0.0.1
// and localhost signed by it (server.crt/.key) into dir.
func writeServerCert(t testing.TB, dir string) (string, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acmetest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := map[string][]byte{
		"ca.crt":     caPEM,
		"server.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return filepath.Join(dir, "ca.crt"), pool
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	var n int
	fmt.Sscan(port, &n)
	return n
}

var errShort = errors.New("short DNS message")
