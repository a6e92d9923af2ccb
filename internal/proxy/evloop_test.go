//go:build linux

package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy/h1"
	"github.com/berth-dev/berth/internal/proxy/upstream"
	"github.com/berth-dev/berth/internal/testutil"
)

// The event loops' own tests. The whole proxy test suite also runs behind
// them (testServerKind "loop"), and so do the lane's parity tests.

// loopApp answers /size/N with N bytes framed with Content-Length (in
// one write: how long the loop waits for an answer's parts is not what
// the tests using it test), /slow once release is closed, and everything
// else from rawScripts.
func loopApp(release <-chan struct{}) func(w *bufio.Writer, r *http.Request) bool {
	return func(w *bufio.Writer, r *http.Request) bool {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/size/%d", &n); err == nil {
			answer := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", n)
			if r.Method != http.MethodHead {
				answer += strings.Repeat("x", n)
			}
			w.Flush()
			w.Write([]byte(answer)) // larger than the buffer: one write
			return true
		}
		if r.URL.Path == "/split" { // the head, then the body 200µs later
			w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			w.Flush()
			for start := time.Now(); time.Since(start) < 200*time.Microsecond; {
				// the app works on the body
			}
			w.WriteString("5\r\nsplit\r\n0\r\n\r\n")
			return true
		}
		if r.URL.Path == "/slow" {
			<-release
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
			return true
		}
		return scriptedApp(w, r)
	}
}

// newLoopRig is a rig with a server on event loops (rig.lane) and one
// on the handler path (rig.lean), with opts' timeouts.
func newLoopRig(t *testing.T, o ServerOptions) (*laneRig, chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	rig := newRigProxy(t, loopApp(release))
	rig.lean, rig.leanAddr = rig.serve(t, o)
	o.Lane, o.EventLoops = rig.px, 2
	rig.lane, rig.laneAddr = rig.serve(t, o)
	return rig, release
}

// waitIdle waits until the app has an idle connection in the pool.
func (rig *laneRig) waitIdle(t *testing.T) {
	t.Helper()
	waitIdleConn(t, rig.pool)
}

func TestEventLoop_AnswersPlainRequestsItself(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	k := dialKeepAlive(t, rig.laneAddr)
	k.get(t, "GET", "/plain") // the first one dials the app (on a goroutine)
	cases := []struct {
		method, path string
		itself       bool // the loop answers it (else a goroutine)
	}{
		{"GET", "/plain", true},
		{"GET", "/nodate", true},
		{"GET", "/hop", true},
		{"GET", "/204", true},
		{"GET", "/304", true},
		{"HEAD", "/size/100", true},
		{"GET", "/created", true},
		{"GET", "/size/60000", true},
		{"GET", "/size/70000", false}, // larger than evMaxInline
		{"GET", "/chunked", true},
		{"GET", "/trailers", true},
		{"GET", "/hints", false},
		{"GET", "/plain", true}, // back on the loop after each of those
		{"GET", "/continue", false},
		{"GET", "/close", false}, // the app closes its connection (last: the pool is empty after it)
	}
	for _, tc := range cases {
		want, _ := rig.exchange(t, rig.leanAddr, tc.method+" "+tc.path+" HTTP/1.1\r\nHost: shop.test\r\n\r\n")
		if tc.itself {
			rig.waitIdle(t)
		}
		before := counts(rig.lane).looped.Load()
		r, body := k.get(t, tc.method, tc.path)
		looped := counts(rig.lane).looped.Load() - before
		if tc.itself != (looped == 1) {
			t.Errorf("%s %s: the loop answered %d, want itself=%v", tc.method, tc.path, looped, tc.itself)
		}
		if r.StatusCode != statusOf(want) {
			t.Errorf("%s %s: status %d, the handler path gave:\n%s", tc.method, tc.path, r.StatusCode, want)
		}
		if !strings.Contains(want, fmt.Sprintf("body %q chunked=%v close=%v", body, len(r.TransferEncoding) > 0, r.Close)) {
			t.Errorf("%s %s: body %q chunked=%v close=%v, the handler path gave:\n%s", tc.method, tc.path, body, len(r.TransferEncoding) > 0, r.Close, want)
		}
		if r.Close {
			k = dialKeepAlive(t, rig.laneAddr)
		}
	}
}

// statusOf reads the final status code of an exchange's normalised
// response.
func statusOf(resp string) int {
	code := 0
	for line := range strings.SplitSeq(resp, "\n") {
		var proto string
		var c int
		if strings.HasPrefix(line, "HTTP/") {
			if _, err := fmt.Sscanf(line, "%s %d", &proto, &c); err == nil {
				code = c
			}
		}
	}
	return code
}

