package dto

import "time"

// Job is one scheduled job of an app environment's live release
// (x-berth.jobs), with its next and last runs.
type Job struct {
	Name        string   `json:"name"`
	Service     string   `json:"service"`
	Schedule    string   `json:"schedule"`
	Timezone    string   `json:"timezone,omitempty"`
	Command     []string `json:"command,omitempty"`
	Timeout     string   `json:"timeout"`
	Concurrency string   `json:"concurrency"`
	// Release is the live release the job's next run is built from.
	Release int64 `json:"release"`
	// Next is the next time its schedule is due (absent when never).
	Next *time.Time `json:"next,omitempty"`
	// Running counts its runs going now.
	Running int `json:"running"`
	// Skipped counts the slots skipped in a row because a run was still
	// going (concurrency: forbid), SkippedAt the latest.
	Skipped   int        `json:"skipped,omitempty"`
	SkippedAt *time.Time `json:"skipped_at,omitempty"`
	// Last is its latest run, absent when it never ran.
	Last *JobRun `json:"last,omitempty"`
}

// JobRun is one run of a scheduled job.
type JobRun struct {
	ID      int64  `json:"id"`
	Job     string `json:"job"`
	Service string `json:"service"`
	Release int64  `json:"release"`
	// Trigger is "schedule" or "manual" (berth jobs run).
	Trigger   string     `json:"trigger"`
	Slot      *time.Time `json:"slot,omitempty"`
	CreatedBy string     `json:"created_by,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// Status is running, succeeded, failed, timed_out, replaced or
	// interrupted.
	Status string `json:"status"`
	// ExitCode is -1 until the command exited (and when it was stopped).
	ExitCode int `json:"exit_code"`
	// DurationMS is how long it ran (so far, when running).
	DurationMS int64  `json:"duration_ms"`
	Container  string `json:"container,omitempty"`
	Error      string `json:"error,omitempty"`
	// Note says why a scheduled run ran late: the slots missed while
	// berth was not running, run once.
	Note string `json:"note,omitempty"`
	// Log is the run's last output lines.
	Log []string `json:"log,omitempty"`
}
