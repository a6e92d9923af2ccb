package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	keyA = RouteKey{App: "shop", Env: "production", Service: "web"}
	keyB = RouteKey{App: "blog", Env: "production", Service: "web"}
)

func TestProxy_RoutesByHost(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test", "www.shop.test"}, newBackend(t, "shop", nil))
	routeTo(t, px, keyB, []string{"Blog.Test"}, newBackend(t, "blog", nil))

	for host, want := range map[string]string{
		"shop.test":      "shop",
		"SHOP.test:8080": "shop",
		"www.shop.test":  "shop",
		"blog.test":      "blog",
		"blog.test:80":   "blog",
		"blog.test.":     "blog",
	} {
		code, body := get(t, srv.Client(), srv.URL, host)
		if code != 200 || body != want {
			t.Errorf("Host %s: got %d %q, want 200 %q", host, code, body, want)
		}
	}
}

func TestProxy_UnknownHostIs404(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", nil))

	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Host = "nope.test"
	req.Header.Set("Accept", "text/html,*/*")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(b), "No app is routed to the host nope.test") {
		t.Fatalf("got %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	code, body := get(t, srv.Client(), srv.URL, "nope.test")
	if code != 404 || !strings.HasPrefix(body, "404 ") {
		t.Fatalf("plain: got %d %q", code, body)
	}
	if got := px.Unrouted(); got != 2 {
		t.Fatalf("unrouted = %d, want 2", got)
	}
	if c := px.Counters(keyA.App, keyA.Env); c != (Counters{}) {
		t.Fatalf("counters = %+v, want zero", c)
	}
}

func TestProxy_NoHealthyTargetIs503(t *testing.T) {
	px, srv := newProxyServer(t)
	b := newBackend(t, "shop", nil)
	b.up.Store(false)
	p := newPool(t, keyA, "r1", fastHealth(), b)
	if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, srv.Client(), srv.URL, "shop.test")
	if code != 503 || !strings.Contains(body, "No healthy container for shop/production/web") {
		t.Fatalf("got %d %q", code, body)
	}
	if c := px.Counters(keyA.App, keyA.Env); c != (Counters{Failed: 1}) {
		t.Fatalf("counters = %+v", c)
	}
}

func TestProxy_RoundRobinsOverHealthyTargets(t *testing.T) {
	px, srv := newProxyServer(t)
	bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
	routeTo(t, px, keyA, []string{"shop.test"}, bs...)
	seen := map[string]int{}
	for range 300 {
		_, body := get(t, srv.Client(), srv.URL, "shop.test")
		seen[body]++
	}
	for _, b := range bs {
		if seen[b.name] != 100 {
			t.Fatalf("spread %v, want 100 each", seen)
		}
	}
}

func TestProxy_SetsForwardedHeadersAndKeepsHost(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s xff=%s proto=%s xfh=%s", r.Host, r.Header.Get("X-Forwarded-For"),
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"))
	}))
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Host = "shop.test:8080"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Proto", "https") // a client may not claim TLS
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "host=shop.test:8080 xff=203.0.113.9, 127.0.0.1 proto=http xfh=shop.test:8080"
	if string(b) != want {
		t.Fatalf("got  %q\nwant %q", b, want)
	}
}

func TestProxy_StreamsRequestBody(t *testing.T) {
	px, srv := newProxyServer(t)
	gotFirst := make(chan string, 1)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		br := bufio.NewReader(r.Body)
		first, _ := br.ReadString('\n')
		gotFirst <- first
		rest, _ := io.ReadAll(br)
		fmt.Fprintf(w, "%d", len(first)+len(rest))
	}))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", srv.URL, pr)
	req.Host = "shop.test"
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{string(b), err}
	}()
	io.WriteString(pw, "first\n")
	select {
	case first := <-gotFirst:
		if first != "first\n" {
			t.Fatalf("first chunk %q", first)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the backend did not get the first chunk before the body ended: body not streamed")
	}
	io.WriteString(pw, strings.Repeat("x", 100000))
	pw.Close()
	r := <-done
	if r.err != nil || r.body != "100006" {
		t.Fatalf("got %q, %v", r.body, r.err)
	}
}

