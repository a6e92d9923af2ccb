package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy/upstream"
	"github.com/berth-dev/berth/internal/testutil"
)

// rawBackend is a target that writes raw HTTP/1.1 responses: respond gets
// each request (health probes on /up are answered 200) and writes the
// response itself; it returns false to close the connection.
// It keeps the request heads it got, as they came (lastHead).
type rawBackend struct {
	ln    net.Listener
	conns atomic.Int64
	mu    sync.Mutex
	heads []string // but the health probes'
}

func newRawBackend(t *testing.T, respond func(w *bufio.Writer, r *http.Request) (keep bool)) *rawBackend {
	t.Helper()
	return newRawBackendIdle(t, 0, respond)
}

// newRawBackendIdle is newRawBackend closing connections idle for idle.
func newRawBackendIdle(t *testing.T, idle time.Duration, respond func(w *bufio.Writer, r *http.Request) (keep bool)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rb := &rawBackend{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			rb.conns.Add(1)
			go func() {
				defer conn.Close()
				br, bw := bufio.NewReader(conn), bufio.NewWriter(conn)
				for {
					if idle > 0 {
						conn.SetReadDeadline(time.Now().Add(idle))
					}
					head, err := readRawHead(br)
					if err != nil {
						return
					}
					r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
					if err != nil {
						return
					}
					if r.ContentLength > 0 { // read by nobody here
						if _, err := io.CopyN(io.Discard, br, r.ContentLength); err != nil {
							return
						}
					}
					keep := true
					if r.URL.Path == "/up" {
						bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
					} else {
						rb.mu.Lock()
						rb.heads = append(rb.heads, head)
						rb.mu.Unlock()
						keep = respond(bw, r)
					}
					if bw.Flush() != nil || !keep {
						return
					}
				}
			}()
		}
	}()
	return rb
}

// readRawHead reads a request head, its lines as they came, up to and
// including the empty line.
func readRawHead(br *bufio.Reader) (string, error) {
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		head.WriteString(line)
		if line == "\r\n" || line == "\n" {
			return head.String(), nil
		}
	}
}

// lastHead returns how many request heads rb got, and the last.
func (rb *rawBackend) lastHead() (int, string) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if len(rb.heads) == 0 {
		return 0, ""
	}
	return len(rb.heads), rb.heads[len(rb.heads)-1]
}

func (rb *rawBackend) target(name string) Target {
	return Target{ID: "id-" + name, Name: name, Addr: rb.ln.Addr().String()}
}

// routeRaw routes shop.test to a pool over rb.
func routeRaw(t *testing.T, px *Proxy, rb *rawBackend) *Pool {
	t.Helper()
	p := NewPool(keyA, "r1", []Target{rb.target("raw")}, fastHealth(), discardLog)
	t.Cleanup(p.Close)
	waitHealthy(t, p, 1)
	if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFast_ChunkedResponseWithTrailers(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		for i := range 3 {
			fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "3")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}))
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Host = "shop.test"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "part 0;part 1;part 2;" {
		t.Fatalf("body %q, %v", b, err)
	}
	if resp.ContentLength != -1 || len(resp.TransferEncoding) == 0 {
		t.Errorf("want a chunked response, got length %d, TE %v", resp.ContentLength, resp.TransferEncoding)
	}
	if got := resp.Trailer.Get("X-Sum"); got != "3" {
		t.Errorf("declared trailer X-Sum = %q", got)
	}
	if got := resp.Trailer.Get("X-Late"); got != "yes" {
		t.Errorf("undeclared trailer X-Late = %q", got)
	}
}

func TestFast_HeadNoContentAndNotModified(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("Etag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "11")
			io.WriteString(w, "hello world")
		}
	}))
	c := srv.Client()
	req, _ := http.NewRequest("HEAD", srv.URL+"/page", nil)
	req.Host = "shop.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 11 {
		t.Fatalf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	for path, want := range map[string]int{"/204": 204, "/304": 304, "/page": 200} {
		code, body := get(t, c, srv.URL+path, "shop.test")
		if code != want || (want != 200 && body != "") || (want == 200 && body != "hello world") {
			t.Fatalf("%s: %d %q", path, code, body)
		}
	}
	if c := px.Counters(keyA.App, keyA.Env); c != (Counters{Served: 4}) {
		t.Fatalf("counters %+v", c)
	}
}