func TestEventLoop_AnswersAsTheHandlerPath(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	rig.exchange(t, rig.laneAddr, "GET /plain HTTP/1.1\r\nHost: shop.test\r\n\r\n") // an idle app connection for the loop
	before := counts(rig.lane).looped.Load()
	for _, req := range []string{
		"GET /plain HTTP/1.1\r\nHost: shop.test\r\n\r\n",
		"GET /hop HTTP/1.1\r\nHost: shop.test\r\nX-Request-Id: abc-123\r\nConnection: keep-alive\r\n\r\n",
		"GET /nodate?x=1 HTTP/1.0\r\nHost: shop.test\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
		"HEAD /304 HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n",
		"GET /crlf HTTP/1.1\r\nHost: shop.test\r\nuser-agent: t/1\r\n\r\n",
	} {
		wantResp, wantGot := rig.exchange(t, rig.leanAddr, req)
		rig.waitIdle(t)
		resp, got := rig.exchange(t, rig.laneAddr, req)
		if resp != wantResp {
			t.Errorf("%q: the client got\n%s\nthe handler path gives\n%s", req, resp, wantResp)
		}
		if got != wantGot {
			t.Errorf("%q: the app got\n%s\nthe handler path gives\n%s", req, got, wantGot)
		}
	}
	if n := counts(rig.lane).looped.Load() - before; n != 5 {
		t.Errorf("the loop answered %d requests itself, want 5", n)
	}
	lines := rig.logLines(t, 11)
	for i := 1; i < 11; i += 2 {
		if lines[i] != lines[i+1] {
			t.Errorf("access log: the loop wrote\n%s\nthe handler path\n%s", lines[i+1], lines[i])
		}
	}
}

func TestEventLoop_AnswersItselfWhenTheBodyFollowsTheHead(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	k := dialKeepAlive(t, rig.laneAddr)
	k.get(t, "GET", "/plain")
	const n = 20
	looped := 0
	for range n {
		rig.waitIdle(t)
		before := counts(rig.lane).looped.Load()
		if r, body := k.get(t, "GET", "/split"); r.StatusCode != http.StatusOK || body != "split" {
			t.Fatalf("%d %q", r.StatusCode, body)
		}
		looped += int(counts(rig.lane).looped.Load() - before)
	}
	t.Logf("the loop answered %d of %d", looped, n)
	// The body follows the head within microseconds, well within the
	// loop's grace, but for a rare stall of the app.
	if looped < n/2 {
		t.Errorf("the loop answered %d of %d answers written in two parts itself", looped, n)
	}
}

func TestEventLoop_SlowReaderGetsEveryByte(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	k := dialKeepAlive(t, rig.laneAddr)
	k.get(t, "GET", "/plain")
	rig.waitIdle(t)
	// Ask for far more than the sockets hold before reading any of it:
	// the loop keeps what the socket does not take and waits for room.
	const n, size = 100, 60000
	var reqs strings.Builder
	for range n {
		fmt.Fprintf(&reqs, "GET /size/%d HTTP/1.1\r\nHost: shop.test\r\n\r\n", size)
	}
	before := counts(rig.lane).looped.Load()
	go io.WriteString(k.c, reqs.String())
	for i := range n {
		r, err := http.ReadResponse(k.br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil || len(body) != size || strings.Count(string(body), "x") != size {
			t.Fatalf("response %d: %d bytes (%v), want %d", i, len(body), err, size)
		}
	}
	if got := counts(rig.lane).looped.Load() - before; got != n {
		t.Errorf("the loop answered %d of %d itself", got, n)
	}
}

func TestEventLoop_HandlerRequestsThenBackOnTheLoop(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	k := dialKeepAlive(t, rig.laneAddr)
	k.get(t, "GET", "/plain")
	if _, err := io.WriteString(k.c, "POST /created HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\n\r\nabc"); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadResponse(k.br, &http.Request{Method: "POST"})
	if err != nil || r.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %v %v", r, err)
	}
	io.Copy(io.Discard, r.Body)
	k.get(t, "GET", "/plain") // a goroutine serves it: the POST left the connection there
	rig.waitIdle(t)
	before := counts(rig.lane).looped.Load()
	if _, body := k.get(t, "GET", "/plain"); body != "hello" {
		t.Fatalf("body %q", body)
	}
	if counts(rig.lane).looped.Load() == before {
		t.Error("the connection did not go back to its loop after a lane request")
	}
}

