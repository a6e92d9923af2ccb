package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// ErrJobRunning refuses a run by hand of a job whose concurrency forbids
// a second run while one is going.
var ErrJobRunning = errors.New("the job is running")

// SchedulerOptions configure a Scheduler; zero values take the defaults.
type SchedulerOptions struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Tick is how often the scheduler looks for due jobs (default 1s).
	Tick time.Duration
	// Grace is how late a run may start and still be on time; a later
	// one is recorded as a catch-up run (default 30s).
	Grace time.Duration
	// OnFailure, when set, is told of each run that failed or timed out
	// (the daemon notifies the app's targets). It must not block.
	OnFailure func(app, env string, run store.JobRun)
	Logger    *slog.Logger
}

// Scheduler runs the scheduled jobs (x-berth.jobs) of every live
// release. Run owns its loop and every run's goroutine; each run reads
// the live release when it starts, so a deploy or a rollback switches a
// job to the new release from its next run.
type Scheduler struct {
	d    *Deployer
	opts SchedulerOptions
	log  *slog.Logger

	mu      sync.Mutex
	base    context.Context // the runs' parent, set by Run; nil before
	active  map[JobKey]map[int64]*activeRun
	state   map[JobKey]store.JobState // cache of the store's
	rels    map[[2]string]liveJobs    // cache of each environment's live release
	invalid map[string]bool           // schedules already reported unusable
	runs    sync.WaitGroup
}

type activeRun struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// liveJobs is a live release and its jobs' parsed schedules.
type liveJobs struct {
	rel    store.Release
	scheds map[string]Schedule
}

// NewScheduler returns the job scheduler of d's app environments.
func (d *Deployer) NewScheduler(opts SchedulerOptions) *Scheduler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	if opts.Grace <= 0 {
		opts.Grace = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = d.log
	}
	return &Scheduler{d: d, opts: opts, log: log.With("component", "jobs"),
		active: map[JobKey]map[int64]*activeRun{}, state: map[JobKey]store.JobState{}, rels: map[[2]string]liveJobs{}, invalid: map[string]bool{}}
}

// Run schedules jobs until ctx ends, then stops the runs still going
// (recorded as interrupted) and waits for them. Runs a previous berth
// left are recorded as interrupted first, and their containers removed.
func (s *Scheduler) Run(ctx context.Context) {
	s.recover(ctx)
	s.mu.Lock()
	s.base = context.WithoutCancel(ctx) // runs end by their own cancel, with a cause
	s.mu.Unlock()
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		s.tick()
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for _, runs := range s.active {
				for _, r := range runs {
					r.cancel(errJobShutdown)
				}
			}
			s.base = nil
			s.mu.Unlock()
			s.runs.Wait()
			return
		case <-t.C:
		}
	}
}

// recover records the runs a previous berth left running as
// interrupted and removes their containers.
func (s *Scheduler) recover(ctx context.Context) {
	left, err := s.d.store.RunningJobRuns()
	if err != nil {
		s.log.Warn("find job runs left running", "error", err)
	}
	for _, l := range left {
		r := l.Run
		r.Status, r.EndedAt = store.JobInterrupted, s.opts.Now()
		r.Error = "berth stopped while it ran (it was not there to see it end)"
		if err := s.d.store.UpdateJobRun(l.App, l.Env, r); err != nil {
			s.log.Warn("record interrupted job run", "app", l.App, "env", l.Env, "job", r.Job, "run", r.ID, "error", err)
		}
	}
	cs, err := s.d.eng.ListContainers(ctx, map[string]string{LabelOneOff: "true"})
	if err != nil {
		s.log.Warn("find job containers left running", "error", err)
		return
	}
	for _, c := range cs {
		if c.Labels[LabelJob] == "" {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, stopWait)
		_ = s.d.eng.StopContainer(rctx, c.ID, 10*time.Second)
		if err := s.d.eng.RemoveContainer(rctx, c.ID); err != nil {
			s.log.Warn("remove a job container left running", "container", c.Name, "error", err)
		}
		cancel()
	}
}

