package deploy

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/testutil"
)

// jobHarness runs a Scheduler over the fake engine with a clock the test
// moves.
type jobHarness struct {
	t      *testing.T
	f      *enginetest.Fake
	d      *Deployer
	s      *Scheduler
	mu     sync.Mutex
	now    time.Time
	failed []store.JobRun
	stop   func()
}

func newJobHarness(t *testing.T, jobs ...spec.Job) *jobHarness {
	t.Helper()
	h := &jobHarness{t: t, f: enginetest.NewFake(), now: time.Date(2026, 12, 4, 12, 0, 30, 0, time.UTC)}
	h.d = fakeDeployer(t, h.f)
	h.f.AddImage("shop:1", "sha256:1")
	h.f.AddImage("shop:2", "sha256:2")
	h.f.AddImage("shop:3", "sha256:3")
	if err := h.d.store.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.f.EnsureNetwork(context.Background(), "berth-shop-production", nil); err != nil {
		t.Fatal(err)
	}
	h.release(1, jobs...)
	h.s = h.d.NewScheduler(SchedulerOptions{Now: h.clock, Tick: 2 * time.Millisecond, Grace: 10 * time.Second,
		OnFailure: func(app, env string, r store.JobRun) {
			h.mu.Lock()
			h.failed = append(h.failed, r)
			h.mu.Unlock()
		}})
	return h
}

// start runs the scheduler and waits until it armed the live jobs (or
// ran them, when they were armed before).
func (h *jobHarness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.s.Run(ctx); close(done) }()
	h.stop = func() { cancel(); <-done }
	h.t.Cleanup(h.stop)
	live, err := h.d.store.LiveRelease("shop", "production")
	if err != nil {
		h.t.Fatal(err)
	}
	for _, j := range live.Spec.Jobs {
		h.waitFor("job "+j.Name+" to be armed", func() bool {
			st, _ := h.d.store.GetJobState("shop", "production", j.Name)
			return !st.Last.IsZero()
		})
	}
}