func TestFast_HopByHopHeadersAndRawQuery(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		var seen []string
		for _, k := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "Te", "X-Keep", "Forwarded"} {
			if v := r.Header.Values(k); len(v) > 0 {
				seen = append(seen, k+"="+strings.Join(v, "|"))
			}
		}
		h := w.Header()
		h.Set("Connection", "X-Internal")
		h.Set("X-Internal", "hop")
		h.Set("Keep-Alive", "timeout=5")
		h.Add("Set-Cookie", "a=1")
		h.Add("Set-Cookie", "b=2")
		fmt.Fprintf(w, "uri=%s seen=%s", r.RequestURI, strings.Join(seen, ","))
	}))
	req, _ := http.NewRequest("GET", srv.URL+"/p%2Fq?x=1;y=2&z", nil)
	req.Host = "shop.test"
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "s")
	req.Header.Set("Keep-Alive", "timeout=1")
	req.Header.Set("Proxy-Authorization", "Basic eA==")
	req.Header.Set("Te", "trailers, deflate")
	req.Header.Set("Forwarded", "for=6.6.6.6")
	req.Header.Add("X-Keep", "1")
	req.Header.Add("X-Keep", "2")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "uri=/p%2Fq?x=1;y=2&z seen=Te=trailers,X-Keep=1|2"
	if string(b) != want {
		t.Errorf("got  %q\nwant %q", b, want)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 2 || v[0] != "a=1" || v[1] != "b=2" {
		t.Errorf("Set-Cookie = %q", v)
	}
	for _, k := range []string{"X-Internal", "Keep-Alive"} {
		if v := resp.Header.Get(k); v != "" {
			t.Errorf("hop-by-hop response header %s = %q reached the client", k, v)
		}
	}
}

func TestFast_ConnectionClosedByAppIsRetried(t *testing.T) {
	px, srv := newProxyServer(t)
	// Answers one request per connection and closes it without saying
	// so: the proxy's next request on that idle connection finds it dead.
	rb := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false
	})
	routeRaw(t, px, rb)
	before := rb.conns.Load()
	for i := range 5 {
		if code, body := get(t, srv.Client(), srv.URL, "shop.test"); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := rb.conns.Load() - before; n < 5 {
		t.Fatalf("%d connections for 5 requests on one-shot connections", n)
	}
	if c := px.Counters(keyA.App, keyA.Env); c != (Counters{Served: 5}) {
		t.Fatalf("counters %+v", c)
	}
}

func TestFast_StaleIdleConnectionIsNotReused(t *testing.T) {
	px, srv := newProxyServer(t)
	// The app closes connections idle for 100ms.
	rb := newRawBackendIdle(t, 100*time.Millisecond, func(w *bufio.Writer, r *http.Request) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	p := routeRaw(t, px, rb)
	fc := p.rp.Transport.(*poolTransport).fast
	if code, _ := get(t, srv.Client(), srv.URL, "shop.test"); code != 200 {
		t.Fatalf("status %d", code)
	}
	time.Sleep(upstream.CheckAfter + 200*time.Millisecond)
	// DELETE is not replayable: it must not meet the dead connection.
	req, _ := http.NewRequest("DELETE", srv.URL, nil)
	req.Host = "shop.test"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("DELETE after the app closed the idle connection: %d", resp.StatusCode)
	}
	if n := fc.Open(); n != 1 {
		t.Fatalf("open connections %d, want 1", n)
	}
}

func TestFast_IdleConnectionsAreClosed(t *testing.T) {
	px, srv := newProxyServer(t)
	p := routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", nil))
	fc := p.rp.Transport.(*poolTransport).fast
	fc.IdleTimeout = 150 * time.Millisecond // before any connection: no race
	if code, _ := get(t, srv.Client(), srv.URL, "shop.test"); code != 200 {
		t.Fatalf("status %d", code)
	}
	if fc.Open() != 1 {
		t.Fatalf("open = %d after one request", fc.Open())
	}
	testutil.Eventually(t, 3*time.Second, "the idle connection closed", func() bool { return fc.Open() == 0 })
}

