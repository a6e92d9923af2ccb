package certs

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

// acmeServer is a store with ACME served on an HTTPS and an HTTP
// listener, as the daemon serves it, in front of a handler that answers
// "HOST PROTO".
type acmeServer struct {
	certs      *Store
	acme       *ACME
	https, web net.Listener
}

// listenPair opens the two listeners first: pebble must know their ports.
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

// startACME serves a store with ACME from pb on https and web, with the
// certificate cache in cacheDir; run starts the prefetcher.
func startACME(t *testing.T, pb *acmetest.Pebble, https, web net.Listener, cacheDir string, run bool) *acmeServer {
	t.Helper()
	s, err := New(Options{Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.EnableACME(ACMEOptions{DirectoryURL: pb.DirectoryURL, CARootFile: pb.CAFile, CacheDir: cacheDir, Email: "ops@berth.test", Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto := "http"
		if r.TLS != nil {
			proto = "https"
		}
		io.WriteString(w, r.Host+" "+proto)
	})
	tlsSrv := &http.Server{Handler: app, TLSConfig: s.TLSConfig(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(discardLog.Handler(), slog.LevelError)}
	webSrv := &http.Server{Handler: a.HTTPHandler(app), ReadHeaderTimeout: 5 * time.Second}
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
	return &acmeServer{certs: s, acme: a, https: https, web: web}
}

// httpsGet requests https://host/ through as trusting roots.
func (as *acmeServer) httpsGet(t *testing.T, roots *x509.CertPool, host string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", as.https.Addr().String())
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

// handshake dials as with SNI host and returns the leaf or the error.
func (as *acmeServer) handshake(host string) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", as.https.Addr().String(),
		&tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// ready reports whether ACME holds a certificate for host.
func (as *acmeServer) ready(host string) bool {
	as.acme.mu.Lock()
	defer as.acme.mu.Unlock()
	h := as.acme.hosts[host]
	return h != nil && h.ready
}

func TestACME_IssuesOnFirstHandshakeCachesAndReusesAfterRestart(t *testing.T) {
	https, web := listenPair(t)
	pb := acmetest.Start(t, acmetest.Options{HTTPPort: port(web), TLSPort: port(https)})
	cache := t.TempDir()
	as := startACME(t, pb, https, web, cache, false)
	const host = "acme.berth.test"
	// A host with a certificate file keeps it: no order for it.
	own := t.TempDir()
	writeCert(t, own, "own", 77, "own.berth.test")
	routes := []Route{
		{Name: "acme/production/web", Hosts: []string{host}},
		{Name: "own/production/web", Hosts: []string{"own.berth.test"},
			CertFile: filepath.Join(own, "own.crt"), KeyFile: filepath.Join(own, "own.key")},
	}
	as.certs.SetRoutes(routes)

	roots := pb.Roots(t)
	start := time.Now()
	resp, body := as.httpsGet(t, roots, host)
	t.Logf("first request to %s (certificate issued during the handshake): %v", host, time.Since(start).Round(time.Millisecond))
	if resp.StatusCode != 200 || body != host+" https" {
		t.Fatalf("over https: %d %q", resp.StatusCode, body)
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

	if c, err := as.handshake("own.berth.test"); err != nil || c.SerialNumber.Int64() != 77 {
		t.Fatalf("a host with a certificate file: %v %v", c, err)
	}
	if c, err := as.handshake("nobody.berth.test"); err == nil {
		t.Fatalf("a host no app is routed to got a certificate for %v", c.DNSNames)
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("%d orders after the file and unrouted hosts, want 1", n)
	}

	// Restart: a new store on the same cache serves the same certificate
	// without asking the CA.
	as.https.Close()
	as.web.Close()
	https2, web2 := listenPair(t)
	as2 := startACME(t, pb, https2, web2, cache, true)
	as2.certs.SetRoutes(routes)
	resp, body = as2.httpsGet(t, roots, host)
	if resp.StatusCode != 200 || body != host+" https" {
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
	as := startACME(t, pb, https, web, t.TempDir(), true)
	const host = "early.berth.test"
	start := time.Now()
	as.certs.SetRoutes([]Route{{Name: "early/production/web", Hosts: []string{host}}})
	deadline := time.Now().Add(60 * time.Second)
	for !as.ready(host) {
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s 60s after its route appeared; pebble:\n%s", host, pb.Log())
		}
		time.Sleep(20 * time.Millisecond) // polling the prefetcher
	}
	t.Logf("certificate for %s ready %v after its route appeared, before any client (http-01 after tls-alpn-01 failed)", host, time.Since(start).Round(time.Millisecond))
	orders := pb.Orders()
	resp, body := as.httpsGet(t, pb.Roots(t), host)
	if resp.StatusCode != 200 || body != host+" https" {
		t.Fatalf("over https: %d %q", resp.StatusCode, body)
	}
	if pb.Orders() != orders {
		t.Fatalf("the first visitor caused an order")
	}
	if !strings.Contains(pb.Log(), "validate w/ HTTP") {
		t.Fatalf("pebble validated no http-01 challenge:\n%s", pb.Log())
	}
}

// TestStore_RoutesChangeWhoGetsWhichCertificate is the contract of
// SetRoutes with a real CA: after the routes change, a host no longer
// routed gets no ACME certificate (not even the one the manager holds),
// and a host newly routed with its own files is served them by SNI,
// without an order.
func TestStore_RoutesChangeWhoGetsWhichCertificate(t *testing.T) {
	https, web := listenPair(t)
	pb := acmetest.Start(t, acmetest.Options{HTTPPort: port(web), TLSPort: port(https)})
	as := startACME(t, pb, https, web, t.TempDir(), true)
	const gone, fresh = "gone.berth.test", "fresh.berth.test"
	as.certs.SetRoutes([]Route{{Name: "gone/production/web", Hosts: []string{gone}}})
	if c, err := as.handshake(gone); err != nil || !strings.Contains(c.Issuer.CommonName, "Pebble") {
		t.Fatalf("a routed host: %v %v", c, err)
	}
	orders := pb.Orders()

	own := t.TempDir()
	writeCert(t, own, "fresh", 42, fresh)
	r := Route{Name: "fresh/production/web", Hosts: []string{fresh},
		CertFile: filepath.Join(own, "fresh.crt"), KeyFile: filepath.Join(own, "fresh.key")}
	if err := as.certs.CheckCert(r.Hosts, r.CertFile, r.KeyFile); err != nil {
		t.Fatal(err)
	}
	as.certs.SetRoutes([]Route{r})
	if c, err := as.handshake(gone); err == nil {
		t.Fatalf("a host no longer routed got a certificate for %v from %s", c.DNSNames, c.Issuer.CommonName)
	}
	if c, err := as.handshake(fresh); err != nil || c.SerialNumber.Int64() != 42 {
		t.Fatalf("a newly routed host with its own files: %v %v", c, err)
	}
	if n := pb.Orders(); n != orders {
		t.Fatalf("%d orders after the routes changed, want %d", n, orders)
	}
}
