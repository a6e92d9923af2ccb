package cli

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// berth audit sends its filters, prints a table newest first (actor,
// source, action, outcome with status, deployment, parameters, error)
// or, with --output json, the entries as the server sent them.
func TestAudit_PrintsAndFilters(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	entries := []dto.AuditEntry{
		{Seq: 2, Time: at.Add(time.Minute), Action: "rollback", App: "shop", Env: "production", Source: "10.0.0.9",
			Outcome: "refused", Status: 401, Error: "invalid bearer token: use ..."},
		{Seq: 1, Time: at, Actor: "ci-shop", Action: "secret_set", App: "shop", Env: "production", Source: "10.0.0.7",
			Outcome: "ok", Deployment: 42, Params: map[string]string{"name": "API_KEY"}},
	}
	var queries []url.Values
	srvRun := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method+" "+r.URL.Path != "GET /api/v1/audit" {
			unexpected(w)
			return
		}
		queries = append(queries, r.URL.Query())
		_ = json.NewEncoder(w).Encode(entries)
	})
	run := func(args ...string) string {
		t.Helper()
		out, _ := mustRun(t, srvRun, args...)
		return out
	}
	out := run("audit", "--app", "shop", "--actor", "ci-shop", "--since", "2026-03-01T11:00:00Z", "--limit", "5")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("table:\n%s", out)
	}
	for i, want := range [][]string{
		{"2026-03-01 12:01Z", "(unknown)", "10.0.0.9", "rollback", "shop/production", "refused 401", "error: invalid bearer token"},
		{"2026-03-01 12:00Z", "ci-shop", "10.0.0.7", "secret_set", "ok", "42", "name=API_KEY"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d lacks %q: %s", i+1, w, lines[i+1])
			}
		}
	}
	q := queries[0]
	if q.Get("app") != "shop" || q.Get("actor") != "ci-shop" || q.Get("since") != "2026-03-01T11:00:00Z" || q.Get("limit") != "5" {
		t.Errorf("sent %v", q)
	}

	out = run("audit", "--output", "json")
	var got []dto.AuditEntry
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 || got[1].Deployment != 42 || got[1].Params["name"] != "API_KEY" {
		t.Errorf("--output json: %v\n%s", err, out)
	}
	if q := queries[1]; q.Get("limit") != "100" || q.Has("app") || q.Has("since") {
		t.Errorf("the defaults sent %v", q)
	}
}

// --since takes a duration back from now (24h, 7d) or an RFC 3339 time.
func TestAudit_ParseSince(t *testing.T) {
	now := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"2026-03-01T12:00:00Z": time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%s: %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("yesterday accepted")
	}
}
