package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// jobsCompose is an app whose web service carries four jobs: one every
// two seconds that prints the release's VERSION, one that fails, one
// that outlives its timeout, and one every second that takes three
// (concurrency forbid: its slots overlap a run and are skipped).
func jobsCompose(t *testing.T, name, host, version string) string {
	t.Helper()
	return writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+image(t).Ref+`
    environment: { VERSION: `+version+` }
    x-berth:
      port: 8080
      hosts: [`+host+`]
      healthcheck: { path: /up, deadline: 10s }
      jobs:
        - name: hello
          schedule: "@every 2s"
          command: ["env", "VERSION"]
        - name: fail
          schedule: "@yearly"
          command: ["exit", "1"]
        - name: slow
          schedule: "@yearly"
          command: ["sleep", "60"]
          timeout: 1s
        - name: overlap
          schedule: "@every 1s"
          command: ["sleep", "3"]
          concurrency: forbid
`)
}

// latestScheduled waits for a succeeded scheduled run of hello that
// started after since, and returns it.
func latestScheduled(t *testing.T, s *server, app string, since time.Time, what string, ok func(dto.JobRun) bool) dto.JobRun {
	t.Helper()
	var found dto.JobRun
	testutil.Eventually(t, 30*time.Second, what, func() bool {
		runs, err := s.client.JobRuns(context.Background(), app, "production", "hello", 10)
		if err != nil {
			return false
		}
		for _, r := range runs {
			if r.Trigger == "schedule" && r.Status == "succeeded" && r.StartedAt.After(since) && ok(r) {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

func TestJobs_ScheduleRunByHandFailureTimeoutAndDowntime(t *testing.T) {
	eng := requireDocker(t)
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	name, host := newApp(t, eng)

	var mu sync.Mutex
	var told []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev struct{ Kind, Message string }
		_ = json.Unmarshal(b, &ev)
		mu.Lock()
		told = append(told, ev.Kind+": "+ev.Message)
		mu.Unlock()
	}))
	defer recv.Close()
	if code, out, errOut := s.berth(t, "notify", "add", name, "webhook", recv.URL); code != 0 {
		t.Fatalf("notify add: %s %s", out, errOut)
	}

	start := time.Now()
	if code, out, errOut := s.berth(t, "deploy", "-f", jobsCompose(t, name, host, "v1")); code != 0 {
		t.Fatalf("deploy v1: exit %d\n%s\n%s", code, out, errOut)
	}

	// The cron path: hello runs by itself from the live release.
	r := latestScheduled(t, s, name, start, "a scheduled run of hello from v1", func(r dto.JobRun) bool { return strings.Join(r.Log, "") == "v1" })
	if r.Release != 1 || r.ExitCode != 0 || r.EndedAt == nil {
		t.Errorf("scheduled run %+v", r)
	}

	// By hand: a failing command is a failed run, an event and a
	// notification; berth jobs run exits with its code.
	code, out, errOut := s.berth(t, "jobs", "run", name, "fail")
	if code != 1 || !strings.Contains(out, "  | exiting with 1") || !strings.Contains(errOut, "failed (exit 1)") {
		t.Errorf("jobs run fail: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = s.berth(t, "events", name)
	if code != 0 || !strings.Contains(out, "job_failed") || !strings.Contains(out, "job fail run 1 (release 1) exited with code 1") {
		t.Errorf("events after the failed run:\n%s", out)
	}

	// A run past its timeout is stopped and reported.
	began := time.Now()
	code, out, errOut = s.berth(t, "jobs", "run", name, "slow")
	took := time.Since(began)
	if code == 0 || !strings.Contains(out, "still running after its timeout of 1s: stopped") || !strings.Contains(errOut, "timed out") {
		t.Errorf("jobs run slow: exit %d\n%s\n%s", code, out, errOut)
	}
	if took > 20*time.Second {
		t.Errorf("the timed-out run took %s to be stopped and reported", took)
	}
	t.Logf("timed-out run (timeout 1s) reported after %s", took.Round(time.Millisecond))
	testutil.Eventually(t, 10*time.Second, "job_failed notifications for the failed and the timed-out runs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, m := range told {
			if strings.HasPrefix(m, "job_failed: job fail run 1") || strings.HasPrefix(m, "job_failed: job slow run 1") {
				n++
			}
		}
		return n == 2
	})

	// concurrency forbid: the slots that come while a run of overlap
	// goes are skipped and counted, never a second run beside it.
	testutil.Eventually(t, 20*time.Second, "overlap's slots skipped while its run goes", func() bool {
		jobs, err := s.client.Jobs(context.Background(), name, "production")
		if err != nil {
			return false
		}
		for _, j := range jobs {
			if j.Name == "overlap" && j.Running > 1 {
				t.Fatalf("overlap (concurrency forbid) has %d runs going", j.Running)
			}
			if j.Name == "overlap" && j.Skipped >= 2 && j.SkippedAt != nil {
				return true
			}
		}
		return false
	})
	overlaps, err := s.client.JobRuns(context.Background(), name, "production", "overlap", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(overlaps); i++ { // newest first: each run starts after the one before ended
		if prev := overlaps[i]; prev.EndedAt != nil && overlaps[i-1].StartedAt.Before(*prev.EndedAt) {
			t.Errorf("overlap run %d started at %s, before run %d ended at %s", overlaps[i-1].ID, overlaps[i-1].StartedAt, prev.ID, *prev.EndedAt)
		}
	}

	// The listing: next and last runs, as JSON too.
	code, out, _ = s.berth(t, "jobs", name, "--output", "json")
	var jobs []dto.Job
	if err := json.Unmarshal([]byte(out), &jobs); code != 0 || err != nil || len(jobs) != 4 {
		t.Fatalf("jobs --output json: exit %d %v\n%s", code, err, out)
	}
	for _, j := range jobs {
		if j.Next == nil || j.Last == nil || j.Release != 1 {
			t.Errorf("job %+v: want next and last runs from release 1", j)
		}
		if j.Name == "slow" && j.Last.Status != "timed_out" {
			t.Errorf("slow's last run %+v", j.Last)
		}
	}
	if code, out, _ = s.berth(t, "jobs", "runs", name, "fail"); code != 0 || !strings.Contains(out, "manual") || !strings.Contains(out, "failed (exit 1)") {
		t.Errorf("jobs runs fail:\n%s", out)
	}
	if code, out, _ = s.berth(t, "jobs", "logs", name, "fail", "1"); code != 0 || !strings.Contains(out, "  | exiting with 1") {
		t.Errorf("jobs logs fail 1:\n%s", out)
	}

	// A deploy switches the job to the new release, a rollback back.
	deployed := time.Now()
	if code, out, errOut := s.berth(t, "deploy", "-f", jobsCompose(t, name, host, "v2")); code != 0 {
		t.Fatalf("deploy v2: exit %d\n%s\n%s", code, out, errOut)
	}
	r = latestScheduled(t, s, name, deployed, "a scheduled run of hello from v2", func(r dto.JobRun) bool { return strings.Join(r.Log, "") == "v2" })
	if r.Release != 2 {
		t.Errorf("run after the deploy from release %d", r.Release)
	}
	rolled := time.Now()
	if code, out, errOut := s.berth(t, "rollback", name); code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errOut)
	}
	r = latestScheduled(t, s, name, rolled, "a scheduled run of hello from v1 after the rollback", func(r dto.JobRun) bool { return strings.Join(r.Log, "") == "v1" })
	if r.Release != 1 {
		t.Errorf("run after the rollback from release %d", r.Release)
	}

	// berth down across several slots: one catch-up run, which says so.
	s.stop()
	time.Sleep(7 * time.Second) // the downtime itself: three or four slots of hello pass
	restarted := time.Now()
	s = startServer(t, dataDir)
	r = latestScheduled(t, s, name, restarted, "one catch-up run of hello after the downtime", func(r dto.JobRun) bool { return r.Note != "" })
	if !strings.Contains(r.Note, "runs were due from") || !strings.Contains(r.Note, "ran once now, not once per missed slot") {
		t.Errorf("catch-up note %q", r.Note)
	}
	runs, err := s.client.JobRuns(context.Background(), name, "production", "hello", 0)
	if err != nil {
		t.Fatal(err)
	}
	catchUps := 0
	for _, r := range runs {
		if r.StartedAt.After(restarted) && r.Note != "" {
			catchUps++
		}
	}
	if catchUps != 1 {
		t.Errorf("%d catch-up runs after the downtime, want 1", catchUps)
	}

	s.stop()
	cs, _ := eng.ListContainers(context.Background(), map[string]string{"berth.app": name, deploy.LabelOneOff: "true"})
	for _, c := range cs {
		if c.Labels[deploy.LabelJob] != "" {
			t.Errorf("job container %s left behind", c.Name)
		}
	}
}

// TestJobs_RunsOnTheMinute: a standard five-field schedule on the real
// clock, every minute: the run starts at the minute it is due, on time,
// from the live release.
func TestJobs_RunsOnTheMinute(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	file := writeFile(t, "compose.yaml", `name: `+name+`
services:
  web:
    image: `+image(t).Ref+`
    environment: { VERSION: minutely }
    x-berth:
      port: 8080
      hosts: [`+host+`]
      healthcheck: { path: /up, deadline: 10s }
      jobs:
        - name: minutely
          schedule: "* * * * *"
          command: ["env", "VERSION"]
`)
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	s.deployOrFail(t, app) // through the client: s.berth sets the environment, which a parallel test may not
	var run dto.JobRun
	testutil.Eventually(t, 90*time.Second, "a run of minutely on the minute", func() bool {
		runs, err := s.client.JobRuns(context.Background(), name, "production", "minutely", 5)
		if err != nil || len(runs) == 0 || runs[0].Status == "running" {
			return false
		}
		run = runs[0]
		return true
	})
	if run.Trigger != "schedule" || run.Status != "succeeded" || strings.Join(run.Log, "") != "minutely" || run.Note != "" {
		t.Errorf("the first run: %+v", run)
	}
	if run.Slot == nil || !run.Slot.Equal(run.Slot.Truncate(time.Minute)) {
		t.Fatalf("the run's slot %v is not a whole minute", run.Slot)
	}
	if late := run.StartedAt.Sub(*run.Slot); late < 0 || late > 5*time.Second {
		t.Errorf("the run started %s after its slot %s", late, run.Slot)
	}
	t.Logf("due at %s, started %s after it", run.Slot.Format(time.TimeOnly), run.StartedAt.Sub(*run.Slot).Round(time.Millisecond))
}
