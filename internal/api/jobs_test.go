package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/store"
)

func TestServer_JobErrorsMapToStatuses(t *testing.T) {
	t.Parallel()
	if got := statusOf(fmt.Errorf("x: %w", deploy.ErrJobRunning)); got != http.StatusConflict {
		t.Errorf("a job already running: %d, want 409", got)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/apps/shop/envs/production/jobs", nil)
	err := (&Server{}).listJobs(httptest.NewRecorder(), req)
	if err == nil || statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "runs no scheduled jobs") {
		t.Errorf("jobs of a server without a scheduler: %d %v", statusOf(err), err)
	}
}

func TestJobRunDTO_DurationAndOptionalTimes(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	running := jobRunDTO(store.JobRun{ID: 1, Status: store.JobRunning, StartedAt: start, ExitCode: -1}, start.Add(90*time.Second))
	if running.DurationMS != 90_000 || running.EndedAt != nil || running.Slot != nil {
		t.Errorf("running run %+v", running)
	}
	done := jobRunDTO(store.JobRun{ID: 2, Status: store.JobFailed, StartedAt: start, EndedAt: start.Add(2 * time.Second), Slot: start, ExitCode: 1}, start.Add(time.Hour))
	if done.DurationMS != 2000 || done.EndedAt == nil || done.Slot == nil || done.Status != "failed" {
		t.Errorf("ended run %+v", done)
	}
}