func TestFast_ClientGoneReleasesTarget(t *testing.T) {
	px, srv := newProxyServer(t)
	started := make(chan struct{}, 1)
	released := make(chan struct{})
	p := routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done() // a long poll: ends only when the proxy hangs up
		close(released)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/poll", nil)
	req.Host = "shop.test"
	errc := make(chan error, 1)
	go func() {
		_, err := srv.Client().Do(req)
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled request succeeded")
	}
	select {
	case <-released:
	case <-time.After(3 * time.Second):
		t.Fatal("the app's request still runs 3s after its client went away")
	}
	testutil.Eventually(t, 3*time.Second, "nothing in flight", func() bool { return p.InFlight() == 0 })
	if c := px.Counters(keyA.App, keyA.Env); c != (Counters{}) {
		t.Fatalf("counters %+v, want none: the client went away", c)
	}
}

func TestFast_CloseDelimitedBody(t *testing.T) {
	px, srv := newProxyServer(t)
	rb := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		w.WriteString("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("z", 50000))
		return false
	})
	routeRaw(t, px, rb)
	code, body := get(t, srv.Client(), srv.URL, "shop.test")
	if code != 200 || body != strings.Repeat("z", 50000) {
		t.Fatalf("got %d, %d bytes", code, len(body))
	}
}

func TestFast_MalformedResponseIs502(t *testing.T) {
	px, srv := newProxyServer(t)
	rb := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		w.WriteString("SPDY/9 what\r\n\r\n")
		return false
	})
	routeRaw(t, px, rb)
	code, body := get(t, srv.Client(), srv.URL, "shop.test")
	if code != 502 || !strings.Contains(body, "Bad gateway") {
		t.Fatalf("got %d %q", code, body)
	}
	if c := px.Counters(keyA.App, keyA.Env); c != (Counters{Failed: 1}) {
		t.Fatalf("counters %+v", c)
	}
}

func TestFast_BodyCutByAppAbortsResponse(t *testing.T) {
	px, srv := newProxyServer(t)
	rb := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
		return false
	})
	routeRaw(t, px, rb)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Host = "shop.test"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("client read %q, %v: want a cut response", b, err)
	}
}

func TestFast_LongHeaderLine(t *testing.T) {
	px, srv := newProxyServer(t)
	long := strings.Repeat("c", 40<<10) // longer than the connection's read buffer
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Policy", long)
		io.WriteString(w, "ok")
	}))
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Host = "shop.test"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Policy") != long {
		t.Fatalf("status %d, header of %d bytes", resp.StatusCode, len(resp.Header.Get("X-Policy")))
	}
}

func TestFast_ForwardsEarlyHints(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "page")
	}))
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL, nil)
	req.Host = "shop.test"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "page" || resp.Header.Get("Link") != "" || len(hints) != 1 || hints[0] != "103 </app.css>; rel=preload" {
		t.Fatalf("body %q, Link %q, hints %q", b, resp.Header.Get("Link"), hints)
	}
}

func TestFast_RequestsWithBodyOrUpgradeUseReverseProxy(t *testing.T) {
	for _, tc := range []struct {
		method, upgrade string
		length          int64
		fast            bool
	}{
		{"GET", "", 0, true},
		{"DELETE", "", 0, true},
		{"POST", "", 0, true},
		{"POST", "", 10, false},
		{"POST", "", -1, false},
		{"GET", "websocket", 0, false},
	} {
		r, _ := http.NewRequest(tc.method, "http://shop.test/", nil)
		r.ContentLength = tc.length
		if tc.upgrade != "" {
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", tc.upgrade)
		}
		if got := fastEligible(r); got != tc.fast {
			t.Errorf("%s length %d upgrade %q: fast = %v", tc.method, tc.length, tc.upgrade, got)
		}
	}
}
