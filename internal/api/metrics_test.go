package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/store"
)

// /metrics lists every app: it answers a token of a role that reads
// (not ci) and not scoped to some apps, or, without a token, a client
// from a network of --metrics-allow (a Prometheus that scrapes without
// one); anyone else gets a 401 that names both ways in.
func TestServer_MetricsNeedAViewerOrAnAllowedAddress(t *testing.T) {
	t.Parallel()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("berth_up 1\n")) })
	serve := func(allow ...string) (*httptest.Server, *store.Store) {
		st, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		var nets []netip.Prefix
		for _, a := range allow {
			nets = append(nets, netip.MustParsePrefix(a))
		}
		srv := httptest.NewServer(New(Options{Store: st, Token: testToken, Metrics: metrics, MetricsAllow: nets, Logger: slog.New(slog.DiscardHandler)}).Handler())
		t.Cleanup(srv.Close)
		return srv, st
	}
	open, _ := serve("127.0.0.0/8")
	if code, body := get(t, open, "/metrics", ""); code != http.StatusOK || body != "berth_up 1\n" {
		t.Errorf("from an allowed address without a token: %d %s", code, body)
	}
	closed, st := serve("10.0.0.0/8")
	viewer := mint(t, st, store.Token{Name: "prom", Role: "viewer"})
	scoped := mint(t, st, store.Token{Name: "shop-viewer", Role: "viewer", Apps: []string{"shop"}})
	ci := mint(t, st, store.Token{Name: "ci", Role: "ci"})
	for _, tc := range []struct {
		name, auth string
		want       int
		says       string
	}{
		{"no token", "", http.StatusUnauthorized, "--metrics-allow"},
		{"a viewer", "Bearer " + viewer, http.StatusOK, "berth_up 1"},
		{"the admin", "Bearer " + testToken, http.StatusOK, "berth_up 1"},
		{"a viewer of one app", "Bearer " + scoped, http.StatusForbidden, "not scoped to apps"},
		{"a ci token", "Bearer " + ci, http.StatusForbidden, "role admin, deployer or viewer"},
	} {
		if code, body := get(t, closed, "/metrics", tc.auth); code != tc.want || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.name, code, body, tc.want, tc.says)
		}
	}
}
