package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestStore_JobRunsKeepTheNewest(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	if err := s.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	var last JobRun
	for i := 0; i < MaxJobRuns+7; i++ {
		r, err := s.StartJobRun("shop", "production", JobRun{Job: "report", Service: "web", Release: 3, Trigger: TriggerSchedule})
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	if last.ID != MaxJobRuns+7 || last.Status != JobRunning || last.StartedAt.IsZero() {
		t.Fatalf("last run %+v", last)
	}
	all, err := s.ListJobRuns("shop", "production", "report", 0)
	if err != nil || len(all) != MaxJobRuns || all[0].ID != MaxJobRuns+7 || all[len(all)-1].ID != 8 {
		t.Fatalf("kept %d runs (%v)", len(all), err)
	}
	if few, _ := s.ListJobRuns("shop", "production", "report", 2); len(few) != 2 || few[0].ID != last.ID {
		t.Fatalf("limit: %+v", few)
	}
	if _, err := s.GetJobRun("shop", "production", "report", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a dropped run: %v", err)
	}
	if other, err := s.ListJobRuns("shop", "production", "other", 0); err != nil || len(other) != 0 {
		t.Fatalf("another job's runs: %+v %v", other, err)
	}
	if _, err := s.StartJobRun("nope", "production", JobRun{Job: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("run of an unknown app: %v", err)
	}
}

func TestStore_JobRunUpdateTrimsTheLogAndListsRunning(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	for _, env := range []string{"production", "staging"} {
		if err := s.EnsureEnv("shop", env); err != nil {
			t.Fatal(err)
		}
	}
	a := must[JobRun](t)(s.StartJobRun("shop", "production", JobRun{Job: "a"}))
	b := must[JobRun](t)(s.StartJobRun("shop", "staging", JobRun{Job: "b"}))
	for i := 0; i < MaxJobLogLines+10; i++ {
		a.Log = append(a.Log, fmt.Sprintf("line %d", i))
	}
	a.Status, a.ExitCode, a.EndedAt = JobFailed, 3, a.StartedAt.Add(2*time.Second)
	if err := s.UpdateJobRun("shop", "production", a); err != nil {
		t.Fatal(err)
	}
	got := must[JobRun](t)(s.GetJobRun("shop", "production", "a", a.ID))
	if got.Status != JobFailed || got.ExitCode != 3 || len(got.Log) != MaxJobLogLines || got.Log[0] != "line 10" || got.Duration(time.Now()) != 2*time.Second {
		t.Fatalf("updated run %+v", got)
	}
	running := must[[]RunningJobRun](t)(s.RunningJobRuns())
	if len(running) != 1 || running[0].Env != "staging" || running[0].Run.ID != b.ID {
		t.Fatalf("running %+v", running)
	}
	if err := s.UpdateJobRun("shop", "production", JobRun{Job: "a", ID: 99}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of an unknown run: %v", err)
	}
}

func TestStore_JobStateRoundTrips(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	if err := s.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	if st, err := s.GetJobState("shop", "production", "report"); err != nil || !st.Last.IsZero() {
		t.Fatalf("state of a new job %+v %v", st, err)
	}
	at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	if err := s.SetJobState("shop", "production", "report", JobState{Last: at, Skipped: 2}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.GetJobState("shop", "production", "report"); err != nil || !st.Last.Equal(at) || st.Skipped != 2 {
		t.Fatalf("state %+v %v", st, err)
	}
}

func TestStore_LiveReleaseIDs(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	if err := s.EnsureEnv("shop", "staging"); err != nil {
		t.Fatal(err)
	}
	ids := must[map[[2]string]int64](t)(s.LiveReleaseIDs())
	if len(ids) != 0 {
		t.Fatalf("ids without a live release: %v", ids)
	}
	r := must[Release](t)(s.CreateRelease(Release{App: "shop", Env: "production"}))
	must[int64](t)(s.Activate("shop", "production", r.ID, StatusSuperseded))
	ids = must[map[[2]string]int64](t)(s.LiveReleaseIDs())
	if len(ids) != 1 || ids[[2]string{"shop", "production"}] != r.ID {
		t.Fatalf("ids %v, want shop/production at %d", ids, r.ID)
	}
}
