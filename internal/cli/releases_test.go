package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// berth releases shows who made each release (BY; "-" for a release
// that does not say, as releases made before berth recorded it), and
// --output json carries it as created_by.
func TestReleases_ShowWhoMadeThem(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rels := []dto.Release{
		{ID: 2, App: "shop", Env: "production", Status: dto.ReleaseStatus("live"), CreatedAt: at, CreatedBy: "ci-shop"},
		{ID: 1, App: "shop", Env: "production", Status: dto.ReleaseStatus("superseded"), CreatedAt: at.Add(-time.Hour)},
	}
	srvRun := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/apps/shop/envs/production/releases" {
			unexpected(w)
			return
		}
		_ = json.NewEncoder(w).Encode(rels)
	})
	run := func(args ...string) string {
		t.Helper()
		out, _ := mustRun(t, srvRun, args...)
		return out
	}
	lines := strings.Split(strings.TrimSpace(run("releases", "shop")), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "\tBY") && !strings.Contains(lines[0], " BY ") {
		t.Fatalf("table:\n%s", strings.Join(lines, "\n"))
	}
	col := strings.Index(lines[0], "BY")
	if got := strings.Fields(lines[1][col:])[0]; got != "ci-shop" {
		t.Errorf("release 2 BY %q, want ci-shop:\n%s", got, strings.Join(lines, "\n"))
	}
	if got := strings.Fields(lines[2][col:])[0]; got != "-" {
		t.Errorf("release 1 BY %q, want -:\n%s", got, strings.Join(lines, "\n"))
	}
	var got []dto.Release
	if err := json.Unmarshal([]byte(run("releases", "shop", "--output", "json")), &got); err != nil || got[0].CreatedBy != "ci-shop" || got[1].CreatedBy != "" {
		t.Errorf("--output json: %+v, %v", got, err)
	}
}
