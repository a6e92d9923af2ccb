package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// berth tokens create sends the name, role, scope and expiry, prints
// the token alone on stdout (for scripts) and what it is on stderr; list
// prints a table (or JSON); revoke names the token.
func TestTokens_CreateListRevoke(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	info := dto.Token{Name: "ci-shop", Role: "ci", Apps: []string{"shop"}, Envs: []string{"staging"}, CreatedAt: created,
		ExpiresAt: created.Add(90 * 24 * time.Hour), LastUsedAt: created.Add(time.Hour), LastUsedFrom: "10.0.0.7"}
	var got dto.TokenRequest
	srvRun := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "POST /api/v1/tokens":
			_ = json.NewDecoder(r.Body).Decode(&got)
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(dto.NewToken{Token: "berth_abc", Info: info})
		case "GET /api/v1/tokens":
			revoked := dto.Token{Name: "old", Role: "viewer", CreatedAt: created, RevokedAt: created.Add(time.Minute)}
			_ = json.NewEncoder(w).Encode([]dto.Token{info, revoked})
		case "DELETE /api/v1/tokens/ci-shop":
			t := info
			t.RevokedAt = created.Add(2 * time.Hour)
			_ = json.NewEncoder(w).Encode(t)
		default:
			unexpected(w)
		}
	})
	run := func(args ...string) (string, string) {
		t.Helper()
		return mustRun(t, srvRun, args...)
	}
	out, errOut := run("tokens", "create", "ci-shop", "--role", "ci", "--app", "shop", "--env", "staging", "--expires", "90d")
	if out != "berth_abc\n" {
		t.Errorf("create printed %q on stdout, want the token alone", out)
	}
	if !strings.Contains(errOut, "token ci-shop (role ci, apps shop; envs staging), expires 2026-05-30 12:00Z: shown this once") {
		t.Errorf("create said: %s", errOut)
	}
	if got.Name != "ci-shop" || got.Role != "ci" || len(got.Apps) != 1 || len(got.Envs) != 1 || got.ExpiresIn != "2160h0m0s" {
		t.Errorf("create sent %+v", got)
	}

	out, _ = run("tokens", "list")
	for _, want := range []string{"NAME", "LAST USED", "ci-shop", "apps shop; envs staging", "2026-05-30 12:00Z", "2026-03-01 13:00Z", "10.0.0.7", "revoked 2026-03-01 12:01Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	out, _ = run("tokens", "list", "--output", "json")
	var ts []dto.Token
	if err := json.Unmarshal([]byte(out), &ts); err != nil || len(ts) != 2 || ts[0].LastUsedFrom != "10.0.0.7" {
		t.Errorf("list --output json: %v\n%s", err, out)
	}
	out, _ = run("tokens", "revoke", "ci-shop")
	if !strings.Contains(out, "revoked token ci-shop at 2026-03-01 14:00Z") {
		t.Errorf("revoke said: %s", out)
	}
}

// --expires takes days, weeks and Go durations, and nothing else.
func TestParseExpiry(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "12h": 12 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := parseExpiry(in); err != nil || got != want {
			t.Errorf("%s: %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "0d", "-1d", "soon", "-1h", "1.5d"} {
		if _, err := parseExpiry(in); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}
