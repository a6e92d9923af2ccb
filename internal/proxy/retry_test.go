package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stickyHealth keeps a target that only requests find failing in
// rotation, so that every request to it shows what the proxy does.
func stickyHealth() HealthConfig {
	hc := fastHealth()
	hc.Interval = time.Hour
	hc.UnhealthyThreshold = 1000
	return hc
}

// routeSticky routes shop.test to a pool over bs with stickyHealth.
func routeSticky(t *testing.T, px *Proxy, o RouteOptions, bs ...*backend) *Pool {
	t.Helper()
	p := newPool(t, keyA, "r1", stickyHealth(), bs...)
	waitHealthy(t, p, len(bs))
	if _, err := px.SetRouteOptions(keyA, []string{"shop.test"}, p, o); err != nil {
		t.Fatal(err)
	}
	return p
}

// hijackClose is a handler that reads the request and closes the
// connection without a byte of response: a target dying mid-request.
func hijackClose(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

func TestProxy_ResetBeforeResponseRetriesSafeRequestsOnly(t *testing.T) {
	px, srv := newProxyServer(t)
	dying, live := newBackend(t, "dying", hijackClose), newBackend(t, "live", nil)
	p := routeSticky(t, px, RouteOptions{}, dying, live)

	for _, method := range []string{"GET", "HEAD", "OPTIONS", "GET", "GET", "HEAD"} {
		code, body := do(t, method, srv.URL+"/x", "shop.test", "")
		if code != 200 || (method != "HEAD" && body != "live") {
			t.Fatalf("%s: %d %q; want live's 200", method, code, body)
		}
	}
	if dying.hits.Load() == 0 {
		t.Fatal("no request reached the dying target: the test proves nothing")
	}
	if r := p.Stats().Retries; r != uint64(dying.hits.Load()) {
		t.Errorf("retries %d; the dying target failed %d requests", r, dying.hits.Load())
	}

	// POST (ReverseProxy path) and DELETE (fast path) were sent: never twice.
	for _, method := range []string{"POST", "DELETE"} {
		d0, l0 := dying.hits.Load(), live.hits.Load()
		var bad int64
		for range 6 {
			body := ""
			if method == "POST" {
				body = "payload"
			}
			code, _ := do(t, method, srv.URL+"/x", "shop.test", body)
			switch code {
			case 200:
			case http.StatusBadGateway:
				bad++
			default:
				t.Fatalf("%s: %d", method, code)
			}
		}
		d, l := dying.hits.Load()-d0, live.hits.Load()-l0
		if d == 0 || bad != d || d+l != 6 {
			t.Errorf("%s: %d answered 502, dying saw %d, live %d; want each 502 to be one request the dying target got, none sent twice", method, bad, d, l)
		}
	}
	st := p.Status()
	if !strings.Contains(st[0].LastError, "request failed") || st[0].Errors.Reset == 0 {
		t.Errorf("dying target: last error %q, errors %+v; want its failures counted", st[0].LastError, st[0].Errors)
	}
}

func TestProxy_ResponseStartedIsNeverRetried(t *testing.T) {
	px, srv := newProxyServer(t)
	cutter := newBackend(t, "cutter", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		if r.URL.Path == "/hints" {
			brw.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n")
		} else {
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
		}
		brw.Flush()
	})
	live := newBackend(t, "live", nil)
	p := routeSticky(t, px, RouteOptions{}, cutter, live)

	for _, path := range []string{"/body", "/hints"} {
		c0, l0 := cutter.hits.Load(), live.hits.Load()
		var whole, broken int64
		for range 6 {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Host = "shop.test"
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case err == nil && resp.StatusCode == 200 && string(b) == "live":
				whole++
			case path == "/body" && errors.Is(err, io.ErrUnexpectedEOF):
				broken++
			case path == "/hints" && resp.StatusCode == http.StatusBadGateway:
				broken++
			default:
				t.Fatalf("%s: %d %q %v", path, resp.StatusCode, b, err)
			}
		}
		c, l := cutter.hits.Load()-c0, live.hits.Load()-l0
		if c == 0 || broken != c || whole != l {
			t.Errorf("%s: %d whole, %d broken; cutter saw %d, live %d: a started response was retried", path, whole, broken, c, l)
		}
	}
	if r := p.Stats().Retries; r != 0 {
		t.Errorf("retries %d; want 0", r)
	}
}

func TestFast_StaleKeepAliveIsReplayedOnAFreshConnection(t *testing.T) {
	px, srv := newProxyServer(t)
	// One request per connection, closed without saying so: every reused
	// connection meets the stale-connection race.
	rb := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false
	})
	p := routeRaw(t, px, rb)
	for i := range 5 {
		if code, body := get(t, srv.Client(), srv.URL, "shop.test"); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	s := p.Stats()
	if s.Replays == 0 || s.Retries != 0 {
		t.Errorf("replays %d, retries %d; want replays on the same target", s.Replays, s.Retries)
	}
	if st := p.Status()[0]; !st.Healthy || st.LastError != "" {
		t.Errorf("a target closing idle connections was counted as failing: %+v", st)
	}
}

