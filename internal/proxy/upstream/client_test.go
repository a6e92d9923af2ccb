package upstream

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawApp is a target on 127.0.0.1 that reads request heads and answers
// each with answer (no answer when answer is empty). heads receives every
// head it read.
type rawApp struct {
	addr  string
	heads chan string
}

func newRawApp(t *testing.T, answer string) *rawApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &rawApp{addr: ln.Addr().String(), heads: make(chan string, 16)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				br := bufio.NewReader(c)
				for {
					var head strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					a.heads <- head.String()
					if answer != "" {
						if _, err := c.Write([]byte(answer)); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return a
}

func getRequest(t *testing.T, ctx context.Context) *http.Request {
	t.Helper()
	r := httptest.NewRequest("GET", "/path?q=1", nil).WithContext(ctx)
	r.Host = "shop.test"
	r.RemoteAddr = "127.0.0.9:4000"
	r.Header.Set("Connection", "X-Hop")
	r.Header.Set("X-Hop", "dropped")
	r.Header.Set("Accept", "text/plain")
	r.Header["X-Request-Id"] = []string{"req-1"}
	return r
}

// exchange runs one request on c the way the proxy's fast path does.
func exchange(t *testing.T, fc *Client, c *Conn, r *http.Request) (*httptest.ResponseRecorder, error) {
	t.Helper()
	c.Use(r)
	keep := false
	defer func() { fc.Release(c, r, keep) }()
	c.WriteRequestHead(r, "")
	if err := c.SendHead(time.Second); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	rh, err := c.ReadResponseHead(rec, rec.Header(), r.Method)
	if err != nil {
		return nil, err
	}
	c.ClearDeadline()
	rec.WriteHeader(rh.Status)
	var n int64
	if _, err := c.CopyBody(rec, rec.Header(), rh, &n); err != nil {
		return nil, err
	}
	keep = rh.KeepAlive
	return rec, nil
}

func TestClient_KeepsAndReusesAConnection(t *testing.T) {
	app := newRawApp(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nok")
	ctx, cut := context.WithCancel(context.Background())
	defer cut()
	fc := NewClient([]string{app.addr}, ctx)
	var first *Conn
	for i := range 2 {
		c, err := fc.Get(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = c
		} else if c != first {
			t.Error("the second request did not reuse the idle connection")
		}
		rec, err := exchange(t, fc, c, getRequest(t, ctx))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if rec.Code != 200 || rec.Body.String() != "ok" || rec.Header().Get("Keep-Alive") != "" {
			t.Errorf("request %d: %d %q %v", i, rec.Code, rec.Body.String(), rec.Header())
		}
		head := <-app.heads
		for _, want := range []string{"GET /path?q=1 HTTP/1.1\r\n", "Host: shop.test\r\n", "Accept: text/plain\r\n",
			"X-Forwarded-For: 127.0.0.9\r\n", "X-Request-Id: req-1\r\n"} {
			if !strings.Contains(head, want) {
				t.Errorf("request %d: head %q lacks %q", i, head, want)
			}
		}
		if strings.Contains(head, "X-Hop") {
			t.Errorf("request %d: a field Connection names went to the target: %q", i, head)
		}
	}
	if n := fc.Open(); n != 1 {
		t.Errorf("Open = %d, want 1", n)
	}
	if n := fc.IdleIn(0); n != 1 {
		t.Errorf("IdleIn(0) = %d, want 1", n)
	}
}

func TestClient_CutWaitingFailsAWaitingRequest(t *testing.T) {
	app := newRawApp(t, "") // never answers
	ctx, cut := context.WithCancel(context.Background())
	defer cut()
	fc := NewClient([]string{app.addr}, ctx)
	c, err := fc.Get(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := getRequest(t, ctx)
	c.Use(r)
	c.WriteRequestHead(r, "")
	errc := make(chan error, 1)
	go func() { errc <- c.SendHead(0) }()
	<-app.heads
	if n := fc.CutWaiting(0); n != 1 {
		t.Errorf("CutWaiting = %d, want 1", n)
	}
	if err := <-errc; !errors.Is(err, ErrCut) {
		t.Errorf("SendHead after the cut: %v, want ErrCut", err)
	}
	fc.Release(c, r, false) // a failed exchange is never kept
	if n := fc.Open(); n != 0 {
		t.Errorf("Open = %d after the cut, want 0", n)
	}
	if n := fc.CutWaiting(7); n != 0 {
		t.Errorf("CutWaiting of an unknown target = %d", n)
	}
}

func TestClient_CutClosesEverything(t *testing.T) {
	app := newRawApp(t, "HTTP/1.1 204 No Content\r\n\r\n")
	ctx, cut := context.WithCancel(context.Background())
	fc := NewClient([]string{app.addr}, ctx)
	c, err := fc.Get(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exchange(t, fc, c, getRequest(t, ctx)); err != nil {
		t.Fatal(err)
	}
	cut()
	deadline := time.Now().Add(5 * time.Second)
	for !fc.Closed() || fc.Open() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("closed %v, open %d after the cut", fc.Closed(), fc.Open())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !c.Dead() {
		t.Error("the idle connection is open after the cut")
	}
	if _, err := fc.Get(context.Background(), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after the cut: %v, want ErrClosed", err)
	}
}

func TestClient_SweepClosesIdleConnections(t *testing.T) {
	app := newRawApp(t, "HTTP/1.1 204 No Content\r\n\r\n")
	ctx, cut := context.WithCancel(context.Background())
	defer cut()
	fc := NewClient([]string{app.addr}, ctx)
	fc.IdleTimeout = 50 * time.Millisecond // before any connection
	c, err := fc.Get(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exchange(t, fc, c, getRequest(t, ctx)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for fc.Open() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle connection outlived IdleTimeout")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClient_DialFailureIsADialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	fc := NewClient([]string{addr}, context.Background())
	_, err = fc.Get(context.Background(), 0)
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("Get of a closed port: %v, want a dial *net.OpError", err)
	}
}

func TestConn_PreloadOnlyRefusesToWait(t *testing.T) {
	app := newRawApp(t, "")
	fc := NewClient([]string{app.addr}, context.Background())
	c, err := fc.Dial(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Discard(c)
	c.Preload([]byte("HTTP/1.1 200 OK\r\n"), nil, true)
	line, err := c.ReadLine()
	if err != nil || string(line) != "HTTP/1.1 200 OK" {
		t.Fatalf("ReadLine = %q, %v", line, err)
	}
	if _, err := c.ReadLine(); !errors.Is(err, ErrWouldWait) {
		t.Errorf("a read past the preloaded bytes: %v, want ErrWouldWait", err)
	}
}

func TestReplayable(t *testing.T) {
	for _, tc := range []struct {
		method, header string
		want           bool
	}{
		{"GET", "", true}, {"HEAD", "", true}, {"OPTIONS", "", true}, {"TRACE", "", true},
		{"POST", "", false}, {"DELETE", "", false}, {"PUT", "", false},
		{"POST", "Idempotency-Key", true}, {"PATCH", "X-Idempotency-Key", true},
	} {
		r := httptest.NewRequest(tc.method, "/", nil)
		if tc.header != "" {
			r.Header.Set(tc.header, "k")
		}
		if got := Replayable(r); got != tc.want {
			t.Errorf("Replayable(%s with %q) = %v, want %v", tc.method, tc.header, got, tc.want)
		}
	}
}

func TestWriteRequestHead_PrefixReplacesTheClients(t *testing.T) {
	for _, tc := range []struct{ prefix, want string }{
		{"/api", "X-Forwarded-Prefix: /api\r\n"},
		{"", "X-Forwarded-Prefix: /client\r\n"},
	} {
		r := getRequest(t, context.Background())
		r.Header.Set("X-Forwarded-Prefix", "/client")
		var b strings.Builder
		bw := bufio.NewWriter(&b)
		writeRequestHead(bw, r, "127.0.0.1:1", tc.prefix)
		bw.Flush()
		if head := b.String(); strings.Count(head, "X-Forwarded-Prefix") != 1 || !strings.Contains(head, tc.want) {
			t.Errorf("prefix %q: head %q, want one %q", tc.prefix, head, tc.want)
		}
	}
}
