package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

func TestJobsCmd_ListsNextAndLastRuns(t *testing.T) {
	next := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	run := mustRun
	berth := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/apps/shop/envs/staging/jobs" {
			unexpected(w)
			return
		}
		_ = json.NewEncoder(w).Encode([]dto.Job{
			{Name: "report", Service: "web", Schedule: "0 3 * * *", Timezone: "Europe/Lisbon", Next: &next, Release: 4,
				Last: &dto.JobRun{ID: 7, Status: "failed", ExitCode: 2, StartedAt: next.Add(-24 * time.Hour)}, Skipped: 1},
			{Name: "sync", Service: "worker", Schedule: "@hourly", Next: &next, Running: 1},
		})
	})
	out, _ := run(t, berth, "jobs", "shop", "--env", "staging")
	for _, want := range []string{"JOB", "report", "0 3 * * * (Europe/Lisbon)", "#7", "failed (exit 2)", "1 run(s) skipped", "sync", "never", "(1 running)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _ = run(t, berth, "jobs", "shop", "--env", "staging", "-o", "json")
	var back []dto.Job
	if err := json.Unmarshal([]byte(out), &back); err != nil || len(back) != 2 || back[0].Last.ID != 7 {
		t.Errorf("json %v: %s", err, out)
	}
}

func TestJobsRunCmd_WaitsAndExitsWithTheRunsCode(t *testing.T) {
	polls := 0
	berth := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		base := "/api/v1/apps/shop/envs/production/jobs/report/runs"
		switch {
		case r.Method == http.MethodPost && r.URL.Path == base:
			w.WriteHeader(http.StatusAccepted)
			_ = json.NewEncoder(w).Encode(dto.JobRun{ID: 3, Job: "report", Status: "running", Release: 2, ExitCode: -1})
		case r.Method == http.MethodGet && r.URL.Path == base+"/3":
			polls++
			rr := dto.JobRun{ID: 3, Job: "report", Status: "running", Release: 2, ExitCode: -1, Trigger: "manual"}
			if polls > 1 {
				rr.Status, rr.ExitCode, rr.Error, rr.Log = "failed", 4, "exited with code 4", []string{"no database"}
			}
			_ = json.NewEncoder(w).Encode(rr)
		default:
			unexpected(w)
		}
	})
	res := berth("", "jobs", "run", "shop", "report")
	if res.code == 0 || !strings.Contains(res.out, "started run 3 of job report of shop/production (release 2)") ||
		!strings.Contains(res.out, "  | no database") || !strings.Contains(res.errOut, "run 3 of job report failed (exit 4)") {
		t.Errorf("exit %d\nout:\n%s\nerr:\n%s", res.code, res.out, res.errOut)
	}
	if polls < 2 {
		t.Errorf("polled %d times, want until the run ended", polls)
	}
}

func TestJobsLogsCmd_RefusesABadRunNumber(t *testing.T) {
	berth := serveAPI(t, func(w http.ResponseWriter, r *http.Request) { unexpected(w) })
	if res := berth("", "jobs", "logs", "shop", "report", "x"); res.code == 0 || !strings.Contains(res.errOut, "give a run number") {
		t.Errorf("exit %d: %s", res.code, res.errOut)
	}
}