func TestEventLoop_TimeoutsCloseConnections(t *testing.T) {
	o := testServerOptions()
	o.IdleTimeout, o.ReadHeaderTimeout = 300*time.Millisecond, 300*time.Millisecond
	rig, _ := newLoopRig(t, o)
	idle := dialKeepAlive(t, rig.laneAddr)
	idle.get(t, "GET", "/plain")
	partial := dialKeepAlive(t, rig.laneAddr)
	if _, err := io.WriteString(partial.c, "GET /plain HTTP/1.1\r\nHost: sh"); err != nil {
		t.Fatal(err)
	}
	silent := dialKeepAlive(t, rig.laneAddr)
	for name, k := range map[string]*keepAlive{"idle": idle, "partial head": partial, "no request": silent} {
		start := time.Now()
		k.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := k.br.ReadByte()
		if !errors.Is(err, io.EOF) {
			t.Errorf("%s: read %v, want the server to close", name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: closed after %v", name, d)
		}
	}
}

func TestEventLoop_WriteTimeoutClosesAClientThatDoesNotRead(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	const timeout = 300 * time.Millisecond
	if _, err := rig.px.SetRouteOptions(keyA, []string{"shop.test"}, rig.pool, RouteOptions{WriteTimeout: timeout}); err != nil {
		t.Fatal(err)
	}
	k := dialKeepAlive(t, rig.laneAddr)
	k.get(t, "GET", "/plain")
	rig.waitIdle(t)
	before := counts(rig.lane).looped.Load()
	// Far more answer than the sockets hold, never read: the loop keeps
	// what the socket does not take, until the write timeout.
	var reqs strings.Builder
	for range 200 {
		reqs.WriteString("GET /size/60000 HTTP/1.1\r\nHost: shop.test\r\n\r\n")
	}
	sent := time.Now()
	if _, err := io.WriteString(k.c, reqs.String()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "the server closed the connection", func() bool {
		return openConns(rig.lane) == 0
	})
	if d := time.Since(sent); d < timeout {
		t.Errorf("closed %v after the requests, before the write timeout (%v)", d, timeout)
	}
	if counts(rig.lane).looped.Load() == before {
		t.Error("the loop answered none itself")
	}
	// The app connection went back idle with the answer; the client's
	// reads end.
	if n := rig.pool.InFlight(); n != 0 {
		t.Errorf("%d requests in flight after the close", n)
	}
	if idleConns(rig.pool) == 0 {
		t.Error("no idle app connection: the answer's is held")
	}
	k.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, k.c); err != nil && isTimeout(err) {
		t.Errorf("the client's read: %v, want the end of the connection", err)
	}
}

