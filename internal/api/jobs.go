package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/notify"
	"github.com/berth-dev/berth/internal/store"
)

// Scheduled jobs (x-berth.jobs): list, runs, one run, a run by hand.

// errNoScheduler answers the job routes of a server that runs no
// scheduler (a Swarm cluster: deploy refuses x-berth.jobs there).
var errNoScheduler = fmt.Errorf("%w: this berth server runs no scheduled jobs (on a Swarm cluster, x-berth.jobs is refused at deploy)", deploy.ErrInvalid)

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	if s.jobs == nil {
		return errNoScheduler
	}
	jobs, err := s.jobs.Jobs(r.PathValue("app"), r.PathValue("env"))
	if err != nil {
		return err
	}
	now := s.now()
	writeJSON(w, http.StatusOK, each(jobs, func(j deploy.JobInfo) dto.Job { return jobDTO(j, now) }))
	return nil
}

func (s *Server) jobRuns(w http.ResponseWriter, r *http.Request) error {
	if s.jobs == nil {
		return errNoScheduler
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	runs, err := s.jobs.JobRuns(r.PathValue("app"), r.PathValue("env"), r.PathValue("job"), limit)
	if err != nil {
		return err
	}
	now := s.now()
	writeJSON(w, http.StatusOK, each(runs, func(r store.JobRun) dto.JobRun { return jobRunDTO(r, now) }))
	return nil
}

// jobRun answers one run; {run} is its ID or "latest".
func (s *Server) jobRun(w http.ResponseWriter, r *http.Request) error {
	if s.jobs == nil {
		return errNoScheduler
	}
	var id int64
	if v := r.PathValue("run"); v != "latest" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return badRequest(fmt.Errorf("run %q: give a run number (berth jobs runs lists them) or latest", v))
		}
		id = n
	}
	run, err := s.jobs.JobRun(r.PathValue("app"), r.PathValue("env"), r.PathValue("job"), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jobRunDTO(run, s.now()))
	return nil
}

// runJob starts a run by hand and answers it as started; the run goes
// on without the request (GET the run to follow it).
func (s *Server) runJob(w http.ResponseWriter, r *http.Request) error {
	if s.jobs == nil {
		return errNoScheduler
	}
	run, err := s.jobs.RunNow(r.Context(), r.PathValue("app"), r.PathValue("env"), r.PathValue("job"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, jobRunDTO(run, s.now()))
	return nil
}

func jobDTO(j deploy.JobInfo, now time.Time) dto.Job {
	out := dto.Job{Name: j.Job.Name, Service: j.Job.Service, Schedule: j.Job.Schedule, Timezone: j.Job.Timezone, Command: j.Job.Command,
		Timeout: j.Job.Timeout.D().String(), Concurrency: j.Job.Concurrency, Release: j.Release, Running: j.Running, Skipped: j.State.Skipped}
	if !j.Next.IsZero() {
		out.Next = &j.Next
	}
	if !j.State.SkippedAt.IsZero() {
		out.SkippedAt = &j.State.SkippedAt
	}
	if j.Last != nil {
		l := jobRunDTO(*j.Last, now)
		out.Last = &l
	}
	return out
}

func jobRunDTO(r store.JobRun, now time.Time) dto.JobRun {
	out := dto.JobRun{ID: r.ID, Job: r.Job, Service: r.Service, Release: r.Release, Trigger: r.Trigger, CreatedBy: r.CreatedBy,
		StartedAt: r.StartedAt, Status: string(r.Status), ExitCode: r.ExitCode, DurationMS: r.Duration(now).Milliseconds(),
		Container: r.Container, Error: r.Error, Note: r.Note, Log: r.Log}
	if !r.Slot.IsZero() {
		out.Slot = &r.Slot
	}
	if !r.EndedAt.IsZero() {
		out.EndedAt = &r.EndedAt
	}
	return out
}

// NotifyJobFailure adapts the notifier for deploy.SchedulerOptions'
// OnFailure: a failed or timed-out run tells the app's targets.
func NotifyJobFailure(n *notify.Notifier) func(app, env string, r store.JobRun) {
	return func(app, env string, r store.JobRun) {
		msg := fmt.Sprintf("job %s run %d (release %d) %s", r.Job, r.ID, r.Release, r.Error)
		if k := len(r.Log); k > 0 {
			msg += "; last output: " + r.Log[k-1]
		}
		n.Send(notify.Event{Kind: notify.JobFailed, App: app, Env: env, Duration: r.Duration(r.EndedAt), Message: msg, Time: r.EndedAt})
	}
}
