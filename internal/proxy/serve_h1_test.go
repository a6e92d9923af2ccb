package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawConn dials srvURL and returns the connection and a reader on it.
func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c)
}

// roundTrip writes raw and reads one response (its body read whole).
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, raw, method string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%q: body: %v", raw, err)
	}
	return resp, string(b)
}

// waitClosed reports how long the server took to close c (reading nothing).
func waitClosed(t *testing.T, c net.Conn, br *bufio.Reader, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(within))
	b, err := br.ReadByte()
	if err == nil {
		t.Fatalf("read %q, want the connection closed", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %s", within)
	}
	return time.Since(start)
}

func echoHandler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %s %s body=%q trailer=%q", r.Method, r.URL.RequestURI(), r.Host, body, r.Trailer.Get("X-Sum"))
	}
}

func TestServer_ReadHeaderTimeoutCutsHalfHeader(t *testing.T) {
	o := testServerOptions()
	o.ReadHeaderTimeout = 300 * time.Millisecond
	srv := newTestServerOpts(t, echoHandler(), o)
	addr := srv.Listener.Addr().String()

	// Half a head, then nothing.
	c, br := rawConn(t, addr)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n")
	if d := waitClosed(t, c, br, 3*time.Second); d < 200*time.Millisecond {
		t.Fatalf("closed after %s, before the timeout", d)
	}

	// A slowloris: a byte every 50ms never completes the head in time.
	c2, br2 := rawConn(t, addr)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, b := range []byte("GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c2.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	// net/http may answer 400 first; either way the connection ends.
	_ = c2.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.Copy(io.Discard, br2); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("slowloris connection still open after 3s")
		}
	}

	// A whole head in time is served.
	c3, br3 := rawConn(t, addr)
	if resp, body := roundTrip(t, c3, br3, "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n", "GET"); resp.StatusCode != 200 || !strings.HasPrefix(body, "GET /ok a") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

func TestServer_IdleTimeoutClosesKeepAlive(t *testing.T) {
	o := testServerOptions()
	o.IdleTimeout = 300 * time.Millisecond
	srv := newTestServerOpts(t, echoHandler(), o)
	c, br := rawConn(t, srv.Listener.Addr().String())
	for range 2 {
		if resp, _ := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET"); resp.StatusCode != 200 || resp.Close {
			t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
		}
	}
	if d := waitClosed(t, c, br, 3*time.Second); d < 200*time.Millisecond {
		t.Fatalf("idle connection closed after %s", d)
	}
}

