package proxy

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// pathEcho answers "NAME URI PREFIX BODYLEN".
func pathEcho(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, name+" "+r.RequestURI+" "+r.Header.Get("X-Forwarded-Prefix")+" "+strconv.Itoa(len(b)))
	}
}

// routeOpts builds a healthy pool over bs and routes hosts to it with o.
func routeOpts(t *testing.T, px *Proxy, key RouteKey, hosts []string, o RouteOptions, bs ...*backend) *Pool {
	t.Helper()
	p := newPool(t, key, "r1", fastHealth(), bs...)
	waitHealthy(t, p, len(bs))
	if _, err := px.SetRouteOptions(key, hosts, p, o); err != nil {
		t.Fatal(err)
	}
	return p
}

func do(t *testing.T, method, url, host, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxy_RoutesByLongestPathPrefix(t *testing.T) {
	px, srv := newProxyServer(t)
	k := func(s string) RouteKey { return RouteKey{App: "shop", Env: "production", Service: s} }
	routeOpts(t, px, k("web"), []string{"shop.test"}, RouteOptions{}, newBackend(t, "web", pathEcho("web")))
	routeOpts(t, px, k("api"), []string{"shop.test"}, RouteOptions{Paths: []string{"/api/"}}, newBackend(t, "api", pathEcho("api")))
	routeOpts(t, px, k("admin"), []string{"shop.test"}, RouteOptions{Paths: []string{"/api/admin", "/admin"}, StripPrefix: true}, newBackend(t, "admin", pathEcho("admin")))
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/", "web / "},
		{"GET", "/apix", "web /apix "},
		{"GET", "/api", "api /api "},
		{"GET", "/api/x?q=1", "api /api/x?q=1 "},
		{"GET", "/api/adminx", "api /api/adminx "},
		{"GET", "/api/admin", "admin / /api/admin"},
		{"GET", "/api/admin/users?id=2", "admin /users?id=2 /api/admin"},
		{"GET", "/admin/a%2Fb", "admin /a%2Fb /admin"},
		{"POST", "/api/admin/upload", "admin /upload /api/admin"},
	} {
		body := ""
		if tc.method == "POST" {
			body = "12345"
		}
		code, got := do(t, tc.method, srv.URL+tc.path, "shop.test", body)
		want := tc.want + " 0"
		if body != "" {
			want = tc.want + " 5"
		}
		if code != 200 || got != want {
			t.Errorf("%s %s: %d %q, want %q", tc.method, tc.path, code, got, want)
		}
	}
	routes := px.Routes()
	if len(routes) != 3 || strings.Join(routes[0].Paths, ",") != "/api/admin,/admin" || strings.Join(routes[2].Paths, ",") != "/" {
		t.Fatalf("routes: %+v", routes)
	}
	// Without the api route, /api falls back to the whole-host route.
	if old := px.RemoveRoute(k("api")); old == nil {
		t.Fatal("no pool returned")
	}
	if code, got := do(t, "GET", srv.URL+"/api/x", "shop.test", ""); code != 200 || got != "web /api/x  0" {
		t.Fatalf("after removal: %d %q", code, got)
	}
}