// tick plans every job of every live release and acts on the plan.
func (s *Scheduler) tick() {
	now := s.opts.Now()
	ids, err := s.d.store.LiveReleaseIDs()
	if err != nil {
		s.log.Warn("read live releases", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base == nil {
		return
	}
	for k := range s.rels {
		if _, ok := ids[k]; !ok {
			delete(s.rels, k)
		}
	}
	var states []JobState
	for k, id := range ids {
		lj, ok := s.rels[k]
		if !ok || lj.rel.ID != id {
			rel, err := s.d.store.LiveRelease(k[0], k[1])
			if err != nil {
				continue // changed since: the next tick reads it
			}
			if ok {
				s.rearmChanged(k, lj.rel.Spec, rel.Spec)
			}
			lj = liveJobs{rel: rel, scheds: s.schedules(rel)}
			s.rels[k] = lj
		}
		for _, j := range lj.rel.Spec.Jobs {
			sched := lj.scheds[j.Name]
			if sched == nil {
				continue
			}
			key := JobKey{App: k[0], Env: k[1], Name: j.Name}
			st, err := s.stateOf(key)
			if err != nil {
				s.log.Warn("read job state", "app", key.App, "env", key.Env, "job", key.Name, "error", err)
				continue
			}
			states = append(states, JobState{Key: key, Schedule: sched, Concurrency: j.Concurrency, Last: st.Last, Running: len(s.active[key])})
		}
	}
	decisions, _ := PlanJobs(states, now, s.opts.Grace)
	for _, dec := range decisions {
		lj := s.rels[[2]string{dec.Key.App, dec.Key.Env}]
		job, _ := lj.rel.Spec.Job(dec.Key.Name)
		st := s.state[dec.Key]
		st.Last = dec.Slot
		if dec.Action == JobSkip {
			st.Skipped, st.SkippedAt = st.Skipped+1, dec.Slot
			s.log.Warn("job run skipped: the previous run is still going (concurrency: forbid)", "app", dec.Key.App, "env", dec.Key.Env, "job", dec.Key.Name, "slot", dec.Slot)
		} else if dec.Action != JobArm {
			st.Skipped, st.SkippedAt = 0, time.Time{}
		}
		// The slot is recorded before its run starts: a berth killed
		// in between does not run it twice.
		if err := s.d.store.SetJobState(dec.Key.App, dec.Key.Env, dec.Key.Name, st); err != nil {
			s.log.Warn("record job state", "app", dec.Key.App, "env", dec.Key.Env, "job", dec.Key.Name, "error", err)
			continue
		}
		s.state[dec.Key] = st
		if dec.Action != JobStart && dec.Action != JobReplace {
			continue
		}
		run := store.JobRun{Job: job.Name, Service: job.Service, Release: lj.rel.ID, Trigger: store.TriggerSchedule, Slot: dec.Slot, Note: dec.Note(now)}
		if _, err := s.startLocked(dec.Key, lj.rel, *job, run, dec.Action == JobReplace); err != nil {
			s.log.Warn("start job run", "app", dec.Key.App, "env", dec.Key.Env, "job", dec.Key.Name, "error", err)
		}
	}
}

// rearmChanged forgets the last slot of each job that a deploy or
// rollback, seen while berth runs, adds to the environment or gives
// another schedule: it waits for its first slot under the new release,
// as a new job does, rather than catch up on slots counted from a
// schedule it did not have then.
func (s *Scheduler) rearmChanged(k [2]string, old, cur spec.App) {
	for _, j := range cur.Jobs {
		if o, ok := old.Job(j.Name); ok && o.Schedule == j.Schedule && o.Timezone == j.Timezone {
			continue
		}
		key := JobKey{App: k[0], Env: k[1], Name: j.Name}
		st, err := s.stateOf(key)
		if err != nil || st.Last.IsZero() {
			continue
		}
		st.Last = time.Time{}
		s.state[key] = st // PlanJobs arms it, and the store gets the new slot then
	}
}

// schedules parses the schedules of rel's jobs; one that does not parse
// (validation refuses it at deploy, so only a release from a future
// berth) is reported once.
func (s *Scheduler) schedules(rel store.Release) map[string]Schedule {
	out := map[string]Schedule{}
	for _, j := range rel.Spec.Jobs {
		sched, err := j.ParseSchedule()
		if err != nil {
			k := fmt.Sprintf("%s/%s/%d/%s", rel.App, rel.Env, rel.ID, j.Name)
			if !s.invalid[k] {
				s.invalid[k] = true
				s.log.Error("job not scheduled: its schedule does not parse", "app", rel.App, "env", rel.Env, "release", rel.ID, "job", j.Name, "error", err)
			}
			continue
		}
		out[j.Name] = sched
	}
	return out
}

// stateOf returns key's schedule state, from the cache or the store.
func (s *Scheduler) stateOf(key JobKey) (store.JobState, error) {
	if st, ok := s.state[key]; ok {
		return st, nil
	}
	st, err := s.d.store.GetJobState(key.App, key.Env, key.Name)
	if err == nil {
		s.state[key] = st
	}
	return st, err
}

// startLocked records run as running and starts it in its own
// goroutine; with replace, after the job's running runs stopped. s.mu
// is held.
func (s *Scheduler) startLocked(key JobKey, rel store.Release, job spec.Job, run store.JobRun, replace bool) (store.JobRun, error) {
	if s.base == nil {
		return run, errors.New("the job scheduler is not running (berth is stopping)")
	}
	var old []*activeRun
	if replace {
		for _, r := range s.active[key] {
			r.cancel(errJobReplaced)
			old = append(old, r)
		}
	}
	run.StartedAt = s.d.now()
	run, err := s.d.store.StartJobRun(key.App, key.Env, run)
	if err != nil {
		return run, err
	}
	ctx, cancel := context.WithCancelCause(s.base)
	ar := &activeRun{cancel: cancel, done: make(chan struct{})}
	if s.active[key] == nil {
		s.active[key] = map[int64]*activeRun{}
	}
	s.active[key][run.ID] = ar
	s.log.Info("job run started", "app", key.App, "env", key.Env, "job", key.Name, "run", run.ID, "release", rel.ID, "trigger", run.Trigger)
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		defer close(ar.done)
		defer cancel(nil)
		for _, o := range old {
			<-o.done // replace: the new run starts once the old ones stopped
		}
		ended := s.d.executeJob(ctx, rel, job, run)
		s.ended(key, ended) // its event before its record: a run seen ended has its event
		// One step for the scheduler: a run recorded as ended no longer
		// counts as running.
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.active[key], run.ID)
		if len(s.active[key]) == 0 {
			delete(s.active, key)
		}
		if err := s.d.store.UpdateJobRun(key.App, key.Env, ended); err != nil {
			s.log.Warn("record job run", "app", key.App, "env", key.Env, "job", key.Name, "run", run.ID, "error", err)
		}
	}()
	return run, nil
}