func TestServer_RefusesMalformedRequests(t *testing.T) {
	o := testServerOptions()
	o.MaxHeaderBytes = 1 << 10
	srv := newTestServerOpts(t, echoHandler(), o)
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		name, raw string
		status    int
		leanOnly  bool // net/http accepts it; berth refuses it on purpose
	}{
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400, false},
		{"bad request line", "GET /\r\nHost: a\r\n\r\n", 400, false},
		{"bad header name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", 400, false},
		{"control byte in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400, false},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, false},
		{"bad content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400, false},
		{"conflicting content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, false},
		{"unknown transfer-encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, false},
		{"http/2 line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, false},
		{"header too large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431, false},
		{"expect other", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\na", 417, false},
		{"content-length and chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
		{"repeated content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", 400, true},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, true},
		{"chunked in http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
	} {
		if tc.leanOnly && testServerKind != "lean" {
			continue
		}
		c, br := rawConn(t, addr)
		resp, body := roundTrip(t, c, br, tc.raw, "GET")
		if resp.StatusCode != tc.status {
			t.Errorf("%s: got %d %q, want %d", tc.name, resp.StatusCode, body, tc.status)
		}
		if tc.status != 417 {
			waitClosed(t, c, br, 3*time.Second)
		}
	}
}

func TestServer_KeepAliveRulesAndFraming(t *testing.T) {
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big": // no Content-Length, more than the server holds back
			w.Write([]byte(strings.Repeat("x", 20<<10)))
		case "/flush":
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		default:
			io.WriteString(w, "hello")
		}
	}))
	addr := srv.Listener.Addr().String()

	c, br := rawConn(t, addr)
	resp, body := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	if body != "hello" || resp.ContentLength != 5 || resp.Close {
		t.Fatalf("small: %q len %d close %v", body, resp.ContentLength, resp.Close)
	}
	resp, body = roundTrip(t, c, br, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", "HEAD")
	if body != "" || resp.ContentLength != 5 {
		t.Fatalf("HEAD: %q len %d", body, resp.ContentLength)
	}
	resp, body = roundTrip(t, c, br, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	if len(body) != 20<<10 || len(resp.TransferEncoding) != 1 {
		t.Fatalf("big: %d bytes, te %v", len(body), resp.TransferEncoding)
	}
	resp, body = roundTrip(t, c, br, "GET /flush HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	if body != "ab" || len(resp.TransferEncoding) != 1 {
		t.Fatalf("flush: %q te %v", body, resp.TransferEncoding)
	}
	resp, _ = roundTrip(t, c, br, "GET /nocontent HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	if resp.StatusCode != 204 {
		t.Fatalf("204: %d", resp.StatusCode)
	}
	// Pipelined requests are answered in order.
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
	for range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("pipelined: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
	}
	resp, body = roundTrip(t, c, br, "GET /close HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	if body != "bye" || !resp.Close {
		t.Fatalf("handler close: %q close %v", body, resp.Close)
	}
	waitClosed(t, c, br, 3*time.Second)

	// HTTP/1.1 Connection: close, HTTP/1.0 with and without keep-alive.
	c, br = rawConn(t, addr)
	if resp, _ := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET"); !resp.Close {
		t.Fatal("Connection: close not honoured")
	}
	waitClosed(t, c, br, 3*time.Second)
	c, br = rawConn(t, addr)
	if resp, _ := roundTrip(t, c, br, "GET / HTTP/1.0\r\n\r\n", "GET"); !resp.Close {
		t.Fatal("HTTP/1.0 without keep-alive kept open")
	}
	waitClosed(t, c, br, 3*time.Second)
	c, br = rawConn(t, addr)
	for range 2 {
		resp, body := roundTrip(t, c, br, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET")
		if resp.Close || body != "hello" || resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("HTTP/1.0 keep-alive: close %v %q %v", resp.Close, body, resp.Header)
		}
	}
	// HTTP/1.0 with a body of unknown length: until close.
	resp, body = roundTrip(t, c, br, "GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET")
	if len(body) != 20<<10 || !resp.Close {
		t.Fatalf("HTTP/1.0 big: %d bytes, close %v", len(body), resp.Close)
	}
}

func TestServer_RequestBodies(t *testing.T) {
	srv := newTestServer(t, echoHandler())
	c, br := rawConn(t, srv.Listener.Addr().String())
	_, body := roundTrip(t, c, br, "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "POST")
	if body != `POST /cl a body="hello" trailer=""` {
		t.Fatalf("content-length: %s", body)
	}
	_, body = roundTrip(t, c, br, "POST /ch HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"+
		"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Sum: 42\r\n\r\n", "POST")
	if body != `POST /ch a body="abcde" trailer="42"` {
		t.Fatalf("chunked: %s", body)
	}
	// 100-continue: the server asks for the body when the handler reads it.
	io.WriteString(c, "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("want 100 Continue, got %q %v", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "abc")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != `PUT /x a body="abc" trailer=""` {
		t.Fatalf("continue: %s", b)
	}
	// A body the handler does not read is read away: the connection goes on.
	srv2 := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ignored") }))
	c2, br2 := rawConn(t, srv2.Listener.Addr().String())
	for range 2 {
		if resp, body := roundTrip(t, c2, br2, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody", "POST"); body != "ignored" || resp.Close {
			t.Fatalf("unread body: %q close %v", body, resp.Close)
		}
	}
}

func TestServer_PanicClosesOnlyItsConnection(t *testing.T) {
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		io.WriteString(w, "ok")
	}))
	c, br := rawConn(t, srv.Listener.Addr().String())
	io.WriteString(c, "GET /panic HTTP/1.1\r\nHost: a\r\n\r\n")
	waitClosed(t, c, br, 3*time.Second)
	if code, body := get(t, srv.Client(), srv.URL, "a"); code != 200 || body != "ok" {
		t.Fatalf("after a panic: %d %q", code, body)
	}
}

func TestServer_ShutdownFinishesInFlightAndClosesIdle(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	}), testServerOptions())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	addr := ln.Addr().String()

	idle, idleBR := rawConn(t, addr)
	roundTrip(t, idle, idleBR, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	busy, busyBR := rawConn(t, addr)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-started

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	waitClosed(t, idle, idleBR, 3*time.Second)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	resp, err := http.ReadResponse(busyBR, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "done" || !resp.Close {
		t.Fatalf("in flight: %q close %v", b, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	waitClosed(t, busy, busyBR, 3*time.Second)
}

func TestServer_HijackKeepsBufferedBytes(t *testing.T) {
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n') // sent with the request head
		io.WriteString(conn, "got "+line)
	}))
	c, br := rawConn(t, srv.Listener.Addr().String())
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nearly\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v", err)
	}
	if line, _ := br.ReadString('\n'); line != "got early\n" {
		t.Fatalf("got %q", line)
	}
}
