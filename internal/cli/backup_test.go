package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
)

func TestBackupsCmd_ListsSizeAgeAndStatus(t *testing.T) {
	berth := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/apps/shop/envs/production/backups" {
			unexpected(w)
			return
		}
		_ = json.NewEncoder(w).Encode([]dto.Backup{
			{ID: 2, Volume: "data", Kind: "dump", Service: "db", Release: 4, AgeSeconds: 3 * 86400, Size: 3 << 20, Status: "ok", Trigger: "schedule", Key: "shop/production/x-2.dump.gz"},
			{ID: 1, Volume: "uploads", Kind: "snapshot", Release: 3, AgeSeconds: 90, Status: "failed", Error: "volume gone", Trigger: "manual"},
		})
	})
	out, _ := mustRun(t, berth, "backups", "shop")
	for _, want := range []string{"ID", "AGE", "SIZE", "dump (db)", "3d", "3.0 MiB", "schedule", "x-2.dump.gz", "failed: volume gone", "1m"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _ = mustRun(t, berth, "backups", "shop", "--output", "json")
	var back []dto.Backup
	if err := json.Unmarshal([]byte(out), &back); err != nil || len(back) != 2 || back[0].Size != 3<<20 {
		t.Errorf("json %v: %s", err, out)
	}
}

func TestRestoreCmd_AsksAndSendsWhatItWasGiven(t *testing.T) {
	var got dto.RestoreRequest
	calls := 0
	berth := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/apps/shop/envs/production/restore" {
			unexpected(w)
			return
		}
		calls++
		b, _ := io.ReadAll(r.Body)
		got = dto.RestoreRequest{}
		_ = json.Unmarshal(b, &got)
		enc := json.NewEncoder(w)
		_ = enc.Encode(dto.StreamEvent{Output: "restoring backup 7"})
		_ = enc.Encode(dto.StreamEvent{Result: &dto.Result{OK: true, Restore: &dto.Restore{Env: "staging", Previous: &dto.Backup{ID: 9}}}})
	})
	// No terminal and no --yes: refused before anything is sent.
	if r := berth("yes\n", "restore", "shop", "7", "--to-env", "staging"); r.code == 0 || !strings.Contains(r.errOut, "--yes") || calls != 0 {
		t.Fatalf("without --yes: exit %d, %d calls, %s", r.code, calls, r.errOut)
	}
	if r := berth("", "restore", "shop", "seven", "--yes"); r.code == 0 || !strings.Contains(r.errOut, "give its number") {
		t.Fatalf("a bad backup: %+v", r)
	}
	out, _ := mustRun(t, berth, "restore", "shop", "7", "--to-env", "staging", "--volume", "data", "--yes")
	if got != (dto.RestoreRequest{Backup: 7, Volume: "data", ToEnv: "staging"}) {
		t.Errorf("sent %+v", got)
	}
	if !strings.Contains(out, "restoring backup 7") || !strings.Contains(out, "to undo: berth restore shop 9 --env staging --yes") {
		t.Errorf("output:\n%s", out)
	}
	mustRun(t, berth, "restore", "shop", "latest", "--yes")
	if got.Backup != 0 || got.ToEnv != "" {
		t.Errorf("latest sent %+v", got)
	}
}