func TestProxy_PathConflictsAreRefused(t *testing.T) {
	px, _ := newProxyServer(t)
	web := RouteKey{App: "shop", Env: "production", Service: "web"}
	api := RouteKey{App: "shop", Env: "production", Service: "api"}
	other := RouteKey{App: "blog", Env: "staging", Service: "web"}
	b := newBackend(t, "b", nil)
	routeOpts(t, px, web, []string{"shop.test"}, RouteOptions{}, b)
	routeOpts(t, px, api, []string{"shop.test"}, RouteOptions{Paths: []string{"/api"}}, b)

	p := newPool(t, other, "r1", fastHealth(), b)
	_, err := px.SetRouteOptions(other, []string{"www.test", "shop.test"}, p, RouteOptions{Paths: []string{"/api/"}})
	if !errors.Is(err, ErrHostTaken) || !strings.Contains(err.Error(), "shop.test/api is routed to app shop env production service api") {
		t.Fatalf("conflicting path: %v", err)
	}
	if err := px.CheckRoute(other, []string{"shop.test"}, RouteOptions{}); !errors.Is(err, ErrHostTaken) || !strings.Contains(err.Error(), "service web") {
		t.Fatalf("CheckRoute whole host: %v", err)
	}
	if err := px.CheckRoute(other, []string{"shop.test"}, RouteOptions{Paths: []string{"/blog"}}); err != nil {
		t.Fatalf("CheckRoute free path: %v", err)
	}
	if err := px.CheckRoute(api, []string{"shop.test"}, RouteOptions{Paths: []string{"/api"}}); err != nil {
		t.Fatalf("CheckRoute own path: %v", err)
	}
	if err := px.CheckRoute(other, []string{"shop.test"}, RouteOptions{Paths: []string{"api"}}); err == nil {
		t.Fatal("CheckRoute accepted a relative path")
	}
	// CheckHosts (no paths known) lets services of one app env share a
	// host and refuses another app env.
	if err := px.CheckHosts(RouteKey{App: "shop", Env: "production", Service: "new"}, []string{"shop.test"}); err != nil {
		t.Fatalf("CheckHosts, same app env: %v", err)
	}
	if err := px.CheckHosts(other, []string{"shop.test"}); !errors.Is(err, ErrHostTaken) {
		t.Fatalf("CheckHosts, other app: %v", err)
	}
	// Another app may take a free path of the host; the table is unchanged
	// by the refused claim above.
	if _, err := px.SetRouteOptions(other, []string{"shop.test"}, p, RouteOptions{Paths: []string{"/blog"}}); err != nil {
		t.Fatal(err)
	}
	if got := len(px.Routes()); got != 3 {
		t.Fatalf("%d routes", got)
	}
}

func TestProxy_UnknownPathOfRoutedHostIs404WithAppPage(t *testing.T) {
	px, srv := newProxyServer(t)
	api := RouteKey{App: "shop", Env: "production", Service: "api"}
	routeOpts(t, px, api, []string{"shop.test"}, RouteOptions{Paths: []string{"/api"}}, newBackend(t, "api", nil))
	if code, body := do(t, "GET", srv.URL+"/", "shop.test", ""); code != 404 || !strings.Contains(body, "path") {
		t.Fatalf("unknown path: %d %q", code, body)
	}
	px.SetErrorPages("shop", "production", map[int][]byte{404: []byte("<h1>shop 404</h1>")})
	if code, body := do(t, "GET", srv.URL+"/nope", "shop.test", ""); code != 404 || body != "<h1>shop 404</h1>" {
		t.Fatalf("app 404: %d %q", code, body)
	}
	if code, body := do(t, "GET", srv.URL+"/api/v1", "shop.test", ""); code != 200 || body != "api" {
		t.Fatalf("routed path: %d %q", code, body)
	}
	if c := px.Counters("shop", "production"); c.Failed != 0 || c.Served != 1 {
		t.Fatalf("counters: %+v", c)
	}
}

func TestProxy_ResponseTimeoutIs504(t *testing.T) {
	px, srv := newProxyServer(t)
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Query().Get("sleep") != "" {
			time.Sleep(400 * time.Millisecond)
		}
		io.WriteString(w, "done")
	})
	key := RouteKey{App: "shop", Env: "production", Service: "web"}
	routeOpts(t, px, key, []string{"shop.test"}, RouteOptions{ResponseTimeout: 100 * time.Millisecond}, slow)
	for _, method := range []string{"GET", "POST"} { // fast path, ReverseProxy path
		body := ""
		if method == "POST" {
			body = "x"
		}
		start := time.Now()
		if code, _ := do(t, method, srv.URL+"/?sleep=1", "shop.test", body); code != http.StatusGatewayTimeout {
			t.Fatalf("%s slow: %d", method, code)
		}
		if el := time.Since(start); el > 350*time.Millisecond {
			t.Fatalf("%s: 504 after %s", method, el)
		}
		if code, got := do(t, method, srv.URL+"/", "shop.test", body); code != 200 || got != "done" {
			t.Fatalf("%s quick: %d %q", method, code, got)
		}
	}
	if c := px.Counters("shop", "production"); c.Failed != 2 || c.Served != 2 {
		t.Fatalf("counters: %+v", c)
	}
}