// ended logs a finished run; a failed or timed-out one is also an event
// of its environment (berth events) and a notification.
func (s *Scheduler) ended(key JobKey, r store.JobRun) {
	s.log.Info("job run ended", "app", key.App, "env", key.Env, "job", key.Name, "run", r.ID, "status", r.Status, "exit_code", r.ExitCode, "duration", r.Duration(s.opts.Now()).String())
	var kind string
	switch r.Status {
	case store.JobFailed:
		kind = "job_failed"
	case store.JobTimedOut:
		kind = "job_timed_out"
	case store.JobInterrupted:
		kind = "job_interrupted"
	default:
		return
	}
	msg := fmt.Sprintf("job %s run %d (release %d) %s", key.Name, r.ID, r.Release, r.Error)
	if n := len(r.Log); n > 0 {
		msg += "; last output: " + r.Log[n-1]
	}
	msg += fmt.Sprintf("; berth jobs logs %s %s %d --env %s shows its output", key.App, key.Name, r.ID, key.Env)
	ev := store.Event{Time: r.EndedAt, Kind: kind, Service: r.Service, Container: r.Container, Release: strconv.FormatInt(r.Release, 10), Message: msg}
	if err := s.d.store.AppendEvent(key.App, key.Env, ev); err != nil {
		s.log.Warn("record event", "app", key.App, "env", key.Env, "error", err)
	}
	if r.Status != store.JobInterrupted && s.opts.OnFailure != nil {
		s.opts.OnFailure(key.App, key.Env, r)
	}
}