func TestEventLoop_ShutdownClosesIdleConnections(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	var conns []*keepAlive
	for range 5 {
		k := dialKeepAlive(t, rig.laneAddr)
		k.get(t, "GET", "/plain")
		conns = append(conns, k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rig.lane.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, k := range conns {
		if _, err := k.br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("connection %d: read %v after Shutdown, want EOF", i, err)
		}
	}
}

func TestEventLoop_ClientHangupCutsTheRequest(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	k := dialKeepAlive(t, rig.laneAddr)
	k.get(t, "GET", "/plain")
	open := rig.pool.rp.Transport.(*poolTransport).fast.Open()
	if _, err := io.WriteString(k.c, "GET /slow HTTP/1.1\r\nHost: shop.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the app got GET /slow", func() bool {
		_, head := rig.app.lastHead()
		return strings.HasPrefix(head, "GET /slow ")
	})
	k.c.Close()
	// The request is cut: logged as the client's close, its app
	// connection closed.
	testutil.Eventually(t, 5*time.Second, "a 499 in the access log", func() bool {
		return strings.Contains(rig.log.String(), `"status":499`)
	})
	testutil.Eventually(t, 5*time.Second, "the app connection of the cut request closed", func() bool {
		return rig.pool.rp.Transport.(*poolTransport).fast.Open() < open
	})
}

func TestEvScan_Verdicts(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\n"
	for _, tc := range []struct {
		name, b, method string
		verdict         int // evWhole: all of b
	}{
		{"length", ok + "Content-Length: 5\r\n\r\nhello", "GET", evWhole},
		{"length, part of the body", ok + "Content-Length: 5\r\n\r\nhel", "GET", evBody},
		{"length, no body yet", ok + "Content-Length: 5\r\n\r\n", "GET", evBody},
		{"part of the head", ok + "Content-Len", "GET", evMore},
		{"lower-case name", ok + "content-length:  2 \r\n\r\nok", "GET", evWhole},
		{"two lengths", ok + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nok", "GET", evUnsuited},
		{"no framing", ok + "X: y\r\n\r\nuntil close", "GET", evUnsuited},
		{"HEAD", ok + "Content-Length: 500\r\n\r\n", "HEAD", evWhole},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", "GET", evWhole},
		{"304 with a length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", "GET", evWhole},
		{"informational", "HTTP/1.1 103 Early Hints\r\n\r\n", "GET", evUnsuited},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "GET", evUnsuited},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", evWhole},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", "GET", evUnsuited},
		{"chunked", ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "GET", evWhole},
		{"chunked, trailers", ok + "Transfer-Encoding: chunked\r\n\r\n1;x=y\r\na\r\n0\r\nX-Sum: 1\r\n\r\n", "GET", evWhole},
		{"chunked, no last chunk", ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "GET", evBody},
		{"chunked, part of a size line", ok + "Transfer-Encoding: chunked\r\n\r\n5", "GET", evBody},
		{"chunked, part of the trailers", ok + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-Sum", "GET", evBody},
		{"chunked, bad size", ok + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", "GET", evUnsuited},
		{"chunked and a length", ok + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", "GET", evUnsuited},
		{"gzip, chunked", ok + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "GET", evUnsuited},
		{"too large", ok + "Content-Length: 70000\r\n\r\n", "GET", evUnsuited},
	} {
		want := 0
		if tc.verdict == evWhole {
			want = len(tc.b)
		}
		total, verdict := evScan([]byte(tc.b), tc.method)
		if total != want || verdict != tc.verdict {
			t.Errorf("%s: evScan = %d, %d; want %d, %d", tc.name, total, verdict, want, tc.verdict)
		}
	}
}

// FuzzEvScan checks that an answer the loop calls whole is what the
// lane's own reader (head parser, then upstream.CopyBody) reads: exactly its
// bytes, never asking for more. An answer the lane's reader refuses is
// refused the same way after the loop and on a goroutine.
func FuzzEvScan(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;x=y\r\na\r\n0\r\nX-Sum: 1\r\n\r\n"), false)
	f.Add([]byte("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		total, verdict := evScan(b, method)
		if verdict != evWhole {
			return
		}
		if total > len(b) || total > evMaxInline {
			t.Fatalf("total %d of %d bytes", total, len(b))
		}
		src := strings.NewReader(string(b[:total]))
		br := bufio.NewReader(src)
		var scratch []byte
		rec := httptest.NewRecorder()
		rh, _, err := upstream.ReadResponseHead(br, &scratch, rec, rec.Header(), method) // the lane's parser, as the handler path runs it
		if err != nil {
			return // refused: a 502 after the loop as on a goroutine
		}
		var n int64
		if _, err := upstream.CopyBody(rec, br, &scratch, rec.Header(), rh, upstream.MaxHeaderLen, &n); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%q: the lane's reader wants more: %v", b[:total], err)
			}
			return // a malformed body: cut after the loop as on a goroutine
		}
		if br.Buffered() > 0 || src.Len() > 0 {
			t.Fatalf("%q: the lane's reader left %d bytes", b[:total], br.Buffered()+src.Len())
		}
	})
}

func TestEventLoop_CloseDoesNotWaitForTheApp(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	k := dialKeepAlive(t, rig.laneAddr)
	k.get(t, "GET", "/plain")
	rig.waitIdle(t)
	if _, err := io.WriteString(k.c, "GET /slow HTTP/1.1\r\nHost: shop.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the app got GET /slow", func() bool {
		_, head := rig.app.lastHead()
		return strings.HasPrefix(head, "GET /slow ")
	})
	closed := make(chan error, 1)
	go func() { closed <- rig.lane.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a request the app has not answered")
	}
	if _, err := k.br.ReadByte(); err == nil {
		t.Error("the client's connection is open after Close")
	}
}

func TestEventLoop_GoroutinesKeepToNetpollerConnections(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	k := dialKeepAlive(t, rig.laneAddr)
	k.get(t, "GET", "/plain")
	rig.waitIdle(t)
	before := counts(rig.lane).looped.Load()
	k.get(t, "GET", "/plain") // the loop detaches the app connection
	if counts(rig.lane).looped.Load() == before {
		t.Fatal("the loop did not answer")
	}
	rig.waitIdle(t)
	// A request of the handler path's fast client (on a goroutine: the
	// lane takes GET and HEAD only) finds only the loop's connection idle:
	// it must dial instead of waiting on a detached socket.
	fc := rig.pool.rp.Transport.(*poolTransport).fast
	if r, _ := k.get(t, "DELETE", "/created"); r.StatusCode != http.StatusCreated {
		t.Fatalf("DELETE: %s", r.Status)
	}
	testutil.Eventually(t, 5*time.Second, "the goroutine's connection idle in slot 0", func() bool {
		return fc.IdleIn(0) > 0
	})
	detached, attached := 0, 0
	for _, c := range fc.Conns() {
		if _, ok := c.NetConn().(*h1.Fd); ok {
			detached++
			if c.Slot() == 0 {
				t.Error("a detached connection is in the goroutines' slot")
			}
		} else {
			attached++
		}
	}
	if detached != 1 || attached != 1 {
		t.Errorf("%d detached and %d netpoller connections to the app, want 1 and 1", detached, attached)
	}
}

// TestEventLoop_MixedTrafficUnderConcurrency sends every kind of request
// the loops answer or hand over, on many keep-alive connections at once,
// pipelined at times, and checks every answer: hand-overs and hand-backs
// race with each other and with the loops' own answers.
func TestEventLoop_MixedTrafficUnderConcurrency(t *testing.T) {
	rig, _ := newLoopRig(t, testServerOptions())
	type req struct {
		raw, method string
		status      int
		body        string
	}
	big := strings.Repeat("x", 70000)
	kinds := []req{
		{"GET /plain HTTP/1.1\r\nHost: shop.test\r\n\r\n", "GET", 200, "hello"},
		{"GET /size/3000 HTTP/1.1\r\nHost: shop.test\r\n\r\n", "GET", 200, strings.Repeat("x", 3000)},
		{"GET /size/70000 HTTP/1.1\r\nHost: shop.test\r\n\r\n", "GET", 200, big},
		{"GET /chunked HTTP/1.1\r\nHost: shop.test\r\n\r\n", "GET", 200, "hello world"},
		{"HEAD /plain HTTP/1.1\r\nHost: shop.test\r\n\r\n", "HEAD", 200, ""},
		{"GET /hints HTTP/1.1\r\nHost: shop.test\r\n\r\n", "GET", 200, "ok"},
		{"DELETE /nodate HTTP/1.1\r\nHost: shop.test\r\n\r\n", "DELETE", 200, "ok"},
		{"POST /created HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\n\r\nabc", "POST", 201, ""},
		{"GET /nowhere HTTP/1.1\r\nHost: other.test\r\n\r\n", "GET", 404, ""},
	}
	const clients, rounds = 24, 60
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			errs <- func() error {
				c, err := net.Dial("tcp", rig.laneAddr)
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				br := bufio.NewReader(c)
				for r := range rounds {
					// One to three requests in one write (pipelined).
					n := 1 + (i+r)%3
					batch := make([]req, n)
					var out strings.Builder
					for j := range batch {
						batch[j] = kinds[(i*7+r*3+j)%len(kinds)]
						out.WriteString(batch[j].raw)
					}
					if _, err := io.WriteString(c, out.String()); err != nil {
						return err
					}
					for _, q := range batch {
						resp, err := http.ReadResponse(br, &http.Request{Method: q.method})
						for err == nil && resp.StatusCode < 200 {
							resp, err = http.ReadResponse(br, &http.Request{Method: q.method})
						}
						if err != nil {
							return fmt.Errorf("client %d round %d %q: %v", i, r, q.raw, err)
						}
						body, err := io.ReadAll(resp.Body)
						if err != nil {
							return fmt.Errorf("client %d round %d %q: body: %v", i, r, q.raw, err)
						}
						if resp.StatusCode != q.status || (q.status != 404 && string(body) != q.body) {
							return fmt.Errorf("client %d round %d %q: %d %d bytes, want %d %d bytes", i, r, q.raw, resp.StatusCode, len(body), q.status, len(q.body))
						}
					}
				}
				// Half the clients hang up with a request under way.
				if i%2 == 0 {
					io.WriteString(c, "GET /size/100 HTTP/1.1\r\nHost: shop.test\r\n\r\n")
				}
				return nil
			}()
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if counts(rig.lane).looped.Load() == 0 {
		t.Error("the loops answered nothing themselves")
	}
	// Every connection ends; the server shuts down cleanly after it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rig.lane.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