func TestProxy_StreamsResponseProgressively(t *testing.T) {
	px, srv := newProxyServer(t)
	next := make(chan struct{})
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
			if i < 2 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
		}
	}))
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Host = "shop.test"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("chunk %d\n", i) {
			t.Fatalf("chunk %d: %q, %v", i, line, err)
		}
		if i < 2 {
			next <- struct{}{} // the backend sends the next chunk only now
		}
	}
}

func TestProxy_UpgradesConnections(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", upgradeEcho))
	conn, br := dialUpgrade(t, srv.Listener.Addr().String(), "shop.test")
	for i := range 3 {
		echo(t, conn, br, fmt.Sprintf("hello %d", i))
	}
}

func TestProxy_ReusesBackendConnections(t *testing.T) {
	px, srv := newProxyServer(t)
	b := newBackend(t, "shop", nil)
	routeTo(t, px, keyA, []string{"shop.test"}, b)
	before := b.newConn.Load() // health probes' connections
	for range 200 {
		if code, _ := get(t, srv.Client(), srv.URL, "shop.test"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if n := b.newConn.Load() - before; n > 3 {
		t.Fatalf("200 sequential requests opened %d backend connections, want at most 3", n)
	}
}

func TestProxy_RetriesDialErrorOnAnotherTarget(t *testing.T) {
	px, srv := newProxyServer(t)
	dead, live := newBackend(t, "dead", nil), newBackend(t, "live", nil)
	hc := fastHealth()
	hc.Interval = time.Hour // keep "dead" in rotation: only requests find out
	hc.UnhealthyThreshold = 1000
	p := newPool(t, keyA, "r1", hc, dead, live)
	waitHealthy(t, p, 2)
	if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil {
		t.Fatal(err)
	}
	dead.Close()
	for i := range 20 {
		if code, body := get(t, srv.Client(), srv.URL, "shop.test"); code != 200 || body != "live" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if c := px.Counters(keyA.App, keyA.Env); c != (Counters{Served: 20}) {
		t.Fatalf("counters = %+v", c)
	}
	st := p.Status()
	if !strings.Contains(st[0].LastError, "connection refused") {
		t.Fatalf("dead target's last error = %q, want connection refused", st[0].LastError)
	}
	if st[1].Served != 20 || st[0].Served != 0 {
		t.Fatalf("served dead=%d live=%d", st[0].Served, st[1].Served)
	}
}

func TestProxy_CountsServedAndFailed(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			w.WriteHeader(500) // the app's own 500 is served, not failed
		}
	}))
	sick := newBackend(t, "sick", nil)
	sick.up.Store(false)
	pb := newPool(t, keyB, "r1", fastHealth(), sick)
	if _, err := px.SetRoute(keyB, []string{"blog.test"}, pb); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		get(t, srv.Client(), srv.URL, "shop.test")
	}
	get(t, srv.Client(), srv.URL+"/boom", "shop.test")
	for range 3 {
		get(t, srv.Client(), srv.URL, "blog.test")
	}
	get(t, srv.Client(), srv.URL, "unknown.test")

	if c := px.Counters("shop", "production"); c != (Counters{Served: 6}) {
		t.Fatalf("shop counters = %+v", c)
	}
	if c := px.Counters("blog", "production"); c != (Counters{Failed: 3}) {
		t.Fatalf("blog counters = %+v", c)
	}
	// A swap keeps the totals.
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop2", nil))
	get(t, srv.Client(), srv.URL, "shop.test")
	if c := px.Counters("shop", "production"); c != (Counters{Served: 7}) {
		t.Fatalf("shop counters after swap = %+v", c)
	}
}