func TestProxy_ResponseHeaderTimeoutRetriesSafeRequests(t *testing.T) {
	px, srv := newProxyServer(t)
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	live := newBackend(t, "live", nil)
	routeSticky(t, px, RouteOptions{ResponseTimeout: 150 * time.Millisecond}, slow, live)
	for range 4 {
		if code, body := do(t, "GET", srv.URL+"/x", "shop.test", ""); code != 200 || body != "live" {
			t.Fatalf("GET: %d %q", code, body)
		}
	}
	var timeouts int
	for range 4 {
		code, _ := do(t, "DELETE", srv.URL+"/x", "shop.test", "")
		if code == http.StatusGatewayTimeout {
			timeouts++
		} else if code != 200 {
			t.Fatalf("DELETE: %d", code)
		}
	}
	if timeouts == 0 {
		t.Error("no DELETE reached the slow target")
	}
}

// holeBackend answers until hole is set; then it takes requests (health
// probes included) and never answers, as a task on a node cut off the
// network.
type holeBackend struct {
	*httptest.Server
	hole    atomic.Bool
	arrived chan string // methods of requests that met the hole
}

func newHoleBackend(t *testing.T) *holeBackend {
	hb := &holeBackend{arrived: make(chan string, 64)}
	release := make(chan struct{})
	hb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hb.hole.Load() {
			if r.URL.Path != "/up" {
				hb.arrived <- r.Method
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hole")
	}))
	t.Cleanup(hb.Close)
	t.Cleanup(func() { close(release) })
	return hb
}

func TestProxy_UnreachableTargetCutsItsWaitingRequests(t *testing.T) {
	px, srv := newProxyServer(t)
	hb, live := newHoleBackend(t), newBackend(t, "live", nil)
	hc := fastHealth()
	hc.Interval, hc.Timeout = 50*time.Millisecond, 300*time.Millisecond
	ts := []Target{{ID: "hole", Name: "hole", Addr: hb.Listener.Addr().String()}, live.target()}
	p := NewPool(keyA, "r1", ts, hc, discardLog)
	t.Cleanup(p.Close)
	waitHealthy(t, p, 2)
	if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil {
		t.Fatal(err)
	}
	type result struct {
		method string
		code   int
		body   string
	}
	results := make(chan result, 64)
	send := func(method string) {
		body := ""
		if method == "POST" {
			body = "payload"
		}
		code, b := do(t, method, srv.URL+"/x", "shop.test", body)
		results <- result{method, code, b}
	}
	hb.hole.Store(true)
	start := time.Now()
	// Send GETs and POSTs until one of each waits in the hole.
	sent, waiting := 0, map[string]int{}
	for _, method := range []string{"GET", "POST"} {
		for waiting[method] == 0 {
			if sent == 20 {
				t.Fatalf("no %s reached the unreachable target", method)
			}
			go send(method)
			sent++
			select {
			case m := <-hb.arrived:
				waiting[m]++
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	var bad int
	for range sent {
		select {
		case r := <-results:
			switch {
			case r.code == 200 && r.body == "live":
			case r.method == "POST" && r.code == http.StatusBadGateway:
				bad++
			default:
				t.Errorf("%s: %d %q", r.method, r.code, r.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("requests to the unreachable target were not cut")
		}
	}
	t.Logf("all %d requests answered %s after the target stopped answering", sent, time.Since(start).Round(time.Millisecond))
	if bad != waiting["POST"] {
		t.Errorf("%d POSTs answered 502, %d waited on the unreachable target", bad, waiting["POST"])
	}
	if st := p.Status()[0]; st.Healthy {
		t.Errorf("the unreachable target is still in rotation: %+v", st)
	}
	if p.Stats().Retries == 0 {
		t.Error("no retry counted")
	}
}

// The ReverseProxy path (requests with a body or an upgrade) follows the
// same rules; a body-less GET never takes it but for this test.
func TestForward_RetriesOnlySafeBodylessRequests(t *testing.T) {
	dying, live := newBackend(t, "dying", hijackClose), newBackend(t, "live", nil)
	p := newPool(t, keyA, "r1", stickyHealth(), dying, live)
	waitHealthy(t, p, 2)
	serve := func(method, body string) *httptest.ResponseRecorder {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, "http://shop.test/x", rd)
		w := httptest.NewRecorder()
		res := outcome{ids: []string{"id"}}
		p.serveProxy(w, r, &counters{}, p.targets[0], 0, 0, "", &res)
		return w
	}
	if w := serve("GET", ""); w.Code != 200 || w.Body.String() != "live" {
		t.Errorf("GET: %d %q; want live's answer", w.Code, w.Body.String())
	}
	for _, m := range []string{"POST", "GET"} { // a GET with a body cannot be sent again
		if w := serve(m, "payload"); w.Code != http.StatusBadGateway {
			t.Errorf("%s with a body: %d; want 502", m, w.Code)
		}
	}
	if d := dying.hits.Load(); d != 3 {
		t.Errorf("dying target got %d requests; want 3", d)
	}
	if r := p.Stats().Retries; r != 1 {
		t.Errorf("retries %d; want 1", r)
	}
}
