package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Header rules the proxy owes its apps and their clients, over raw bytes
// through every server kind (TestMain), on the fast path or lane (GET)
// and on ReverseProxy's (POST with a body).

// headerApp is a raw backend that answers every request with resp and
// records the heads it got.
func headerApp(t *testing.T, resp string) (*Proxy, *rawBackend, string) {
	t.Helper()
	app := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		w.WriteString(resp)
		return true
	})
	px, hs := newProxyServer(t)
	p := NewPool(keyA, "r1", []Target{app.target("app")}, fastHealth(), discardLog)
	t.Cleanup(p.Close)
	waitHealthy(t, p, 1)
	if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil {
		t.Fatal(err)
	}
	return px, app, hs.Listener.Addr().String()
}

// rawResponse sends raw to addr and returns the response.
func rawResponse(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	resp, body := rawExchange(t, addr, raw)
	if resp == nil {
		t.Fatalf("%q: no response", raw)
	}
	return resp, body
}

// rawExchange sends raw on a new connection to addr and reads the
// answer (nil when the connection closed without one).
func rawExchange(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResponse(c)
}

// readResponse reads one answer from c, whole (nil when none came).
func readResponse(c net.Conn) (*http.Response, string) {
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var bothPaths = []struct{ name, req string }{
	{"GET", "GET / HTTP/1.1\r\nHost: shop.test\r\n%s\r\n"},
	{"POST", "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 2\r\n%s\r\nhi"},
}

func TestHeaders_ControlCharactersInAnAnswerGet502(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"Set-Cookie: sid=1\x00; Domain=evil.example", "X-A: a\rb", "X-A: a\x7fb", "X-A: a\x01"} {
		_, _, addr := headerApp(t, "HTTP/1.1 200 OK\r\n"+bad+"\r\nContent-Length: 2\r\n\r\nok")
		for _, p := range bothPaths {
			resp, body := rawResponse(t, addr, strings.Replace(p.req, "%s", "", 1))
			if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "evil") || resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("%s, answer with %q: %d %q %v, want 502", p.name, bad, resp.StatusCode, body, resp.Header)
			}
		}
	}
	// A tab and obs-text stay allowed.
	_, _, addr := headerApp(t, "HTTP/1.1 200 OK\r\nX-A: a\tb \xe9\r\nContent-Length: 2\r\n\r\nok")
	if resp, _ := rawResponse(t, addr, "GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n"); resp.StatusCode != 200 || resp.Header.Get("X-A") != "a\tb \xe9" {
		t.Errorf("a tab and obs-text: %d %q", resp.StatusCode, resp.Header.Get("X-A"))
	}
}

// gotHeader returns the values of header k (any case) in the app's last
// head.
func gotHeader(app *rawBackend, k string) []string {
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.heads) == 0 {
		return nil
	}
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(app.heads[len(app.heads)-1])))
	if err != nil {
		return []string{"unreadable head: " + err.Error()}
	}
	return r.Header.Values(k)
}

func TestHeaders_ConnectionCannotTakeOffTheProxysHeaders(t *testing.T) {
	t.Parallel()
	_, app, addr := headerApp(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	for _, p := range bothPaths {
		extra := "Connection: X-Request-Id, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host\r\nX-Request-Id: the-clients\r\nX-Forwarded-For: 10.9.9.9\r\n"
		resp, _ := rawResponse(t, addr, strings.Replace(p.req, "%s", extra, 1))
		id := resp.Header.Get("X-Request-Id")
		if got := gotHeader(app, "X-Request-Id"); len(got) != 1 || got[0] != id || id == "" || id == "the-clients" {
			t.Errorf("%s: the app got X-Request-Id %q, the client %q; want one new id, the same", p.name, got, id)
		}
		if got := gotHeader(app, "X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("%s: the app got X-Forwarded-For %q, want the client's address only (the prior one was hop-by-hop)", p.name, got)
		}
		if got := gotHeader(app, "X-Forwarded-Proto"); len(got) != 1 || got[0] != "http" {
			t.Errorf("%s: the app got X-Forwarded-Proto %q", p.name, got)
		}
		if got := gotHeader(app, "X-Forwarded-Host"); len(got) != 1 || got[0] != "shop.test" {
			t.Errorf("%s: the app got X-Forwarded-Host %q", p.name, got)
		}
	}
}

func TestHeaders_ClientsCannotClaimHTTPS(t *testing.T) {
	t.Parallel()
	_, app, addr := headerApp(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	spoof := []string{"X-Forwarded-Ssl: on", "X-Forwarded-Scheme: https", "X-Forwarded-Protocol: https",
		"X-Url-Scheme: https", "Front-End-Https: on", "X-Forwarded-Port: 443", "X-Real-IP: 10.1.2.3",
		"x-forwarded-ssl: on"}
	for _, p := range bothPaths {
		rawResponse(t, addr, strings.Replace(p.req, "%s", strings.Join(spoof, "\r\n")+"\r\n", 1))
		for _, h := range spoof {
			k, _, _ := strings.Cut(h, ":")
			if got := gotHeader(app, k); len(got) != 0 {
				t.Errorf("%s: the app got the client's %s: %q", p.name, k, got)
			}
		}
		if got := gotHeader(app, "X-Forwarded-Proto"); len(got) != 1 || got[0] != "http" {
			t.Errorf("%s: X-Forwarded-Proto %q, want http", p.name, got)
		}
	}
}

// The lean server's head limit is exact: MaxHeaderBytes bytes pass, one
// more gets 431 (net/http reads 4 KiB past its own; the daemon gives it
// MaxHeaderBytes-4096, tested there).
func TestHeaders_HeadLimitIsExact(t *testing.T) {
	t.Parallel()
	if testServerKind == "std" {
		t.Skip("net/http: the daemon sets its limit (daemon.stdMaxHeaderBytes)")
	}
	const limit = 8 << 10
	px := New(Options{Logger: discardLog})
	o := testServerOptions()
	o.MaxHeaderBytes = limit
	hs := newTestServerOpts(t, px, o)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "app", nil))
	start, end := "GET / HTTP/1.1\r\nHost: shop.test\r\nX-Pad: ", "\r\n\r\n"
	for _, tc := range []struct{ size, want int }{{limit, 200}, {limit + 1, 431}, {limit + 4096, 431}} {
		head := start + strings.Repeat("a", tc.size-len(start)-len(end)) + end
		resp, _ := rawResponse(t, hs.Listener.Addr().String(), head)
		if resp.StatusCode != tc.want {
			t.Errorf("a head of %d bytes (limit %d): %d, want %d", tc.size, limit, resp.StatusCode, tc.want)
		}
	}
}