func TestProxy_SetRouteChecksAndMovesHosts(t *testing.T) {
	px := New(Options{Logger: discardLog})
	b := newBackend(t, "shop", nil)
	p1 := newPool(t, keyA, "r1", fastHealth(), b)
	if old, err := px.SetRoute(keyA, []string{"a.test", "b.test"}, p1); err != nil || old != nil {
		t.Fatalf("SetRoute: %v, %v", old, err)
	}
	err := px.CheckHosts(keyB, []string{"c.test", "B.test"})
	if !errors.Is(err, ErrHostTaken) || !strings.Contains(err.Error(), "app shop env production service web") {
		t.Fatalf("CheckHosts: %v", err)
	}
	if err := px.CheckHosts(keyA, []string{"b.test"}); err != nil {
		t.Fatalf("own host: %v", err)
	}
	pb := newPool(t, keyB, "r1", fastHealth(), b)
	if _, err := px.SetRoute(keyB, []string{"b.test"}, pb); !errors.Is(err, ErrHostTaken) {
		t.Fatalf("SetRoute on a taken host: %v", err)
	}

	p2 := newPool(t, keyA, "r2", fastHealth(), b)
	old, err := px.SetRoute(keyA, []string{"b.test"}, p2)
	if err != nil || old != p1 {
		t.Fatalf("swap: old=%v err=%v", old, err)
	}
	if pool, hosts := px.Route(keyA); pool != p2 || len(hosts) != 1 || hosts[0] != "b.test" {
		t.Fatalf("Route = %v %v", pool, hosts)
	}
	if _, err := px.SetRoute(keyB, []string{"a.test"}, pb); err != nil {
		t.Fatalf("a.test was released by shop: %v", err)
	}
	if rs := px.Routes(); len(rs) != 2 || rs[0].Key != keyB || rs[1].Key != keyA {
		t.Fatalf("Routes = %+v", rs)
	}
	if old := px.RemoveRoute(keyA); old != p2 {
		t.Fatalf("RemoveRoute = %v", old)
	}
	if pool, _ := px.Route(keyA); pool != nil || px.RemoveRoute(keyA) != nil {
		t.Fatal("route still there")
	}
	if err := px.CheckHosts(keyB, []string{"b.test"}); err != nil {
		t.Fatalf("b.test still taken: %v", err)
	}
}

func TestProxy_StreamsBothWaysAtOnce(t *testing.T) {
	px, srv := newProxyServer(t)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		br := bufio.NewReader(r.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			io.WriteString(w, "echo "+line)
			w.(http.Flusher).Flush()
		}
	}))
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", srv.URL, pr)
	req.Host = "shop.test"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		fmt.Fprintf(pw, "line %d\n", i)
		got, err := br.ReadString('\n')
		if err != nil || got != fmt.Sprintf("echo line %d\n", i) {
			t.Fatalf("round %d: %q, %v", i, got, err)
		}
	}
}

