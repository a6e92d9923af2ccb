package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/acmetest"
)

// acmeProxy is a proxy with ACME served on an HTTPS and an HTTP listener,
// as the daemon serves it.
type acmeProxy struct {
	px         *Proxy
	certs      *CertStore
	acme       *ACME
	https, web net.Listener
}

// listen opens the two listeners first: pebble must know their ports.
func listenPair(t *testing.T) (https, web net.Listener) {
	t.Helper()
	var err error
	if https, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if web, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return https, web
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// startACMEProxy serves a proxy with ACME from pb on https and web, with
// the certificate cache in cacheDir; run starts the prefetcher.
func startACMEProxy(t *testing.T, pb *acmetest.Pebble, https, web net.Listener, cacheDir string, run bool) *acmeProxy {
	t.Helper()
	cs, err := NewCertStore(CertOptions{Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	px := New(Options{Logger: discardLog, Certs: cs})
	a, err := EnableACME(cs, px, ACMEOptions{DirectoryURL: pb.DirectoryURL, CARootFile: pb.CAFile, CacheDir: cacheDir, Email: "ops@berth.test", Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv := &http.Server{Handler: px, TLSConfig: cs.TLSConfig(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(discardLog.Handler(), slog.LevelError)}
	webSrv := &http.Server{Handler: a.HTTPHandler(px), ReadHeaderTimeout: 5 * time.Second}
	go tlsSrv.ServeTLS(https, "", "")
	go webSrv.Serve(web)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if run {
			a.Run(ctx)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		tlsSrv.Close()
		webSrv.Close()
	})
	return &acmeProxy{px: px, certs: cs, acme: a, https: https, web: web}
}

// httpsGet requests https://host/ through ap trusting roots.
func (ap *acmeProxy) httpsGet(t *testing.T, roots *x509.CertPool, host string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", ap.https.Addr().String())
		},
	}}
	resp, err := c.Get("https://" + host + "/")
	if err != nil {
		t.Fatalf("https://%s/: %v", host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// handshake dials ap with SNI host and returns the leaf or the error.
func (ap *acmeProxy) handshake(host string) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", ap.https.Addr().String(),
		&tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func TestACME_IssuesOnFirstHandshakeCachesAndReusesAfterRestart(t *testing.T) {
	https, web := listenPair(t)
	pb := acmetest.Start(t, acmetest.Options{HTTPPort: port(web), TLSPort: port(https)})
	cache := t.TempDir()
	ap := startACMEProxy(t, pb, https, web, cache, false)
	const host = "acme.berth.test"
	b := newBackend(t, "acme", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "acme "+r.Host+" "+r.Header.Get("X-Forwarded-Proto"))
	})
	routeTo(t, ap.px, RouteKey{App: "acme", Env: "production", Service: "web"}, []string{host}, b)
	// A host with a certificate file keeps it: no order for it.
	own := t.TempDir()
	writeCert(t, own, "own", 77, "own.berth.test")
	ownKey := RouteKey{App: "own", Env: "production", Service: "web"}
	ownPool := newPool(t, ownKey, "r1", fastHealth(), newBackend(t, "own", nil))
	waitHealthy(t, ownPool, 1)
	if _, err := ap.px.SetRouteOptions(ownKey, []string{"own.berth.test"}, ownPool,
		RouteOptions{TLSCert: filepath.Join(own, "own.crt"), TLSKey: filepath.Join(own, "own.key")}); err != nil {
		t.Fatal(err)
	}

	roots := pb.Roots(t)
	start := time.Now()
	resp, body := ap.httpsGet(t, roots, host)
	t.Logf("first request to %s (certificate issued during the handshake): %v", host, time.Since(start).Round(time.Millisecond))
	if resp.StatusCode != 200 || body != "acme "+host+" https" {
		t.Fatalf("through the proxy: %d %q", resp.StatusCode, body)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if !strings.Contains(leaf.Issuer.CommonName, "Pebble") || leaf.VerifyHostname(host) != nil {
		t.Fatalf("certificate for %v issued by %q", leaf.DNSNames, leaf.Issuer.CommonName)
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
	u, _ := url.Parse(pb.DirectoryURL)
	cached := filepath.Join(cache, strings.ReplaceAll(u.Host, ":", "-"), host)
	if _, err := os.Stat(cached); err != nil {
		t.Fatalf("certificate not cached: %v", err)
	}

	if c, err := ap.handshake("own.berth.test"); err != nil || c.SerialNumber.Int64() != 77 {
		t.Fatalf("a host with a certificate file: %v %v", c, err)
	}
	if c, err := ap.handshake("nobody.berth.test"); err == nil {
		t.Fatalf("a host no app is routed to got a certificate for %v", c.DNSNames)
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("%d orders after the file and unrouted hosts, want 1", n)
	}

	// Restart: a new store and proxy on the same cache serve the same
	// certificate without asking the CA.
	ap.https.Close()
	ap.web.Close()
	https2, web2 := listenPair(t)
	ap2 := startACMEProxy(t, pb, https2, web2, cache, true)
	routeTo(t, ap2.px, RouteKey{App: "acme", Env: "production", Service: "web"}, []string{host}, b)
	resp, body = ap2.httpsGet(t, roots, host)
	if resp.StatusCode != 200 || body != "acme "+host+" https" {
		t.Fatalf("after restart: %d %q", resp.StatusCode, body)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber; got.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("after restart: certificate %s, want the cached %s", got, leaf.SerialNumber)
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("%d orders after restart, want 1 (the cached certificate)", n)
	}
}

func TestACME_PrefetchesWhenARouteAppearsAndFallsBackToHTTP01(t *testing.T) {
	https, web := listenPair(t)
	// No tls-alpn-01 port: autocert's first choice fails, http-01 on the
	// HTTP listener is used.
	pb := acmetest.Start(t, acmetest.Options{HTTPPort: port(web)})
	cache := t.TempDir()
	ap := startACMEProxy(t, pb, https, web, cache, true)
	const host = "early.berth.test"
	start := time.Now()
	routeTo(t, ap.px, RouteKey{App: "early", Env: "production", Service: "web"}, []string{host}, newBackend(t, "early", nil))
	deadline := time.Now().Add(60 * time.Second)
	for {
		ap.acme.mu.Lock()
		h := ap.acme.hosts[host]
		ready := h != nil && h.ready
		ap.acme.mu.Unlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s 60s after its route appeared; pebble:\n%s", host, pb.Log())
		}
		time.Sleep(20 * time.Millisecond) // polling the prefetcher
	}
	t.Logf("certificate for %s ready %v after its route appeared, before any client (http-01 after tls-alpn-01 failed)", host, time.Since(start).Round(time.Millisecond))
	orders := pb.Orders()
	resp, body := ap.httpsGet(t, pb.Roots(t), host)
	if resp.StatusCode != 200 || body != "early" {
		t.Fatalf("through the proxy: %d %q", resp.StatusCode, body)
	}
	if pb.Orders() != orders {
		t.Fatalf("the first visitor caused an order")
	}
	if !strings.Contains(pb.Log(), "validate w/ HTTP") {
		t.Fatalf("pebble validated no http-01 challenge:\n%s", pb.Log())
	}
}
