package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
)

// The answers the proxy gives without a pool (unknown host: 404,
// maintenance: 503) get a request id and an access log line too.
func TestAccessLog_UnroutedAndMaintenanceAnswersAreLogged(t *testing.T) {
	buf := &testutil.SyncBuffer{}
	al := NewAccessLog(buf)
	px := New(Options{Logger: discardLog, AccessLog: al})
	srv := httptest.NewServer(px)
	t.Cleanup(srv.Close)
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "web-1", nil))

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/nowhere", nil)
	req.Host = "unknown.test"
	req.Header.Set("X-Request-Id", "client-id-1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Request-Id") != "client-id-1" {
		t.Fatalf("unknown host: %d, id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}

	px.SetMaintenance(keyA.App, keyA.Env, true, nil)
	id, _, code := send(t, srv.Client(), http.MethodGet, srv.URL+"/", nil, nil)
	if code != http.StatusServiceUnavailable || !generatedID.MatchString(id) {
		t.Fatalf("maintenance: %d, id %q", code, id)
	}
	al.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %d:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{`"request_id":"client-id-1"`, `"status":404`, `"host":"unknown.test"`, `"path":"/nowhere"`, `"app":""`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("unrouted line lacks %s: %s", want, lines[0])
		}
	}
	for _, want := range []string{`"request_id":"` + id + `"`, `"status":503`, `"app":"` + keyA.App + `"`} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("maintenance line lacks %s: %s", want, lines[1])
		}
	}
	if strings.Contains(lines[1], `"bytes":0`) {
		t.Errorf("maintenance page bytes not counted: %s", lines[1])
	}
}