func TestProxy_BackendDyingMidRequestIs502AndLogged(t *testing.T) {
	var logs testutil.SyncBuffer
	px := New(Options{Logger: discardLog})
	srv := newTestServer(t, px)
	dying := newBackend(t, "dying", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // dies before answering
		}
	})
	key := RouteKey{App: "shop", Env: "production", Service: "web"}
	p := NewPool(key, "r1", []Target{dying.target()}, fastHealth(), slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(p.Close)
	waitHealthy(t, p, 1)
	if _, err := px.SetRoute(key, []string{"shop.test"}, p); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"GET", "POST"} {
		body := ""
		if method == "POST" {
			body = "payload"
		}
		if code, _ := do(t, method, srv.URL+"/work", "shop.test", body); code != http.StatusBadGateway {
			t.Fatalf("%s: %d, want 502", method, code)
		}
	}
	out := logs.String()
	if strings.Count(out, "proxy error") < 2 || !strings.Contains(out, "target=dying") || !strings.Contains(out, "addr="+dying.Listener.Addr().String()) {
		t.Fatalf("log does not name the target:\n%s", out)
	}
	if c := px.Counters("shop", "production"); c.Failed != 2 {
		t.Fatalf("counters: %+v", c)
	}
}

func TestProxy_MaintenanceCoversEveryPathRoute(t *testing.T) {
	px, srv := newProxyServer(t)
	k := func(s string) RouteKey { return RouteKey{App: "shop", Env: "production", Service: s} }
	b := newBackend(t, "b", nil)
	routeOpts(t, px, k("web"), []string{"shop.test"}, RouteOptions{}, b)
	routeOpts(t, px, k("api"), []string{"shop.test"}, RouteOptions{Paths: []string{"/api"}}, b)
	px.SetMaintenance("shop", "production", true, nil)
	for _, path := range []string{"/", "/api/x"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Host = "shop.test"
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "60" || !strings.Contains(string(body), "Down for maintenance") {
			t.Fatalf("%s: %d %q %q", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	// Routes set while in maintenance keep it.
	routeOpts(t, px, k("api"), []string{"shop.test"}, RouteOptions{Paths: []string{"/api"}, StripPrefix: true}, b)
	if code, _ := do(t, "GET", srv.URL+"/api", "shop.test", ""); code != 503 {
		t.Fatalf("after a swap: %d", code)
	}
	if c := px.Counters("shop", "production"); c.Served != 0 || c.Failed != 0 {
		t.Fatalf("maintenance answers counted: %+v", c)
	}
	px.SetMaintenance("shop", "production", false, nil)
	if code, body := do(t, "GET", srv.URL+"/api", "shop.test", ""); code != 200 || body != "b" {
		t.Fatalf("after maintenance: %d %q", code, body)
	}
}

// A route that strips a prefix tells the app that prefix in place of the
// client's X-Forwarded-Prefix, on the fast path (GET) and the
// ReverseProxy path (a body) alike; a route that strips none passes the
// client's on.
func TestProxy_StrippedPrefixReplacesTheClients(t *testing.T) {
	px, srv := newProxyServer(t)
	k := func(s string) RouteKey { return RouteKey{App: "shop", Env: "production", Service: s} }
	echo := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		io.WriteString(w, r.RequestURI+" "+strings.Join(r.Header["X-Forwarded-Prefix"], ","))
	}
	routeOpts(t, px, k("api"), []string{"shop.test"}, RouteOptions{Paths: []string{"/api"}, StripPrefix: true}, newBackend(t, "api", echo))
	routeOpts(t, px, k("web"), []string{"shop.test"}, RouteOptions{}, newBackend(t, "web", echo))
	for _, tc := range []struct{ method, path, body, want string }{
		{"GET", "/api/x", "", "/x /api"},
		{"POST", "/api/x", "abc", "/x /api"},
		{"GET", "/x", "", "/x /client"},
		{"POST", "/x", "abc", "/x /client"},
	} {
		var rd io.Reader
		if tc.body != "" {
			rd = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "shop.test"
		req.Header.Set("X-Forwarded-Prefix", "/client")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != tc.want {
			t.Errorf("%s %s: %d %q, want %q", tc.method, tc.path, resp.StatusCode, b, tc.want)
		}
	}
}
