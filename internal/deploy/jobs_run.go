package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Labels of a job run's container, beside LabelOneOff (reconcile leaves
// it alone): the job's name and the run's ID, so a berth that starts
// finds what a previous one left running.
const (
	LabelJob    = "berth.job"
	LabelJobRun = "berth.job.run"
)

// Why a run is stopped before it ends by itself (its context's cause).
var (
	errJobTimeout  = errors.New("timed out")
	errJobReplaced = errors.New("replaced by a newer run (concurrency: replace)")
	errJobShutdown = errors.New("berth stopped while it ran")
)

// stopWait bounds stopping and removing a run's container once the run
// is over (its context is done by then).
const stopWait = 30 * time.Second

// executeJob runs run (already recorded as running) of job from live
// to its end: a one-off container built as berth run builds one, its
// output's last lines kept, stopped at the job's timeout or when ctx is
// cancelled (its cause says why). It returns the run as it ended; the
// caller records it.
func (d *Deployer) executeJob(ctx context.Context, live store.Release, job spec.Job, run store.JobRun) store.JobRun {
	run = d.execJob(ctx, live, job, run)
	if run.Status == store.JobTimedOut {
		run.Error = fmt.Sprintf("still running after its timeout of %s: stopped", job.Timeout.D())
	}
	return run
}

func (d *Deployer) execJob(ctx context.Context, live store.Release, job spec.Job, run store.JobRun) store.JobRun {
	run.ExitCode = -1
	end := func(status store.JobRunStatus, msg string) store.JobRun {
		run.Status, run.Error, run.EndedAt = status, msg, d.now()
		return run
	}
	cs, err := d.oneOffSpecOf(ctx, live, job.Service, job.Command)
	if err != nil {
		return end(store.JobFailed, "could not start: "+err.Error())
	}
	cs.Name = strings.Replace(cs.Name, "-run-", "-job-"+job.Name+"-", 1)
	cs.Labels[LabelJob] = job.Name
	cs.Labels[LabelJobRun] = strconv.FormatInt(run.ID, 10)
	ctx, cancel := context.WithTimeoutCause(ctx, job.Timeout.D(), errJobTimeout)
	defer cancel()
	c, err := d.eng.CreateContainer(ctx, cs)
	if c.ID != "" {
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
			defer cancel()
			if ctx.Err() != nil { // stopped early: its stop signal first, as docker stop does
				_ = d.eng.StopContainer(rctx, c.ID, cs.StopGrace)
			}
			_ = d.eng.RemoveContainer(rctx, c.ID)
		}()
	}
	run.Container = cs.Name
	if err != nil {
		return d.endedEarly(ctx, end, "could not start: "+err.Error())
	}
	var tail []string
	rc, err := d.eng.Logs(ctx, c.ID, engine.LogOptions{Follow: true})
	if err != nil {
		return d.endedEarly(ctx, end, "could not read its output: "+err.Error())
	}
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if tail = append(tail, sc.Text()); len(tail) > store.MaxJobLogLines {
			tail = tail[1:]
		}
	}
	rc.Close()
	run.Log = tail
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ci, err := d.eng.InspectContainer(ctx, c.ID)
		if err == nil && (ci.State == engine.StateExited || ci.State == engine.StateDead) {
			run.ExitCode = ci.ExitCode
			switch {
			case ci.OOMKilled:
				return end(store.JobFailed, fmt.Sprintf("killed for running out of memory (exit code %d)", ci.ExitCode))
			case ci.ExitCode != 0:
				return end(store.JobFailed, fmt.Sprintf("exited with code %d", ci.ExitCode))
			}
			return end(store.JobSucceeded, "")
		}
		if ctx.Err() == nil && err != nil {
			return end(store.JobFailed, "lost its container: "+err.Error())
		}
		if ctx.Err() != nil {
			return d.endedEarly(ctx, end, "")
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// endedEarly ends a run whose context may be done: timed out, replaced
// or interrupted, by its cause; else failed with msg.
func (d *Deployer) endedEarly(ctx context.Context, end func(store.JobRunStatus, string) store.JobRun, msg string) store.JobRun {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errJobTimeout):
		return end(store.JobTimedOut, "")
	case errors.Is(cause, errJobReplaced):
		return end(store.JobReplaced, cause.Error())
	case errors.Is(cause, errJobShutdown):
		return end(store.JobInterrupted, cause.Error())
	case cause != nil:
		return end(store.JobInterrupted, cause.Error())
	}
	return end(store.JobFailed, msg)
}
