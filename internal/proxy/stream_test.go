package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Answers that stream and clients that half-close, behind every server
// kind. The answers go over a kept-alive app connection (the one an
// ordinary request left idle), which is what an event loop reuses itself.

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

func TestProxy_StreamsEventsOnAReusedAppConnection(t *testing.T) {
	px, srv := newProxyServer(t)
	end := make(chan struct{})
	b := newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			io.WriteString(w, "shop")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select { // an endless stream: the next event never comes
		case <-end:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(end) }) // before the backend closes (cleanups run last first)
	p := routeTo(t, px, keyA, []string{"shop.test"}, b)
	addr := srv.Listener.Addr().String()
	warmTarget(t, addr, p)

	k := dialKeepAlive(t, addr)
	start := time.Now()
	if _, err := io.WriteString(k.c, "GET /events HTTP/1.1\r\nHost: shop.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	k.c.SetReadDeadline(start.Add(5 * time.Second))
	r, err := http.ReadResponse(k.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("no answer head: %v", err)
	}
	defer r.Body.Close()
	line, err := bufio.NewReader(r.Body).ReadString('\n')
	took := time.Since(start)
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q, %v after %v", line, err, took)
	}
	if took > 50*time.Millisecond {
		t.Errorf("the first event reached the client %v after the request, want it as it comes (< 50ms)", took)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestProxy_StreamsALongChunkedDownload(t *testing.T) {
	px, srv := newProxyServer(t)
	const chunks, every = 11, 200 * time.Millisecond // 2s in all
	b := newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/download" {
			io.WriteString(w, "shop")
			return
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := range chunks {
			fmt.Fprintf(w, "part %d\n", i)
			w.(http.Flusher).Flush()
			if i == chunks-1 {
				return
			}
			select { // the app's pace: the download lasts 2s
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	p := routeTo(t, px, keyA, []string{"shop.test"}, b)
	addr := srv.Listener.Addr().String()
	warmTarget(t, addr, p)

	k := dialKeepAlive(t, addr)
	start := time.Now()
	if _, err := io.WriteString(k.c, "GET /download HTTP/1.1\r\nHost: shop.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadResponse(k.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("no answer head: %v", err)
	}
	body := bufio.NewReader(r.Body)
	var first time.Duration
	for i := range chunks {
		line, err := body.ReadString('\n')
		if err != nil || line != fmt.Sprintf("part %d\n", i) {
			t.Fatalf("part %d: %q, %v", i, line, err)
		}
		if i == 0 {
			first = time.Since(start)
		}
	}
	if _, err := body.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last part: %v, want the end of the body", err)
	}
	whole := time.Since(start)
	if first > 500*time.Millisecond || whole-first < time.Second {
		t.Errorf("the first part came after %v, the whole download after %v: want the first part long before the end", first, whole)
	}
	// The connection serves the next request.
	if r, body := k.get(t, "GET", "/"); r.StatusCode != http.StatusOK || body != "shop" {
		t.Fatalf("next request: %d %q", r.StatusCode, body)
	}
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
