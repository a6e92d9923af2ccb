package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sseApp streams "data: one" and, when half, half of "data: two" (whose
// rest it sends once rest is closed), then holds the stream open until the
// request ends.
func sseApp(half bool, rest <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		io.WriteString(w, "data: one\n\n")
		fl.Flush()
		if half {
			io.WriteString(w, "data: tw")
			fl.Flush()
			select {
			case <-rest:
				io.WriteString(w, "o\n\n")
				fl.Flush()
			case <-r.Context().Done():
				return
			}
		}
		<-r.Context().Done()
	}
}

// TestPool_DrainEndsEventStreamsBetweenEvents: an event stream still open
// at the drain deadline ends with its last chunk after a whole event, so
// the client sees a stream that ended (and reconnects), not one that
// broke; one cut in the middle of an event gets that event whole first.
// The drain counts them.
func TestPool_DrainEndsEventStreamsBetweenEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		half bool
		want string
	}{
		{"between events", false, "data: one\n\n"},
		{"in an event", true, "data: one\n\ndata: two\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px, srv := newProxyServer(t)
			rest := make(chan struct{})
			p1 := routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "sse", sseApp(tc.half, rest)))

			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprint(conn, "GET /events HTTP/1.1\r\nHost: shop.test\r\nAccept: text/event-stream\r\n\r\n")
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("stream: %v %v", resp, err)
			}
			first := make([]byte, len("data: one\n\n"))
			if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: one\n\n" {
				t.Fatalf("first event %q: %v", first, err)
			}
			if tc.half { // the app finishes its event once the cut came
				go func() {
					<-p1.reqCtx.Done()
					close(rest)
				}()
			}
			drained := make(chan DrainResult, 1)
			go func() { drained <- p1.Drain(context.Background(), 50*time.Millisecond) }()
			tail, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("the stream broke after %q: %v; want its last chunk", tail, err)
			}
			if got := string(first) + string(tail); got != tc.want {
				t.Errorf("the client got %q, want %q", got, tc.want)
			}
			if strings.HasSuffix(string(tail), "data: tw") {
				t.Error("half an event reached the client")
			}
			res := <-drained
			if res.Cut != 1 || res.Long != (LongConns{Open: 1, Closed: 1}) {
				t.Errorf("drain = %+v, want the stream counted open and closed at the deadline", res)
			}
		})
	}
}

// TestPool_DrainCountsLongConnectionsThatFinish: a stream that ends by
// itself during the drain is counted as finished, and a short request is
// no long connection.
func TestPool_DrainCountsLongConnectionsThatFinish(t *testing.T) {
	px, srv := newProxyServer(t)
	end := make(chan struct{})
	p1 := routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-end
	}))
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "shop.test"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	drained := make(chan DrainResult, 1)
	go func() { drained <- p1.Drain(context.Background(), 10*time.Second) }()
	deadline := time.Now().Add(5 * time.Second)
	// The stream is under way and the drain has begun (retired the
	// pool) before the stream ends by itself.
	for p1.long.open.Load() != 1 || p1.InFlight() != 1 || !p1.retired.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the stream is not under way")
		}
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}
	close(end)
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	res := <-drained
	if res.Cut != 0 || res.Long != (LongConns{Open: 1, Finished: 1}) {
		t.Errorf("drain = %+v, want one stream that finished by itself", res)
	}
}
