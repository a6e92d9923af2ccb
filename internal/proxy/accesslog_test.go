package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// accessProxy is a proxy with an access log into buf, routing shop.test to
// a backend that echoes the X-Request-Id it got in its body.
func accessProxy(t *testing.T) (*AccessLog, *testutil.SyncBuffer, *httptest.Server) {
	t.Helper()
	buf := &testutil.SyncBuffer{}
	al := NewAccessLog(buf)
	t.Cleanup(func() { al.Close() })
	px := New(Options{Logger: discardLog, AccessLog: al})
	srv := httptest.NewServer(px)
	t.Cleanup(srv.Close)
	be := newBackend(t, "web-1", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		io.WriteString(w, r.Header.Get("X-Request-Id"))
	})
	routeTo(t, px, keyA, []string{"shop.test"}, be)
	return al, buf, srv
}

// send sends a request and returns the response's X-Request-Id, the body
// (the id the backend saw) and the status.
func send(t *testing.T, c *http.Client, method, url string, body io.Reader, hdr map[string]string) (respID, seen string, status int) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "shop.test"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Header.Get("X-Request-Id"), string(b), resp.StatusCode
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]{16}$`)

func TestAccessLog_RequestIDTakenOrGeneratedAndPassedOn(t *testing.T) {
	al, buf, srv := accessProxy(t)
	c := srv.Client()

	// Taken from the client, on the fast path and on the ReverseProxy path.
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		var body io.Reader
		if m == http.MethodPost {
			body = strings.NewReader("payload")
		}
		got, seen, _ := send(t, c, m, srv.URL+"/orders?x=1", body, map[string]string{"X-Request-Id": "req-" + m})
		if got != "req-"+m || seen != "req-"+m {
			t.Fatalf("%s: client id: response %q, backend saw %q", m, got, seen)
		}
	}
	// Generated when absent, or when not sane (too long, not visible ASCII).
	var generated []string
	for _, hdr := range []map[string]string{nil, {"X-Request-Id": strings.Repeat("a", 200)}, {"X-Request-Id": "a b"}} {
		got, seen, _ := send(t, c, http.MethodGet, srv.URL+"/", nil, hdr)
		if !generatedID.MatchString(got) || seen != got {
			t.Fatalf("generated id: response %q, backend saw %q", got, seen)
		}
		generated = append(generated, got)
	}
	if generated[0] == generated[1] || generated[1] == generated[2] {
		t.Fatalf("ids repeat: %v", generated)
	}
	// An app error keeps the id too.
	if got, _, code := send(t, c, http.MethodGet, srv.URL+"/fail", nil, map[string]string{"X-Request-Id": "boom"}); got != "boom" || code != 500 {
		t.Fatalf("app error: id %q status %d", got, code)
	}
	al.Close()

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d log lines, want 6:\n%s", len(lines), buf.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatalf("line 1 is not JSON: %v\n%s", err, lines[0])
	}
	want := map[string]any{
		"request_id": "req-GET", "method": "GET", "host": "shop.test", "path": "/orders",
		"status": 200.0, "bytes": float64(len("req-GET")), "app": "shop", "env": "production",
		"service": "web", "release": "r1", "target": "web-1", "user_agent": "Go-http-client/1.1",
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %#v, want %#v", k, first[k], v)
		}
	}
	for _, k := range []string{"time", "duration", "client_addr"} {
		if _, ok := first[k]; !ok {
			t.Errorf("no %s in %s", k, lines[0])
		}
	}
	if _, ok := first["level"]; ok {
		t.Errorf("level in an access log line: %s", lines[0])
	}
	if d, _ := first["duration"].(float64); d <= 0 || d > 5 {
		t.Errorf("duration %v s", first["duration"])
	}
	for i, wantID := range []string{"req-POST", generated[0], generated[1], generated[2]} {
		if !strings.Contains(lines[i+1], `"request_id":"`+wantID+`"`) {
			t.Errorf("line %d lacks request_id %s: %s", i+2, wantID, lines[i+1])
		}
	}
	if !strings.Contains(lines[5], `"status":500`) {
		t.Errorf("app error logged as %s", lines[5])
	}
}

func TestAccessLog_ProxyErrorsAreLogged(t *testing.T) {
	buf := &testutil.SyncBuffer{}
	al := NewAccessLog(buf)
	px := New(Options{Logger: discardLog, AccessLog: al})
	srv := httptest.NewServer(px)
	t.Cleanup(srv.Close)
	be := newBackend(t, "down", nil)
	be.up.Store(false)
	p := newPool(t, keyA, "r7", fastHealth(), be)
	if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil { // no healthy target
		t.Fatal(err)
	}
	got, _, code := send(t, srv.Client(), http.MethodGet, srv.URL+"/", nil, nil)
	if code != http.StatusServiceUnavailable || !generatedID.MatchString(got) {
		t.Fatalf("status %d id %q", code, got)
	}
	al.Close()
	line := buf.String()
	for _, want := range []string{`"status":503`, `"release":"r7"`, `"target":""`, `"request_id":"` + got + `"`} {
		if !strings.Contains(line, want) {
			t.Errorf("line lacks %s: %s", want, line)
		}
	}
	if !strings.Contains(line, `"bytes":`) || strings.Contains(line, `"bytes":0`) {
		t.Errorf("error page bytes not counted: %s", line)
	}
}

func TestAccessLog_FileRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "access.log")
	al, err := OpenAccessLog(AccessLogOptions{Path: path, MaxBytes: 1000, Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	e := accessEntry{id: "x", method: "GET", host: "shop.test", path: "/", status: 200, key: keyA}
	for range 20 {
		al.write(&e)
	}
	// The flusher writes them out within flushInterval and rotates the
	// file, which is past MaxBytes.
	testutil.Eventually(t, 5*time.Second, "rotation", func() bool {
		_, err := os.Stat(path + ".1")
		return err == nil
	})
	al.write(&e)
	if err := al.Close(); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(old), "\n"); n != 20 {
		t.Errorf("rotated file has %d lines, want 20", n)
	}
	if n := strings.Count(string(cur), "\n"); n != 1 {
		t.Errorf("new file has %d lines, want 1", n)
	}
}

// BenchmarkProxy_ServeAccessLog is BenchmarkProxy_Serve with the access
// log on (written to io.Discard through the buffered writer).
func BenchmarkProxy_ServeAccessLog(b *testing.B) {
	al := NewAccessLog(io.Discard)
	b.Cleanup(func() { al.Close() })
	benchProxy(b, New(Options{Logger: discardLog, AccessLog: al}))
}
