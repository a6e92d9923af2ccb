package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// A request body that fails on the client's side is the client's fault:
// the client gets 400, 408 or 413 (499 in the access log when it left),
// the target stays in rotation and nobody else notices. These tests send
// raw bytes through every server kind (TestMain).

// bodyRig is a proxy with an access log routing shop.test to an app that
// reads request bodies whole and answers their length.
type bodyRig struct {
	px   *Proxy
	pool *Pool
	app  *backend
	log  *testutil.SyncBuffer
	srv  string // the proxy server's address
	url  string
}

func newBodyRig(t *testing.T, o RouteOptions) *bodyRig {
	t.Helper()
	app := newBackend(t, "app", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		fmt.Fprintf(w, "read %d", n)
	})
	buf := &testutil.SyncBuffer{}
	al := NewAccessLog(buf)
	t.Cleanup(func() { al.Close() })
	px := New(Options{Logger: discardLog, AccessLog: al})
	hs := newTestServer(t, px)
	pool := newPool(t, keyA, "r1", fastHealth(), app)
	waitHealthy(t, pool, 1)
	if _, err := px.SetRouteOptions(keyA, []string{"shop.test"}, pool, o); err != nil {
		t.Fatal(err)
	}
	return &bodyRig{px: px, pool: pool, app: app, log: buf, srv: hs.Listener.Addr().String(), url: hs.URL}
}

// send writes raw to a new connection and returns the response's status
// and body (status 0: the connection closed without one).
func (rig *bodyRig) send(t *testing.T, raw string) (int, string) {
	t.Helper()
	resp, body := rawExchange(t, rig.srv, raw)
	if resp == nil {
		return 0, ""
	}
	return resp.StatusCode, body
}

// readStatus reads an answer from c: its status and body (0: none).
func readStatus(c net.Conn) (int, string) {
	resp, body := readResponse(c)
	if resp == nil {
		return 0, ""
	}
	return resp.StatusCode, body
}