// RunNow starts a run of app/env's job by hand, from the live release,
// and returns it as recorded (running). A job whose concurrency is
// forbid is refused while a run is going (ErrJobRunning); replace stops
// the running one first.
func (s *Scheduler) RunNow(ctx context.Context, app, env, name string) (store.JobRun, error) {
	live, err := s.d.store.LiveRelease(app, env)
	if err != nil {
		return store.JobRun{}, fmt.Errorf("%s/%s has no live release to run job %s from (deploy it first): %w", app, env, name, err)
	}
	job, err := liveJob(live, name)
	if err != nil {
		return store.JobRun{}, err
	}
	key := JobKey{App: app, Env: env, Name: name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.active[key]); n > 0 && job.Concurrency == spec.ConcurrencyForbid {
		var ids []string
		for id := range s.active[key] {
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		return store.JobRun{}, fmt.Errorf("%w: job %s of %s/%s is running (run %s) and its concurrency is forbid; wait for it (berth jobs runs %s %s), or set concurrency: replace or allow", ErrJobRunning, name, app, env, strings.Join(ids, ", "), app, name)
	}
	run := store.JobRun{Job: job.Name, Service: job.Service, Release: live.ID, Trigger: store.TriggerManual, CreatedBy: ActorOf(ctx)}
	return s.startLocked(key, live, job, run, job.Concurrency == spec.ConcurrencyReplace)
}

// liveJob returns the job name of live, or an error wrapping
// store.ErrNotFound that names the jobs it has.
func liveJob(live store.Release, name string) (spec.Job, error) {
	if j, ok := live.Spec.Job(name); ok {
		return *j, nil
	}
	names := make([]string, 0, len(live.Spec.Jobs))
	for _, j := range live.Spec.Jobs {
		names = append(names, j.Name)
	}
	has := "has no jobs (x-berth.jobs)"
	if len(names) > 0 {
		has = "has " + strings.Join(names, ", ")
	}
	return spec.Job{}, fmt.Errorf("%w: release %d of %s/%s, the live one, has no job %q (it %s)", store.ErrNotFound, live.ID, live.App, live.Env, name, has)
}

// JobInfo is one job of a live release as berth jobs lists it.
type JobInfo struct {
	Job     spec.Job
	Release int64
	// Next is the next slot of its schedule (zero when it has none).
	Next time.Time
	// Last is its latest run, nil when it never ran.
	Last    *store.JobRun
	Running int
	State   store.JobState
}

// Jobs lists the jobs of app/env's live release with their next and
// last runs.
func (s *Scheduler) Jobs(app, env string) ([]JobInfo, error) {
	live, err := s.d.store.LiveRelease(app, env)
	if err != nil {
		return nil, fmt.Errorf("%s/%s has no live release (deploy it first): %w", app, env, err)
	}
	now := s.opts.Now()
	out := make([]JobInfo, 0, len(live.Spec.Jobs))
	for _, j := range live.Spec.Jobs {
		info := JobInfo{Job: j, Release: live.ID}
		st, err := s.d.store.GetJobState(app, env, j.Name)
		if err != nil {
			return nil, err
		}
		info.State = st
		if sched, err := j.ParseSchedule(); err == nil {
			from := st.Last
			if from.IsZero() {
				from = now
			}
			info.Next = sched.Next(from)
		}
		runs, err := s.d.store.ListJobRuns(app, env, j.Name, 1)
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			info.Last = &runs[0]
		}
		s.mu.Lock()
		info.Running = len(s.active[JobKey{App: app, Env: env, Name: j.Name}])
		s.mu.Unlock()
		out = append(out, info)
	}
	return out, nil
}

// JobRuns lists the kept runs of app/env's job, newest first; a job
// neither in the live release nor with runs kept is not found.
func (s *Scheduler) JobRuns(app, env, name string, limit int) ([]store.JobRun, error) {
	runs, err := s.d.store.ListJobRuns(app, env, name, limit)
	if err != nil || len(runs) > 0 {
		return runs, err
	}
	live, err := s.d.store.LiveRelease(app, env)
	if err != nil {
		return nil, fmt.Errorf("%s/%s has no live release and job %s no runs: %w", app, env, name, err)
	}
	if _, err := liveJob(live, name); err != nil {
		return nil, err
	}
	return runs, nil
}

// JobRun returns run id of app/env's job; id 0 is its latest run.
func (s *Scheduler) JobRun(app, env, name string, id int64) (store.JobRun, error) {
	if id != 0 {
		return s.d.store.GetJobRun(app, env, name, id)
	}
	runs, err := s.JobRuns(app, env, name, 1)
	if err != nil {
		return store.JobRun{}, err
	}
	if len(runs) == 0 {
		return store.JobRun{}, fmt.Errorf("%w: job %s of %s/%s has not run yet (berth jobs run %s %s runs it now)", store.ErrNotFound, name, app, env, app, name)
	}
	return runs[0], nil
}
