package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// fastHealth is a health config small enough for tests.
func fastHealth() HealthConfig {
	return HealthConfig{Path: "/up", Interval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond,
		HealthyThreshold: 1, UnhealthyThreshold: 2}
}

// backend is an httptest app container: /up answers 200 while up is true,
// every other path answers its name (or runs handler when set).
type backend struct {
	*httptest.Server
	name    string
	up      atomic.Bool
	newConn atomic.Int64
	hits    atomic.Int64
}

func newBackend(t *testing.T, name string, handler http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	b.up.Store(true)
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/up" {
			if !b.up.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
			return
		}
		b.hits.Add(1)
		if handler != nil {
			handler(w, r)
			return
		}
		io.WriteString(w, name)
	}))
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.newConn.Add(1)
		}
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

func (b *backend) target() Target {
	return Target{ID: "id-" + b.name, Name: b.name, Addr: b.Listener.Addr().String()}
}

// newPool builds a pool over backends, closed at cleanup.
func newPool(t *testing.T, key RouteKey, release string, hc HealthConfig, bs ...*backend) *Pool {
	t.Helper()
	var ts []Target
	for _, b := range bs {
		ts = append(ts, b.target())
	}
	p := NewPool(key, release, ts, hc, discardLog)
	t.Cleanup(p.Close)
	return p
}

// waitHealthy waits until n targets of p are healthy.
func waitHealthy(t *testing.T, p *Pool, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.WaitHealthy(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// newProxyServer returns a proxy and an HTTP server in front of it (the
// server testServerKind names).
func newProxyServer(t *testing.T) (*Proxy, *httptest.Server) {
	t.Helper()
	px := New(Options{Logger: discardLog})
	return px, newTestServer(t, px)
}

// routeTo builds a healthy pool over bs and routes hosts to it.
func routeTo(t *testing.T, px *Proxy, key RouteKey, hosts []string, bs ...*backend) *Pool {
	t.Helper()
	p := newPool(t, key, "r1", fastHealth(), bs...)
	waitHealthy(t, p, len(bs))
	if _, err := px.SetRoute(key, hosts, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// idleConns returns how many connections to the app p's fast client
// holds idle.
func idleConns(p *Pool) int {
	return p.rp.Transport.(*poolTransport).fast.IdleIn(-1)
}

// waitIdleConn waits until p holds an idle connection to the app, for
// the next request to reuse: a goroutine that answered a request puts
// its connection back just after the client may have read the answer.
func waitIdleConn(t *testing.T, p *Pool) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, "an idle app connection", func() bool { return idleConns(p) > 0 })
}

// keepAlive is one client connection that sends requests one by one.
type keepAlive struct {
	c  net.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAlive {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &keepAlive{c: c, br: bufio.NewReader(c)}
}

// get sends GET path (or HEAD) and returns the response and its body.
func (k *keepAlive) get(t *testing.T, method, path string) (*http.Response, string) {
	t.Helper()
	if _, err := fmt.Fprintf(k.c, "%s %s HTTP/1.1\r\nHost: shop.test\r\n\r\n", method, path); err != nil {
		t.Fatal(err)
	}
	for {
		r, err := http.ReadResponse(k.br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("%s %s: body: %v", method, path, err)
		}
		if r.StatusCode >= 200 {
			return r, string(body)
		}
	}
}

// get sends GET url with Host host and returns the status and body.
func get(t *testing.T, c *http.Client, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// upgradeEcho is a backend handler that switches to "test-proto" by
// hijacking and then echoes every line it reads.
func upgradeEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "test-proto") {
		http.Error(w, "want upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test-proto\r\n\r\n")
	brw.Flush()
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		brw.WriteString("echo " + line)
		brw.Flush()
	}
}

// dialUpgrade opens a raw connection to addr and upgrades it to
// test-proto with Host host.
func dialUpgrade(t *testing.T, addr, host string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: test-proto\r\n\r\n", host)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: status %d", resp.StatusCode)
	}
	return conn, br
}

// echo sends a line over an upgraded connection and checks the echo.
func echo(t *testing.T, conn net.Conn, br *bufio.Reader, msg string) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s\n", msg); err != nil {
		t.Fatal(err)
	}
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if line != "echo "+msg+"\n" {
		t.Fatalf("echo: got %q", line)
	}
}

// newBackendB is a backend answering "ok" for benchmarks.
func newBackendB(b *testing.B) *httptest.Server {
	b.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	b.Cleanup(s.Close)
	return s
}

func newServerB(b *testing.B, h http.Handler) *httptest.Server {
	b.Helper()
	s := httptest.NewServer(h)
	b.Cleanup(s.Close)
	return s
}

func waitHealthyB(b *testing.B, p *Pool) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.WaitHealthy(ctx, 1); err != nil {
		b.Fatal(err)
	}
}
