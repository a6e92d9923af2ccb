package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// berth sessions list prints every session (or one user's) as a table or
// JSON; revoke ends sessions by id, or all of a user's with --user, and
// refuses both or neither.
func TestSessions_ListAndRevoke(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	all := []dto.Session{
		{ID: "s1", User: "ann", CreatedAt: at, LastSeenAt: at.Add(time.Minute), ExpiresAt: at.Add(7 * 24 * time.Hour), From: "10.0.0.7"},
		{ID: "s2", User: "bob", CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(7 * 24 * time.Hour)},
		{ID: "s3", User: "ann", CreatedAt: at.Add(time.Hour), LastSeenAt: at.Add(time.Hour), ExpiresAt: at.Add(8 * 24 * time.Hour), From: "10.0.0.8"},
		{ID: "s4", Token: "admin-token", CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(7 * 24 * time.Hour), From: "127.0.0.1"},
	}
	var revoked []string
	run := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/sessions":
			_ = json.NewEncoder(w).Encode(all)
		case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/v1/sessions/"):
			id := strings.TrimPrefix(r.URL.Path, "/api/v1/sessions/")
			for _, s := range all {
				if s.ID == id {
					revoked = append(revoked, id)
					_ = json.NewEncoder(w).Encode(s)
					return
				}
			}
			http.Error(w, `{"error":"session \"`+id+`\": not found"}`, http.StatusNotFound)
		default:
			unexpected(w)
		}
	})

	out, _ := mustRun(t, run, "sessions", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("table:\n%s", out)
	}
	for i, want := range [][]string{
		{"s1", "ann", "2026-03-01 12:00Z", "2026-03-01 12:01Z", "2026-03-08 12:00Z", "10.0.0.7"},
		{"s2", "bob", "-"},
		{"s3", "ann"},
		{"s4", "token admin-token", "127.0.0.1"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d lacks %q: %s", i+1, w, lines[i+1])
			}
		}
	}

	out, _ = mustRun(t, run, "sessions", "list", "--user", "ann", "--output", "json")
	var got []dto.Session
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 || got[0].ID != "s1" || got[1].ID != "s3" {
		t.Fatalf("ann's sessions as JSON: %v %s", err, out)
	}

	out, _ = mustRun(t, run, "sessions", "revoke", "s2")
	if !strings.Contains(out, "ended session s2 of bob (from -)") {
		t.Errorf("revoke s2 printed %q", out)
	}
	out, _ = mustRun(t, run, "sessions", "revoke", "--user", "ann")
	if !strings.Contains(out, "2 sessions of ann ended") {
		t.Errorf("revoke --user ann printed %q", out)
	}
	out, _ = mustRun(t, run, "sessions", "revoke", "s4")
	if !strings.Contains(out, "ended session s4 of token admin-token (from 127.0.0.1)") {
		t.Errorf("revoke s4 printed %q", out)
	}
	if strings.Join(revoked, ",") != "s2,s1,s3,s4" {
		t.Errorf("revoked %v, want s2, s1, s3, s4", revoked)
	}

	if r := run("", "sessions", "revoke"); r.code == 0 || !strings.Contains(r.errOut, "give session ids") {
		t.Errorf("revoke with nothing: %+v", r)
	}
	if r := run("", "sessions", "revoke", "s1", "--user", "ann"); r.code == 0 || !strings.Contains(r.errOut, "not both") {
		t.Errorf("revoke with both: %+v", r)
	}
	if r := run("", "sessions", "revoke", "nope"); r.code == 0 || !strings.Contains(r.errOut, `session "nope": not found`) {
		t.Errorf("revoke of an unknown id: %+v", r)
	}
}
