package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// berth server info prints the serving process; restart waits until
// another one serves, or says why the hand-off failed.
func TestServer_InfoAndRestart(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cur := dto.ServerInfo{Version: "v1", PID: 100, StartedAt: at}
	var fail bool
	run := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "GET /api/v1/server":
			_ = json.NewEncoder(w).Encode(cur)
		case "POST /api/v1/server/restart":
			w.WriteHeader(http.StatusAccepted)
			_ = json.NewEncoder(w).Encode(cur)
			if fail {
				cur.LastHandoffError = "the new server process (pid 101) ended before it was ready (exit status 3)"
			} else {
				cur = dto.ServerInfo{Version: "v2", PID: 102, StartedAt: at.Add(time.Hour)}
			}
		default:
			unexpected(w)
		}
	})
	out, _ := mustRun(t, run, "server", "info")
	if !strings.Contains(out, "berth server v1, pid 100, started 2026-03-01 12:00Z") {
		t.Errorf("info: %q", out)
	}
	out, _ = mustRun(t, run, "server", "info", "--output", "json")
	if !strings.Contains(out, `"pid": 100`) {
		t.Errorf("info --output json: %q (make stop reads the pid from it)", out)
	}
	out, _ = mustRun(t, run, "server", "restart")
	if !strings.Contains(out, "berth server v2 (pid 102) serves, after v1 (pid 100)") {
		t.Errorf("restart: %q", out)
	}
	fail = true
	if r := run("", "server", "restart", "--wait", "5s"); r.code == 0 || !strings.Contains(r.errOut, "the hand-off failed and berth server v2 (pid 102) serves on: the new server process") {
		t.Errorf("a failed restart: %+v", r)
	}
}