func TestProxy_MaintenanceModeSurvivesSwaps(t *testing.T) {
	p := New(Options{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "app") }))
	defer backend.Close()
	key := RouteKey{App: "shop", Env: "production", Service: "web"}
	pool := NewPool(key, "1", []Target{{ID: "a", Name: "a", Addr: backend.Listener.Addr().String()}}, HealthConfig{Path: "/", Interval: 10 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 2}, nil)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pool.WaitHealthy(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetRoute(key, []string{"shop.test"}, pool); err != nil {
		t.Fatal(err)
	}
	do := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://shop.test/", nil)
		p.ServeHTTP(rec, req)
		return rec
	}
	p.SetMaintenance("shop", "production", true, []byte("<h1>back soon</h1>"))
	if rec := do(); rec.Code != 503 || rec.Header().Get("Retry-After") != "60" || rec.Body.String() != "<h1>back soon</h1>" {
		t.Fatalf("maintenance: %d %q %q", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	// A swap keeps the mode; counters are untouched.
	if _, err := p.SetRoute(key, []string{"shop.test"}, pool); err != nil {
		t.Fatal(err)
	}
	if rec := do(); rec.Code != 503 || !p.Maintenance("shop", "production") {
		t.Fatalf("after a swap: %d", rec.Code)
	}
	if c := p.Counters("shop", "production"); c.Served != 0 || c.Failed != 0 {
		t.Fatalf("maintenance answers counted: %+v", c)
	}
	p.SetMaintenance("shop", "production", false, nil)
	if rec := do(); rec.Code != 200 || rec.Body.String() != "app" {
		t.Fatalf("after maintenance: %d %q", rec.Code, rec.Body.String())
	}
}

func TestProxy_RouteOptionsRedirectAndBodyLimit(t *testing.T) {
	p := New(Options{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, "got "+strconv.Itoa(len(b)))
	}))
	defer backend.Close()
	hc := HealthConfig{Path: "/", Interval: 10 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 2}
	mk := func(svc string) (RouteKey, *Pool) {
		key := RouteKey{App: "shop", Env: "production", Service: svc}
		pool := NewPool(key, "1", []Target{{ID: svc, Name: svc, Addr: backend.Listener.Addr().String()}}, hc, nil)
		t.Cleanup(pool.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := pool.WaitHealthy(ctx, 1); err != nil {
			t.Fatal(err)
		}
		return key, pool
	}
	k1, p1 := mk("web")
	k2, p2 := mk("api")
	if _, err := p.SetRouteOptions(k1, []string{"secure.test"}, p1, RouteOptions{RedirectHTTPS: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetRouteOptions(k2, []string{"upload.test"}, p2, RouteOptions{MaxBodyBytes: 1000}); err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, p)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x?y=1", nil)
	req.Host = "secure.test"
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://secure.test/x?y=1" {
		t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	post := func(body io.Reader, length int64) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", body)
		req.Host = "upload.test"
		req.ContentLength = length
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(strings.NewReader(strings.Repeat("a", 500)), 500); code != 200 || body != "got 500" {
		t.Fatalf("under the limit: %d %q", code, body)
	}
	if code, _ := post(strings.NewReader(strings.Repeat("a", 5000)), 5000); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared too large: %d", code)
	}
	// Streamed (chunked) past the limit.
	if code, _ := post(io.MultiReader(strings.NewReader(strings.Repeat("a", 5000))), -1); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("streamed too large: %d", code)
	}
	if c := p.Counters("shop", "production"); c.Failed != 0 {
		t.Fatalf("client errors counted as failed: %+v", c)
	}
}

func TestProxy_AppErrorPages(t *testing.T) {
	p := New(Options{})
	key := RouteKey{App: "shop", Env: "production", Service: "web"}
	// A pool whose only target never becomes healthy: 503.
	pool := NewPool(key, "1", []Target{{ID: "x", Name: "x", Addr: "127.0.0.1:1"}}, HealthConfig{Path: "/", Interval: time.Second, Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 1}, nil)
	defer pool.Close()
	if _, err := p.SetRoute(key, []string{"shop.test"}, pool); err != nil {
		t.Fatal(err)
	}
	do := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://shop.test/", nil))
		return rec
	}
	if rec := do(); rec.Code != 503 || strings.Contains(rec.Body.String(), "our own") {
		t.Fatalf("default page: %d %q", rec.Code, rec.Body.String())
	}
	p.SetErrorPages("shop", "production", map[int][]byte{503: []byte("<h1>our own 503</h1>")})
	if rec := do(); rec.Code != 503 || rec.Body.String() != "<h1>our own 503</h1>" {
		t.Fatalf("app page: %d %q", rec.Code, rec.Body.String())
	}
	p.SetErrorPages("shop", "production", nil)
	if rec := do(); strings.Contains(rec.Body.String(), "our own") {
		t.Fatal("pages not restored")
	}
}
