package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tlsProxy is a proxy served over TLS as the daemon serves it.
type tlsProxy struct {
	px    *Proxy
	certs *CertStore
	addr  string
	roots *x509.CertPool
	dir   string
}

func newTLSProxy(t *testing.T) *tlsProxy {
	t.Helper()
	dir := t.TempDir()
	writeCert(t, dir, "shop", 1, "shop.test", "www.shop.test")
	writeCert(t, dir, "wild", 2, "*.apps.test")
	writeCert(t, dir, "default", 3, "fallback.test")
	cs, err := NewCertStore(CertOptions{Dir: dir, Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	px := New(Options{Logger: discardLog, Certs: cs})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: px, TLSConfig: cs.TLSConfig(), ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return &tlsProxy{px: px, certs: cs, addr: ln.Addr().String(), roots: x509.NewCertPool(), dir: dir}
}

// trust adds dir/base.crt to the client's roots.
func (tp *tlsProxy) trust(t *testing.T, dir, base string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, base+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	tp.roots.AppendCertsFromPEM(b)
}

// client returns an HTTP/2-enabled client that verifies with the trusted
// roots and connects every name to the proxy.
func (tp *tlsProxy) client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			ForceAttemptHTTP2: true,
			TLSClientConfig:   &tls.Config{RootCAs: tp.roots},
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", tp.addr)
			},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// serial handshakes with SNI name (none when empty) and returns the
// serial of the certificate served.
func (tp *tlsProxy) serial(t *testing.T, name string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", tp.addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with %q: %v", name, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestProxy_TLSBySNIWithHTTP2AndForwardedProto(t *testing.T) {
	tp := newTLSProxy(t)
	tp.trust(t, tp.dir, "shop")
	b := newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Forwarded-Proto")+" "+r.Host)
	})
	routeTo(t, tp.px, RouteKey{App: "shop", Env: "production", Service: "web"}, []string{"shop.test", "www.shop.test"}, b)
	c := tp.client()
	for _, method := range []string{"GET", "POST"} { // fast path, ReverseProxy path
		req, _ := http.NewRequest(method, "https://www.shop.test/x", nil)
		if method == "POST" {
			req.Body = io.NopCloser(io.LimitReader(zeroReader{}, 10))
			req.ContentLength = -1
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 || string(body) != "https www.shop.test" {
			t.Fatalf("%s: %d %s %q", method, resp.StatusCode, resp.Proto, body)
		}
		if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 1 {
			t.Fatalf("certificate %d, want 1", got)
		}
	}
	for name, want := range map[string]int64{"shop.test": 1, "x.apps.test": 2, "unknown.test": 3, "": 3} {
		if got := tp.serial(t, name); got != want {
			t.Errorf("SNI %q: certificate %d, want %d", name, got, want)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestProxy_RouteCertificateAndReload(t *testing.T) {
	tp := newTLSProxy(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tp.certs.Run(ctx, 20*time.Millisecond)

	own := t.TempDir()
	writeCert(t, own, "own", 10, "own.test")
	key := RouteKey{App: "own", Env: "production", Service: "web"}
	b := newBackend(t, "own", nil)
	p := newPool(t, key, "r1", fastHealth(), b)
	waitHealthy(t, p, 1)
	o := RouteOptions{TLSCert: filepath.Join(own, "own.crt"), TLSKey: filepath.Join(own, "own.key")}
	// A certificate that does not cover the hosts is refused.
	if _, err := tp.px.SetRouteOptions(key, []string{"other.test"}, p, o); err == nil {
		t.Fatal("a certificate for own.test accepted for other.test")
	}
	if _, err := tp.px.SetRouteOptions(key, []string{"own.test"}, p, o); err != nil {
		t.Fatal(err)
	}
	if got := tp.serial(t, "own.test"); got != 10 {
		t.Fatalf("route certificate: %d", got)
	}
	// Rewritten files are picked up without a restart: the directory's
	// and the route's.
	writeCert(t, tp.dir, "shop", 8, "shop.test")
	writeCert(t, own, "own", 11, "own.test")
	deadline := time.Now().Add(5 * time.Second)
	for tp.serial(t, "shop.test") != 8 || tp.serial(t, "own.test") != 11 {
		if time.Now().After(deadline) {
			t.Fatal("rewritten certificates were not picked up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tp.trust(t, own, "own")
	resp, err := tp.client().Get("https://own.test/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "own" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	// Without the route, its host gets the default certificate.
	tp.px.RemoveRoute(key)
	if got := tp.serial(t, "own.test"); got != 3 {
		t.Fatalf("after the route left: certificate %d", got)
	}
}

func TestProxy_RedirectHTTPSOnlyOnPlainHTTP(t *testing.T) {
	tp := newTLSProxy(t)
	tp.trust(t, tp.dir, "shop")
	key := RouteKey{App: "shop", Env: "production", Service: "web"}
	p := newPool(t, key, "r1", fastHealth(), newBackend(t, "shop", nil))
	waitHealthy(t, p, 1)
	if _, err := tp.px.SetRouteOptions(key, []string{"shop.test"}, p, RouteOptions{RedirectHTTPS: true}); err != nil {
		t.Fatal(err)
	}
	plain := &http.Server{Handler: tp.px}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go plain.Serve(ln)
	t.Cleanup(func() { plain.Close() })
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/a/b?c=1&d=2", nil)
	req.Host = "shop.test"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://shop.test/a/b?c=1&d=2" {
		t.Fatalf("plain HTTP: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = tp.client().Get("https://shop.test/a/b?c=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "shop" {
		t.Fatalf("HTTPS: %d %q", resp.StatusCode, body)
	}
}