// healthy checks that the app never left rotation and still answers.
func (rig *bodyRig) healthy(t *testing.T) {
	t.Helper()
	st := rig.pool.Status()
	if len(st) != 1 || !st[0].Healthy {
		t.Fatalf("the app left rotation: %+v", st)
	}
	if e := st[0].Errors; e != (UpstreamErrors{}) {
		t.Fatalf("upstream errors counted against the app: %+v", e)
	}
	c, err := net.Dial("tcp", rig.srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\n\r\nhello")
	if st, body := readStatus(c); st != 200 || body != "read 5" {
		t.Fatalf("an ordinary upload after: %d %q", st, body)
	}
}

// logged waits for an access log line with status and returns it.
func (rig *bodyRig) logged(t *testing.T, status int) {
	t.Helper()
	want := `"status":` + strconv.Itoa(status) + `,`
	testutil.Eventually(t, 3*time.Second, "an access log line with "+want, func() bool {
		return strings.Contains(rig.log.String(), want)
	})
}

func TestClientFault_MalformedChunkedBodyGets400(t *testing.T) {
	t.Parallel()
	rig := newBodyRig(t, RouteOptions{})
	for _, chunk := range []string{"-5", "zz", "5;" + strings.Repeat("x", 9000), "ffffffffffffffffffff"} {
		st, _ := rig.send(t, "POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk+"\r\nhello\r\n0\r\n\r\n")
		if st != http.StatusBadRequest {
			t.Errorf("chunk size %.10q: status %d, want 400", chunk, st)
		}
	}
	rig.logged(t, 400)
	rig.healthy(t)
}

func TestClientFault_MalformedChunkAfterLargeBodyGets400(t *testing.T) {
	t.Parallel()
	rig := newBodyRig(t, RouteOptions{})
	big := strings.Repeat("b", 100<<10) // more than is read whole first
	st, _ := rig.send(t, "POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n"+
		strconv.FormatInt(int64(len(big)), 16)+"\r\n"+big+"\r\n-5\r\nhello\r\n0\r\n\r\n")
	if st != http.StatusBadRequest && st != 0 {
		t.Errorf("status %d, want 400", st)
	}
	rig.healthy(t)
}

func TestClientFault_AbortedUploadIsLogged499(t *testing.T) {
	t.Parallel()
	rig := newBodyRig(t, RouteOptions{})
	for _, part := range []int{10, 90 << 10} { // read whole first, and streamed
		c, err := net.Dial("tcp", rig.srv)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 200000\r\n\r\n%s", strings.Repeat("a", part))
		if part > bufferedBodyMax {
			testutil.Eventually(t, 3*time.Second, "the app reading the upload", func() bool { return rig.app.hits.Load() > 0 })
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close() // a reset
	}
	rig.logged(t, statusClientClosed)
	if strings.Contains(rig.log.String(), `"status":502`) {
		t.Errorf("an aborted upload was answered 502:\n%s", rig.log.String())
	}
	rig.healthy(t)
}

func TestClientFault_ShortBodyGets400(t *testing.T) {
	t.Parallel()
	rig := newBodyRig(t, RouteOptions{})
	c, err := net.Dial("tcp", rig.srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 100\r\n\r\nonly this")
	c.(*net.TCPConn).CloseWrite()
	if st, _ := readStatus(c); st != http.StatusBadRequest {
		t.Errorf("a body cut short by a half-close: status %d, want 400", st)
	}
	rig.healthy(t)
}

func TestClientFault_StalledBodyGets408WithoutHoldingTheApp(t *testing.T) {
	t.Parallel()
	rig := newBodyRig(t, RouteOptions{BodyTimeout: 300 * time.Millisecond})
	before := rig.app.newConn.Load()
	for _, sent := range []int{10, 80 << 10} { // read whole first, and streamed
		c, err := net.Dial("tcp", rig.srv)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: %d\r\n\r\n%s", 2*sent, strings.Repeat("a", sent))
		st, _ := readStatus(c)
		if st != http.StatusRequestTimeout && !(sent > bufferedBodyMax && st == 0) {
			t.Errorf("a stalled upload after %d bytes: status %d, want 408", sent, st)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("a stalled upload was cut after %v, want about 300ms", d)
		}
		if sent < bufferedBodyMax {
			if n := rig.app.newConn.Load() - before; n != 0 {
				t.Errorf("a small stalled upload opened %d connections to the app", n)
			}
		}
	}
	rig.logged(t, http.StatusRequestTimeout)
	rig.healthy(t)
}

func TestClientFault_BodyOverTheLimitGets413(t *testing.T) {
	t.Parallel()
	rig := newBodyRig(t, RouteOptions{MaxBodyBytes: 1000})
	body := strings.Repeat("x", 2000)
	if st, _ := rig.send(t, "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 2000\r\n\r\n"+body); st != 413 {
		t.Errorf("declared length over the limit: status %d, want 413", st)
	}
	if st, _ := rig.send(t, "POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n"+body+"\r\n0\r\n\r\n"); st != 413 {
		t.Errorf("chunked body over the limit: status %d, want 413", st)
	}
	if st, b := rig.send(t, "POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n"+body[:1000]+"\r\n0\r\n\r\n"); st != 200 || b != "read 1000" {
		t.Errorf("chunked body at the limit: %d %q", st, b)
	}
	rig.healthy(t)
}

func TestClientFault_DefaultBodyLimit(t *testing.T) {
	t.Parallel()
	px := New(Options{Logger: discardLog})
	if px.defaults.maxBody != DefaultMaxBodyBytes || px.defaults.bodyTimeout != DefaultBodyTimeout ||
		px.defaults.writeTimeout != DefaultWriteTimeout {
		t.Fatalf("defaults: %+v", px.defaults)
	}
	px = New(Options{Logger: discardLog, MaxBodyBytes: -1, BodyTimeout: -1, WriteTimeout: 5 * time.Second})
	if (px.defaults != limits{writeTimeout: 5 * time.Second}) {
		t.Fatalf("negative is none: %+v", px.defaults)
	}
	got := px.defaults.resolve(RouteOptions{MaxBodyBytes: 10, BodyTimeout: time.Second, WriteTimeout: -1})
	if (got != limits{maxBody: 10, bodyTimeout: time.Second}) {
		t.Fatalf("route options over defaults: %+v", got)
	}
	rig := newBodyRig(t, RouteOptions{})
	if st, _ := rig.send(t, "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: "+strconv.Itoa(DefaultMaxBodyBytes+1)+"\r\n\r\n"); st != 413 {
		t.Errorf("a body over the default limit: status %d, want 413", st)
	}
}

// A body read whole before the app sees it goes on as it came, with
// 100-continue answered; a chunked one streams.
func TestClientBody_SmallBodiesArriveWhole(t *testing.T) {
	t.Parallel()
	var got []string
	gotc := make(chan string, 8)
	app := newBackend(t, "app", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotc <- fmt.Sprintf("%d %v %q %s", r.ContentLength, r.TransferEncoding, r.Header.Get("Expect"), b)
		io.WriteString(w, "ok")
	})
	px, hs := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, app)
	addr := hs.Listener.Addr().String()
	for _, raw := range []string{
		"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, raw)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err == nil && resp.StatusCode == http.StatusContinue {
			resp, err = http.ReadResponse(br, nil)
		}
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%q: %v %v", raw, resp, err)
		}
		c.Close()
		got = append(got, <-gotc)
	}
	want := []string{`5 [] "" hello`, `-1 [chunked] "" hello`, `5 [] "" hello`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the app got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A client that never reads a large answer is cut after the route's write
// timeout, and the app's write is let go.
func TestClientFault_ClientThatDoesNotReadIsCut(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"GET", "POST"} {
		appDone := make(chan error, 1)
		app := newBackend(t, "app", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			buf := make([]byte, 64<<10)
			for {
				if _, err := w.Write(buf); err != nil {
					appDone <- err
					return
				}
			}
		})
		px, hs := newProxyServer(t)
		pool := newPool(t, keyA, "r1", fastHealth(), app)
		waitHealthy(t, pool, 1)
		if _, err := px.SetRouteOptions(keyA, []string{"shop.test"}, pool, RouteOptions{WriteTimeout: 300 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		body := ""
		if method == "POST" {
			body = "Content-Length: 2\r\n\r\nhi"
		} else {
			body = "\r\n"
		}
		io.WriteString(c, method+" / HTTP/1.1\r\nHost: shop.test\r\n"+body)
		select {
		case <-appDone:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the app still writes to a client that reads nothing, 10s on (write timeout 300ms)", method)
		}
		// The connection was closed: reading what is left ends.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("%s: the proxy kept the connection: %v", method, err)
		}
	}
}
