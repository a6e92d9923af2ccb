package upstream

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestEventEdge_FindsTheEndOfAnEvent(t *testing.T) {
	for _, tc := range []struct {
		kind eventKind
		in   string
		want int // cutAt of in, from a stream's start after pre
		pre  string
	}{
		{sseStream, "data: a\n\n", 9, "x"},
		{sseStream, "data: a\r\n\r\ndata: b", 11, "x"},
		{sseStream, "data: a\r\rdata", 9, "x"},
		{sseStream, "\ndata", 1, "data: a\n"}, // the blank line completes the event
		{sseStream, "data: a\ndata: b\n", -1, "x"},
		{sseStream, "\r\n", 2, "data: a\r\n"}, // a CR ending it takes its LF
		{lineStream, "{\"a\":1}\n{\"b\"", 8, "x"},
		{lineStream, "{\"a\":1}", -1, "x"},
	} {
		e := newEventEdge(tc.kind)
		e.feed([]byte(tc.pre))
		if got := e.cutAt([]byte(tc.in)); got != tc.want {
			t.Errorf("%q after %q: cutAt = %d, want %d", tc.in, tc.pre, got, tc.want)
		}
	}
	e := newEventEdge(sseStream)
	if !e.boundary() {
		t.Error("a stream's start is not a boundary")
	}
	e.feed([]byte("data: a\n"))
	if e.boundary() {
		t.Error("after one line of an event: boundary")
	}
	e.feed([]byte("\n"))
	if !e.boundary() {
		t.Error("after the blank line: no boundary")
	}
}

func TestStreamKind_OfContentTypes(t *testing.T) {
	for ct, want := range map[string]eventKind{
		"text/event-stream":                sseStream,
		"Text/Event-Stream; charset=utf-8": sseStream,
		"application/x-ndjson":             lineStream,
		"application/jsonl":                lineStream,
		"application/json":                 notStream,
		"text/plain":                       notStream,
		"text/event-stream; charset=\"bad": notStream,
		"":                                 notStream,
	} {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if got := streamKind(h); got != want {
			t.Errorf("%q: kind %d, want %d", ct, got, want)
		}
	}
}

// streamApp answers one request with the head, then writes what comes on
// parts, each as it comes.
type streamApp struct {
	addr  string
	parts chan string
}

func newStreamApp(t *testing.T, head string) *streamApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &streamApp{addr: ln.Addr().String(), parts: make(chan string)}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close(); wg.Wait() })
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		_, _ = c.Write([]byte(head))
		for {
			select {
			case p := <-a.parts:
				if _, err := c.Write([]byte(p)); err != nil {
					return
				}
			case <-done:
				return
			}
		}
	})
	return a
}

// chunk frames s as one chunk.
func chunk(s string) string { return strconv.FormatInt(int64(len(s)), 16) + "\r\n" + s + "\r\n" }

// syncRecorder is a ResponseRecorder whose body may be read while the
// copy goes on.
type syncRecorder struct {
	*httptest.ResponseRecorder
	mu sync.Mutex
}

func (r *syncRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ResponseRecorder.Write(p)
}

func (r *syncRecorder) Flush() {}

func (r *syncRecorder) body() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Body.String()
}

// streamRig starts a copy of a stream answered with head from a.
func streamRig(t *testing.T, head string) (a *streamApp, rec *syncRecorder, cut context.CancelFunc, c *Conn, errc chan error) {
	t.Helper()
	a = newStreamApp(t, head)
	ctx, cut := context.WithCancel(context.Background())
	t.Cleanup(cut)
	fc := NewClient([]string{a.addr}, ctx)
	c, err := fc.Get(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	r := getRequest(t, context.Background())
	c.Use(r)
	c.WriteRequestHead(r, "")
	if err := c.SendHead(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	rec = &syncRecorder{ResponseRecorder: httptest.NewRecorder()}
	rh, err := c.ReadResponseHead(rec, rec.Header(), r.Method)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearDeadline()
	errc = make(chan error, 1)
	go func() {
		var n int64
		_, err := c.CopyBody(rec, rec.Header(), rh, &n)
		errc <- err
		fc.Release(c, r, false)
	}()
	return a, rec, cut, c, errc
}

// waitBody polls until rec's body is want.
func waitBody(t *testing.T, rec *syncRecorder, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for rec.body() != want {
		if time.Now().After(deadline) {
			t.Fatalf("body %q, want %q", rec.body(), want)
		}
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}
}

const sseHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

func TestCopyBody_CutBetweenEventsEndsTheStream(t *testing.T) {
	t.Parallel()
	a, rec, cut, _, errc := streamRig(t, sseHead)
	a.parts <- chunk("data: one\n\n")
	waitBody(t, rec, "data: one\n\n")
	cut()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrStreamEnded) {
			t.Fatalf("CopyBody = %v, want ErrStreamEnded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cut did not end the stream")
	}
	if got := rec.body(); got != "data: one\n\n" {
		t.Errorf("body %q", got)
	}
}

func TestCopyBody_CutInAnEventFinishesTheEventFirst(t *testing.T) {
	t.Parallel()
	a, rec, cut, c, errc := streamRig(t, sseHead)
	a.parts <- chunk("data: one\n\ndata: tw")
	waitBody(t, rec, "data: one\n\ndata: tw")
	cut()
	deadline := time.Now().Add(5 * time.Second)
	for !c.stream.cut.Load() { // the cut reached the connection
		if time.Now().After(deadline) {
			t.Fatal("the cut did not reach the stream")
		}
		time.Sleep(time.Millisecond)
	}
	// The rest of the event and the next one in one chunk: the copy stops
	// after the first.
	a.parts <- chunk("o\n\ndata: three\n\n")
	select {
	case err := <-errc:
		if !errors.Is(err, ErrStreamEnded) {
			t.Fatalf("CopyBody = %v, want ErrStreamEnded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end at the event's end")
	}
	if got := rec.body(); got != "data: one\n\ndata: two\n\n" {
		t.Errorf("body %q, want the two whole events", got)
	}
}

func TestCopyBody_CutInAnEventThatNeverEndsFails(t *testing.T) {
	t.Parallel()
	a, rec, cut, _, errc := streamRig(t, sseHead)
	a.parts <- chunk("data: one\n\ndata: tw")
	waitBody(t, rec, "data: one\n\ndata: tw")
	start := time.Now()
	cut()
	select {
	case err := <-errc:
		if err == nil || errors.Is(err, ErrStreamEnded) {
			t.Fatalf("CopyBody = %v, want the copy's failure", err)
		}
		if d := time.Since(start); d < StreamGrace/2 {
			t.Errorf("closed after %s, before the grace of %s", d, StreamGrace)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the grace did not end the stream")
	}
}

func TestCopyBody_CutOfAnotherChunkedBodyFails(t *testing.T) {
	t.Parallel()
	a, rec, cut, _, errc := streamRig(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
	a.parts <- chunk("line one\n\n")
	waitBody(t, rec, "line one\n\n")
	cut()
	select {
	case err := <-errc:
		if err == nil || errors.Is(err, ErrStreamEnded) {
			t.Fatalf("CopyBody = %v: a cut download must not look whole", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cut did not end the copy")
	}
}
