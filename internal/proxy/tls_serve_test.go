package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

// tlsProxy is a proxy served over TLS (HTTP/2 and HTTP/1.1 by ALPN) as
// the daemon serves it, with one certificate for every name.
type tlsProxy struct {
	px    *Proxy
	addr  string
	roots *x509.CertPool
}

// selfSigned returns a certificate for names and a pool that trusts it.
func selfSigned(t *testing.T, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

func newTLSProxy(t *testing.T, names ...string) *tlsProxy {
	t.Helper()
	cert, roots := selfSigned(t, names...)
	px := New(Options{Logger: discardLog})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: px, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return &tlsProxy{px: px, addr: ln.Addr().String(), roots: roots}
}

// client returns an HTTP/2-enabled client that verifies with the proxy's
// certificate and connects every name to the proxy.
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

func TestProxy_TLSWithHTTP2AndForwardedProto(t *testing.T) {
	tp := newTLSProxy(t, "shop.test", "www.shop.test")
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
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestProxy_RedirectHTTPSOnlyOnPlainHTTP(t *testing.T) {
	tp := newTLSProxy(t, "shop.test")
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

// fakeCerts records what the proxy tells its certificate store and
// refuses the certificate files named bad.
type fakeCerts struct {
	px      *Proxy
	checked [][]string // hosts, cert, key of each CheckCert
	told    [][]RoutedHosts
	swapped []bool // whether the table had the routes told when told
}

func (f *fakeCerts) CheckCert(hosts []string, cert, key string) error {
	f.checked = append(f.checked, append(slices.Clone(hosts), cert, key))
	if cert == "bad.crt" {
		return errors.New("certificate bad.crt does not cover host x")
	}
	return nil
}

func (f *fakeCerts) SetRoutes(rs []RoutedHosts) {
	f.told = append(f.told, rs)
	t := f.px.table.Load() // the lock is held: no Proxy method
	ok := len(t.byKey) == len(rs)
	for _, r := range rs {
		ok = ok && t.byKey[r.Key] != nil && slices.Equal(t.byKey[r.Key].hosts, r.Hosts)
	}
	f.swapped = append(f.swapped, ok)
}

func TestProxy_TellsCertsTheRoutesAfterEachSwap(t *testing.T) {
	f := &fakeCerts{}
	px := New(Options{Logger: discardLog, Certs: f})
	f.px = px
	a := RouteKey{App: "a", Env: "production", Service: "web"}
	b := RouteKey{App: "b", Env: "production", Service: "web"}
	pa := newPool(t, a, "r1", fastHealth(), newBackend(t, "a", nil))
	pb := newPool(t, b, "r1", fastHealth(), newBackend(t, "b", nil))
	if _, err := px.SetRouteOptions(a, []string{"A.test:80", "www.a.test."}, pa, RouteOptions{TLSCert: "a.crt", TLSKey: "a.key"}); err != nil {
		t.Fatal(err)
	}
	if _, err := px.SetRoute(b, []string{"b.test"}, pb); err != nil {
		t.Fatal(err)
	}
	// A certificate the store refuses refuses the route, with its reason
	// after the route's name, and changes nothing.
	_, err := px.SetRouteOptions(b, []string{"b.test"}, pb, RouteOptions{TLSCert: "bad.crt", TLSKey: "bad.key"})
	if err == nil || err.Error() != "route b/production/web: certificate bad.crt does not cover host x" {
		t.Fatalf("a bad certificate: %v", err)
	}
	if o, _ := px.RouteOptionsOf(b); o.TLSCert != "" {
		t.Fatalf("the refused route was set: %+v", o)
	}
	px.RemoveRoute(a)

	wantChecked := [][]string{{"a.test", "www.a.test", "a.crt", "a.key"}, {"b.test", "", ""}, {"b.test", "bad.crt", "bad.key"}}
	if !slices.EqualFunc(f.checked, wantChecked, slices.Equal) {
		t.Errorf("checked %q, want %q", f.checked, wantChecked)
	}
	ra := RoutedHosts{Key: a, Hosts: []string{"a.test", "www.a.test"}, TLSCert: "a.crt", TLSKey: "a.key"}
	rb := RoutedHosts{Key: b, Hosts: []string{"b.test"}}
	want := [][]RoutedHosts{{ra}, {ra, rb}, {rb}}
	eq := func(x, y RoutedHosts) bool {
		return x.Key == y.Key && slices.Equal(x.Hosts, y.Hosts) && x.TLSCert == y.TLSCert && x.TLSKey == y.TLSKey
	}
	if !slices.EqualFunc(f.told, want, func(x, y []RoutedHosts) bool { return slices.EqualFunc(x, y, eq) }) {
		t.Errorf("told %+v, want %+v", f.told, want)
	}
	if slices.Contains(f.swapped, false) {
		t.Errorf("told before the table had the routes: %v", f.swapped)
	}
}
