package deploy

import (
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

// JobKey names one scheduled job of an app environment.
type JobKey struct {
	App, Env, Name string
}

func (k JobKey) String() string { return k.App + "/" + k.Env + " job " + k.Name }

// Schedule is a parsed cron schedule (robfig/cron's Schedule).
type Schedule interface {
	// Next returns the first activation time strictly after t, or the
	// zero time when there is none.
	Next(t time.Time) time.Time
}

// JobState is what the scheduler knows of one job of a live release
// when it plans.
type JobState struct {
	Key         JobKey
	Schedule    Schedule
	Concurrency string // spec.ConcurrencyForbid, Allow or Replace
	// Last is the latest slot of the schedule already handled (run or
	// skipped); zero when the job was never armed.
	Last time.Time
	// Running counts the job's runs still going.
	Running int
}

// JobAction is what a plan does with a job.
type JobAction int

const (
	// JobArm records now as the job's last slot: a new job waits for its
	// first slot after it appeared, it does not run at once.
	JobArm JobAction = iota + 1
	// JobStart starts a run.
	JobStart
	// JobReplace stops the running runs, then starts one.
	JobReplace
	// JobSkip records the slot without running it: a run is still going
	// and the job forbids another.
	JobSkip
)

func (a JobAction) String() string {
	switch a {
	case JobArm:
		return "arm"
	case JobStart:
		return "start"
	case JobReplace:
		return "replace"
	case JobSkip:
		return "skip"
	}
	return fmt.Sprintf("JobAction(%d)", int(a))
}

// JobDecision is one job's due action.
type JobDecision struct {
	Key    JobKey
	Action JobAction
	// Slot is the schedule time the action is for (now for JobArm); it
	// becomes the job's Last.
	Slot time.Time
	// Missed counts the slots before Slot that were due and not run
	// (berth was not running, or a long tick); First is the earliest of
	// them (or Slot when Missed is 0).
	Missed int
	First  time.Time
	// Late says the run stands for more than one slot, or starts more
	// than the grace after its slot: a catch-up run, once for the slots
	// missed while berth was down, not one per slot.
	Late bool
}

// maxCountedSlots bounds the slots counted when catching up (a
// per-minute job after a month down is 43200 of them).
// The plan then stands at now rather than at the last slot counted.
const maxCountedSlots = 100_000

// PlanJobs decides, with no I/O, what each job does at now: arm a job
// seen for the first time, nothing while its next slot is ahead, else
// one action for the latest due slot, however many are due (a missed run
// runs once), shaped by its concurrency when a run is going. grace is
// how late a run may start and still be on time. wake is the earliest
// next slot of any job (zero when none has one).
func PlanJobs(jobs []JobState, now time.Time, grace time.Duration) (out []JobDecision, wake time.Time) {
	earliest := func(t time.Time) {
		if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	for _, j := range jobs {
		if j.Schedule == nil {
			continue
		}
		if j.Last.IsZero() {
			out = append(out, JobDecision{Key: j.Key, Action: JobArm, Slot: now, First: now})
			earliest(j.Schedule.Next(now))
			continue
		}
		next := j.Schedule.Next(j.Last)
		if next.IsZero() || next.After(now) {
			earliest(next)
			continue
		}
		first, latest, count := next, next, 1
		for n := j.Schedule.Next(latest); !n.IsZero() && !n.After(now); n = j.Schedule.Next(latest) {
			latest = n
			if count++; count >= maxCountedSlots {
				latest = now // the real latest slot is between here and now; now is past it
				break
			}
		}
		d := JobDecision{Key: j.Key, Action: JobStart, Slot: latest, First: first, Missed: count - 1, Late: count > 1 || now.Sub(first) > grace}
		if j.Running > 0 {
			switch j.Concurrency {
			case spec.ConcurrencyAllow:
			case spec.ConcurrencyReplace:
				d.Action = JobReplace
			default:
				d.Action = JobSkip
			}
		}
		out = append(out, d)
		earliest(j.Schedule.Next(latest))
	}
	return out, wake
}

// Note says, for a run's record, why a decision ran late, or "".
func (d JobDecision) Note(now time.Time) string {
	if !d.Late {
		return ""
	}
	at := func(t time.Time) string { return t.UTC().Format(time.DateTime + "Z") }
	if d.Missed == 0 {
		return fmt.Sprintf("due at %s, when berth was not running: ran %s late", at(d.First), now.Sub(d.First).Round(time.Second))
	}
	due := fmt.Sprintf("%d runs were", d.Missed+1)
	if d.Missed+1 >= maxCountedSlots {
		due = fmt.Sprintf("at least %d runs were", d.Missed+1)
	}
	return fmt.Sprintf("%s due from %s to %s while berth was not running: ran once now, not once per missed slot", due, at(d.First), at(d.Slot))
}