func (h *jobHarness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *jobHarness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

// release makes release n (image shop:n) with jobs live.
func (h *jobHarness) release(n int, jobs ...spec.Job) store.Release {
	h.t.Helper()
	app := spec.App{Name: "shop", Services: []spec.Service{{Name: "web", Image: "shop:x", Replicas: 1, Command: []string{"/srv"}}}, Jobs: jobs}
	ref := "shop:" + string(rune('0'+n))
	rel, err := h.d.store.CreateRelease(store.Release{App: "shop", Env: "production", Spec: app,
		Services: map[string]store.ServiceImage{"web": {Image: ref, ImageID: "sha256:" + string(rune('0'+n))}}})
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.d.store.Activate("shop", "production", rel.ID, store.StatusSuperseded); err != nil {
		h.t.Fatal(err)
	}
	return rel
}

// waitFor polls cond until it holds, failing the test after 15s.
func (h *jobHarness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	testutil.Eventually(h.t, 15*time.Second, what, cond)
}

// container waits for the running container of run id of job.
func (h *jobHarness) container(job string, run int64) engine.Container {
	h.t.Helper()
	var found engine.Container
	h.waitFor("the container of "+job+" run", func() bool {
		cs, _ := h.f.ListContainers(context.Background(), map[string]string{LabelJob: job})
		if runs, _ := h.d.store.ListJobRuns("shop", "production", job, 0); len(runs) > 0 && runs[0].Status != store.JobRunning {
			h.t.Logf("latest run %+v", runs[0])
		}
		for _, c := range cs {
			if c.Labels[LabelJobRun] == strconv.FormatInt(run, 10) && c.State == engine.StateRunning {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

func (h *jobHarness) runs(job string) []store.JobRun {
	h.t.Helper()
	runs, err := h.d.store.ListJobRuns("shop", "production", job, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return runs
}

// ended waits for run id of job to end and returns it.
func (h *jobHarness) ended(job string, id int64) store.JobRun {
	h.t.Helper()
	var r store.JobRun
	h.waitFor("the end of the run", func() bool {
		var err error
		r, err = h.d.store.GetJobRun("shop", "production", job, id)
		return err == nil && r.Status != store.JobRunning
	})
	return r
}

func minutely(name string) spec.Job {
	return spec.Job{Name: name, Service: "web", Schedule: "* * * * *", Command: []string{"/srv", "report"}, Timeout: spec.Duration(time.Hour), Concurrency: spec.ConcurrencyForbid}
}

func TestScheduler_RunsADueJobAndRecordsIt(t *testing.T) {
	t.Parallel()
	h := newJobHarness(t, minutely("report"))
	h.start()
	if runs := h.runs("report"); len(runs) != 0 {
		t.Fatalf("a new job ran at once: %+v", runs)
	}
	h.advance(30 * time.Second) // 12:01:00, its first slot
	c := h.container("report", 1)
	spec, _ := h.f.Spec(c.ID)
	if strings.Join(spec.Cmd, " ") != "/srv report" || c.Image != "sha256:1" || c.Labels[LabelOneOff] != "true" {
		t.Errorf("run container: cmd %v image %s labels %v", spec.Cmd, c.Image, c.Labels)
	}
	for _, l := range []string{"starting\n", "done\n"} {
		if err := h.f.AppendLog(c.ID, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.f.SetState(c.ID, engine.StateExited, 0); err != nil {
		t.Fatal(err)
	}
	r := h.ended("report", 1)
	if r.Status != store.JobSucceeded || r.ExitCode != 0 || r.Release != 1 || r.Trigger != store.TriggerSchedule ||
		!r.Slot.Equal(time.Date(2026, 12, 4, 12, 1, 0, 0, time.UTC)) || strings.Join(r.Log, "|") != "starting|done" || r.Note != "" {
		t.Errorf("run %+v", r)
	}
	h.waitFor("the container's removal", func() bool { _, err := h.f.InspectContainer(context.Background(), c.ID); return err != nil })
	if evs, _ := h.d.store.ListEvents("shop", "production", 0); len(evs) != 0 {
		t.Errorf("a successful run made events: %+v", evs)
	}
}

func TestScheduler_FailedAndTimedOutRunsAreEventsAndNotifications(t *testing.T) {
	t.Parallel()
	slow := minutely("slow")
	slow.Timeout = spec.Duration(50 * time.Millisecond)
	h := newJobHarness(t, minutely("report"), slow)
	h.start()
	h.advance(30 * time.Second)
	c := h.container("report", 1)
	_ = h.f.AppendLog(c.ID, "cannot reach the database\n")
	_ = h.f.SetState(c.ID, engine.StateExited, 3)
	r := h.ended("report", 1)
	if r.Status != store.JobFailed || r.ExitCode != 3 || r.Error != "exited with code 3" {
		t.Errorf("failed run %+v", r)
	}
	h.container("slow", 1) // never exits by itself
	s := h.ended("slow", 1)
	if s.Status != store.JobTimedOut || !strings.Contains(s.Error, "timeout of 50ms") {
		t.Errorf("timed-out run %+v", s)
	}
	evs, _ := h.d.store.ListEvents("shop", "production", 0)
	kinds := map[string]string{}
	for _, e := range evs {
		kinds[e.Kind] = e.Message
	}
	if m := kinds["job_failed"]; !strings.Contains(m, "job report run 1 (release 1) exited with code 3") || !strings.Contains(m, "cannot reach the database") {
		t.Errorf("job_failed event %q (events %+v)", m, evs)
	}
	if m := kinds["job_timed_out"]; !strings.Contains(m, "job slow run 1") {
		t.Errorf("job_timed_out event %q", m)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.failed) != 2 {
		t.Errorf("notified of %d runs, want 2: %+v", len(h.failed), h.failed)
	}
}

func TestScheduler_ForbidSkipsAndRefusesWhileRunning(t *testing.T) {
	t.Parallel()
	h := newJobHarness(t, minutely("report"))
	h.start()
	h.advance(30 * time.Second)
	c := h.container("report", 1)
	h.advance(time.Minute) // 12:02: due again while run 1 goes
	h.waitFor("the skip", func() bool {
		st, _ := h.d.store.GetJobState("shop", "production", "report")
		return st.Skipped == 1
	})
	if _, err := h.s.RunNow(context.Background(), "shop", "production", "report"); !errors.Is(err, ErrJobRunning) || !strings.Contains(err.Error(), "run 1") {
		t.Errorf("run by hand while running: %v", err)
	}
	_ = h.f.SetState(c.ID, engine.StateExited, 0)
	h.ended("report", 1)
	if runs := h.runs("report"); len(runs) != 1 {
		t.Errorf("%d runs, want 1 (the second slot skipped)", len(runs))
	}
	r, err := h.s.RunNow(context.Background(), "shop", "production", "report")
	if err != nil || r.Trigger != store.TriggerManual || r.ID != 2 {
		t.Fatalf("run by hand: %+v %v", r, err)
	}
	jobs, err := h.s.Jobs("shop", "production")
	if err != nil || len(jobs) != 1 || jobs[0].Running != 1 || jobs[0].Last.ID != 2 || !jobs[0].Next.Equal(time.Date(2026, 12, 4, 12, 3, 0, 0, time.UTC)) {
		t.Errorf("jobs %+v %v", jobs, err)
	}
}

func TestScheduler_ReplaceStopsTheRunningRun(t *testing.T) {
	t.Parallel()
	j := minutely("report")
	j.Concurrency = spec.ConcurrencyReplace
	h := newJobHarness(t, j)
	h.start()
	h.advance(30 * time.Second)
	h.container("report", 1)
	h.advance(time.Minute)
	old := h.ended("report", 1)
	if old.Status != store.JobReplaced {
		t.Errorf("old run %+v", old)
	}
	h.container("report", 2)
}

func TestScheduler_AllowRunsBeside(t *testing.T) {
	t.Parallel()
	j := minutely("report")
	j.Concurrency = spec.ConcurrencyAllow
	h := newJobHarness(t, j)
	h.start()
	h.advance(30 * time.Second)
	h.container("report", 1)
	h.advance(time.Minute)
	h.container("report", 2)
	if r, _ := h.d.store.GetJobRun("shop", "production", "report", 1); r.Status != store.JobRunning {
		t.Errorf("run 1 beside run 2: %+v", r)
	}
}

func TestScheduler_MissedRunsRunOnceAndSaySo(t *testing.T) {
	t.Parallel()
	h := newJobHarness(t, minutely("report"))
	// berth was down from 11:00:00 (its last slot) to now, 12:00:30.
	if err := h.d.store.SetJobState("shop", "production", "report", store.JobState{Last: time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	h.start()
	c := h.container("report", 1)
	_ = h.f.SetState(c.ID, engine.StateExited, 0)
	r := h.ended("report", 1)
	if !strings.Contains(r.Note, "60 runs were due from 2026-12-04 11:01:00Z to 2026-12-04 12:00:00Z") || !strings.Contains(r.Note, "ran once") {
		t.Errorf("note %q", r.Note)
	}
	for range 10 { // more ticks at the same time: nothing more is due
		h.s.tick()
	}
	if runs := h.runs("report"); len(runs) != 1 {
		t.Errorf("%d runs after the catch-up, want 1", len(runs))
	}
}

func TestScheduler_RunsFromTheLiveReleaseAfterADeployOrRollback(t *testing.T) {
	t.Parallel()
	h := newJobHarness(t, minutely("report"))
	h.start()
	h.advance(30 * time.Second)
	c := h.container("report", 1)
	_ = h.f.SetState(c.ID, engine.StateExited, 0)
	h.ended("report", 1)
	h.release(2, minutely("report")) // a deploy
	h.advance(time.Minute)
	c = h.container("report", 2)
	if c.Image != "sha256:2" {
		t.Errorf("after the deploy the run's image is %s, want shop:2", c.Image)
	}
	_ = h.f.SetState(c.ID, engine.StateExited, 0)
	if r := h.ended("report", 2); r.Release != 2 {
		t.Errorf("run after the deploy from release %d", r.Release)
	}
	if _, err := h.d.store.Activate("shop", "production", 1, store.StatusRolledBack); err != nil { // a rollback
		t.Fatal(err)
	}
	r, err := h.s.RunNow(context.Background(), "shop", "production", "report")
	if err != nil || r.Release != 1 {
		t.Fatalf("run after the rollback: %+v %v", r, err)
	}
	if c := h.container("report", 3); c.Image != "sha256:1" {
		t.Errorf("after the rollback the run's image is %s, want shop:1", c.Image)
	}
	h.release(3) // a release without the job
	if _, err := h.s.RunNow(context.Background(), "shop", "production", "report"); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "has no jobs") {
		t.Errorf("run of a job the live release lacks: %v", err)
	}
}

func TestScheduler_StoppingInterruptsRunsAndStartingRecordsLeftOnes(t *testing.T) {
	t.Parallel()
	h := newJobHarness(t, minutely("report"))
	left, err := h.d.store.StartJobRun("shop", "production", store.JobRun{Job: "report", Service: "web", Release: 1, Trigger: store.TriggerSchedule})
	if err != nil {
		t.Fatal(err)
	}
	h.start()
	if r := h.ended("report", left.ID); r.Status != store.JobInterrupted {
		t.Errorf("run left by a previous berth %+v", r)
	}
	r, err := h.s.RunNow(context.Background(), "shop", "production", "report")
	if err != nil {
		t.Fatal(err)
	}
	c := h.container("report", r.ID)
	h.stop()
	if got := h.ended("report", r.ID); got.Status != store.JobInterrupted {
		t.Errorf("run going when berth stopped %+v", got)
	}
	if _, err := h.f.InspectContainer(context.Background(), c.ID); err == nil {
		t.Errorf("its container is still there")
	}
	if _, err := h.s.RunNow(context.Background(), "shop", "production", "report"); err == nil {
		t.Errorf("a stopped scheduler started a run")
	}
}

// On a cluster a job's run is a one-off Swarm task: a deploy with jobs
// goes live, except a job whose service mounts Compose secrets or
// configs, which such a task does not mount yet: refused, nothing live.
func TestDeployer_ClusterTakesJobsButNotWithSecrets(t *testing.T) {
	cf := newClusterFixture(t)
	app := clusterApp("v1")
	app.Jobs = []spec.Job{minutely("report")}
	if _, err := cf.deploy(t, app, DeployOptions{}); err != nil {
		t.Fatalf("deploy with a job on a cluster: %v", err)
	}
	live, err := cf.d.store.LiveRelease("shop", "production")
	if err != nil || len(live.Spec.Jobs) != 1 {
		t.Fatalf("live release %+v, %v: want one with the job", live, err)
	}
	secret := clusterApp("v2")
	secret.Services[0].Secrets = []spec.SecretFile{{Name: "db", Target: "/run/secrets/db"}}
	secret.Jobs = []spec.Job{minutely("report")}
	_, err = cf.deploy(t, secret, DeployOptions{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `job report runs as service "web", which mounts Compose secrets or configs`) {
		t.Fatalf("deploy of a job whose service has secrets on a cluster: %v", err)
	}
	if again, _ := cf.d.store.LiveRelease("shop", "production"); again.ID != live.ID {
		t.Errorf("the refused deploy made release %d live", again.ID)
	}
}

func TestScheduler_AJobADeployAddsOrReschedulesWaitsForItsFirstSlot(t *testing.T) {
	t.Parallel()
	h := newJobHarness(t, minutely("report"))
	h.start()
	// Two hours pass with a release that has no job sync and report on
	// another schedule (release 2); then release 3 brings sync back and
	// report to every minute. Neither catches up on slots counted under
	// a schedule it did not have.
	if err := h.d.store.SetJobState("shop", "production", "sync", store.JobState{Last: h.clock().Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	hourly := minutely("report")
	hourly.Schedule = "@yearly"
	h.release(2, hourly)
	h.waitFor("the scheduler to see release 2", func() bool {
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		return h.s.rels[[2]string{"shop", "production"}].rel.ID == 2
	})
	h.advance(2 * time.Hour)
	h.release(3, minutely("report"), minutely("sync"))
	for _, job := range []string{"report", "sync"} {
		h.waitFor(job+" re-armed at now", func() bool {
			st, _ := h.d.store.GetJobState("shop", "production", job)
			return st.Last.Equal(h.clock())
		})
	}
	for range 5 {
		h.s.tick()
	}
	if n := len(h.runs("report")) + len(h.runs("sync")); n != 0 {
		t.Errorf("%d runs caught up after the deploy, want none", n)
	}
	h.advance(30 * time.Second) // the first slot after the deploy
	for _, job := range []string{"sync", "report"} {
		c := h.container(job, 1)
		_ = h.f.SetState(c.ID, engine.StateExited, 0)
		if r := h.ended(job, 1); r.Release != 3 || r.Note != "" {
			t.Errorf("first run of %s after the deploy %+v", job, r)
		}
	}
}
