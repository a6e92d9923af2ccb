package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/testutil"
)

func selfSigned(t *testing.T, dir, base string, names ...string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	_ = os.WriteFile(filepath.Join(dir, base+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	_ = os.WriteFile(filepath.Join(dir, base+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func TestTLS_SNIAndHTTP2ThroughTheProxy(t *testing.T) {
	eng := requireDocker(t)
	certs := t.TempDir()
	name, host := newApp(t, eng)
	selfSigned(t, certs, "app", host)
	selfSigned(t, certs, "default", "default.test")
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) {
		c.HTTPSAddr, c.CertDir = "127.0.0.1:0", certs
	})
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	client := func(sni string) *http.Client {
		return &http.Client{Transport: &http.Transport{
			ForceAttemptHTTP2: true,
			TLSClientConfig:   &tls.Config{ServerName: sni, InsecureSkipVerify: true},
		}, Timeout: 10 * time.Second}
	}
	req, _ := http.NewRequest(http.MethodGet, "https://"+s.addrs.HTTPS+"/", nil)
	req.Host = host
	resp, err := client(host).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "v1" || resp.ProtoMajor != 2 {
		t.Fatalf("https: %d %q over HTTP/%d", resp.StatusCode, body, resp.ProtoMajor)
	}
	if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != host {
		t.Fatalf("SNI %s got the certificate of %s", host, cn)
	}
	// An unknown name gets the default certificate (and berth's 404).
	req2, _ := http.NewRequest(http.MethodGet, "https://"+s.addrs.HTTPS+"/", nil)
	req2.Host = "nobody.test"
	resp2, err := client("nobody.test").Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if cn := resp2.TLS.PeerCertificates[0].Subject.CommonName; cn != "default.test" || resp2.StatusCode != 404 {
		t.Fatalf("unknown SNI: certificate %s, status %d", cn, resp2.StatusCode)
	}
}

func TestRouteOptions_RedirectAndBodyLimitFromXBerth(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	app := loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})
	app.Services[0].MaxBodyBytes = new(int64(1024))
	if _, err := s.deploy(t, app); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addrs.HTTP+"/", strings.NewReader(strings.Repeat("x", 4096)))
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the limit: %d", resp.StatusCode)
	}
	app = loadApp(t, name, host, appOpts{Version: "v2", Replicas: 1})
	app.Services[0].RedirectHTTPS = true
	if _, err := s.deploy(t, app); err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ = http.NewRequest(http.MethodGet, "http://"+s.addrs.HTTP+"/a?b=c", nil)
	req.Host = host
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://"+host+"/a?b=c" {
		t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestErrorPages_TheAppsOwnPageWhenNothingIsHealthy(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "busy.html"), []byte("<h1>shop is busy</h1>"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "lost.html"), []byte("<h1>no such page in shop</h1>"), 0o644)
	compose := filepath.Join(dir, "compose.yaml")
	_ = os.WriteFile(compose, []byte(`name: `+name+`
services:
  web:
    image: `+image(t).Ref+`
    environment: { VERSION: v1 }
    x-berth: { port: 8080, hosts: [`+host+`], paths: [/shop], healthcheck: { path: /up, interval: 100ms, unhealthy_threshold: 1 } }
x-berth:
  error_pages: { "503": busy.html, "404": lost.html }
`), 0o644)
	if code, out, errOut := s.berth(t, "deploy", "-f", compose); code != 0 {
		t.Fatalf("deploy: %s %s", out, errOut)
	}
	if code, body := get(t, s.addrs.HTTP, host, "/elsewhere"); code != 404 || body != "<h1>no such page in shop</h1>" {
		t.Fatalf("GET /elsewhere on the app's host = %d %q; want 404 with the app's page", code, body)
	}
	if code, _ := get(t, s.addrs.HTTP, host, "/shop/up"); code != 200 {
		t.Fatalf("GET /shop/up = %d; want 200 from the app", code)
	}
	cs, _ := eng.ListContainers(t.Context(), map[string]string{"berth.app": name})
	for _, c := range cs {
		if err := eng.StopContainer(t.Context(), c.ID, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "the app's 503 page", func() bool {
		code, body := get(t, s.addrs.HTTP, host, "/shop")
		return code == 503 && body == "<h1>shop is busy</h1>"
	})
}
