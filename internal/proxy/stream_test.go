package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Clients that half-close, behind every server kind. The answers go over
// a kept-alive app connection too (the one an ordinary request left
// idle), which is what an event loop reuses itself.

// warmTarget sends an ordinary request through srv and waits until its
// app connection is idle in p, for the next request to reuse.
func warmTarget(t *testing.T, srv string, p *Pool) {
	t.Helper()
	k := dialKeepAlive(t, srv)
	if r, body := k.get(t, "GET", "/"); r.StatusCode != http.StatusOK || body != "shop" {
		t.Fatalf("first request: %d %q", r.StatusCode, body)
	}
	waitIdleConn(t, p)
}

func TestServer_ClosesAHalfClosedConnectionAfterTheAnswer(t *testing.T) {
	px, srv := newProxyServer(t)
	p := routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", nil))
	addr := srv.Listener.Addr().String()
	for _, reused := range []bool{false, true} {
		if reused {
			warmTarget(t, addr, p) // an event loop answers itself over an idle app connection
		}
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c := nc.(*net.TCPConn)
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil { // the client has nothing more to say
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		r, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("reused=%v: no answer: %v", reused, err)
		}
		// net/http takes a half-close for a client gone and cancels the
		// request, which may leave the proxy nothing to answer with.
		if b, err := io.ReadAll(r.Body); (err != nil || string(b) != "shop") && testServerKind != "std" {
			t.Fatalf("reused=%v: %d body %q, %v", reused, r.StatusCode, b, err)
		}
		// The server closes within a second of the answer, not after the
		// idle timeout (30s).
		answered := time.Now()
		c.SetReadDeadline(answered.Add(time.Second))
		if n, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("reused=%v: read %q, %v after the answer; want the server to close (EOF) at once", reused, n, err)
		}
	}
}
