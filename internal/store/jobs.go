package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Scheduled jobs (x-berth.jobs): per app environment, a bucket per job
// holding its schedule state (the last slot handled) and its runs, the
// newest MaxJobRuns of them.

var (
	bucketJobs    = []byte("jobs")
	bucketJobRuns = []byte("runs")
	keyJobState   = []byte("state")
)

// MaxJobRuns is how many runs each job keeps; older ones are dropped as
// new ones start.
const MaxJobRuns = 100

// MaxJobLogLines is how many of a run's last output lines are kept.
const MaxJobLogLines = 50

// JobRunStatus is where a job run is.
type JobRunStatus string

// Job run statuses. Every status but JobRunning is final.
const (
	JobRunning   JobRunStatus = "running"
	JobSucceeded JobRunStatus = "succeeded" // exited 0
	JobFailed    JobRunStatus = "failed"    // exited non-zero, or could not start
	JobTimedOut  JobRunStatus = "timed_out" // stopped at its timeout
	JobReplaced  JobRunStatus = "replaced"  // stopped for a newer run (concurrency: replace)
	// JobInterrupted: berth stopped while it ran; its container was
	// stopped with berth, or found running at the next start and stopped.
	JobInterrupted JobRunStatus = "interrupted"
)

// Triggers of a job run.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// JobRun is one run of a scheduled job.
type JobRun struct {
	ID      int64  `json:"id"`
	Job     string `json:"job"`
	Service string `json:"service"`
	// Release is the live release the run's container was built from.
	Release int64  `json:"release"`
	Trigger string `json:"trigger"`
	// Slot is the schedule time the run is for (scheduled runs).
	Slot      time.Time    `json:"slot,omitzero"`
	CreatedBy string       `json:"created_by,omitempty"` // manual runs
	StartedAt time.Time    `json:"started_at"`
	EndedAt   time.Time    `json:"ended_at,omitzero"`
	Status    JobRunStatus `json:"status"`
	// ExitCode is the command's exit code once it ended (-1 when it
	// never started or was stopped before it exited).
	ExitCode  int    `json:"exit_code"`
	Container string `json:"container,omitempty"`
	// Error says why the run failed or was stopped, in words.
	Error string `json:"error,omitempty"`
	// Note says why a scheduled run ran late (missed slots).
	Note string `json:"note,omitempty"`
	// Log is the run's last output lines, at most MaxJobLogLines.
	Log []string `json:"log,omitempty"`
}

// Duration is how long the run took (so far, for a running one).
func (r JobRun) Duration(now time.Time) time.Duration {
	end := r.EndedAt
	if end.IsZero() {
		end = now
	}
	return end.Sub(r.StartedAt)
}

// JobState is what the scheduler keeps of a job between runs.
type JobState struct {
	// Last is the latest schedule slot handled (run or skipped).
	Last time.Time `json:"last"`
	// Skipped counts the slots skipped in a row because a run was still
	// going (concurrency: forbid); SkippedAt is the latest.
	Skipped   int       `json:"skipped,omitempty"`
	SkippedAt time.Time `json:"skipped_at,omitzero"`
}

// jobBucket returns app/env's bucket of job, created when create is set
// (nil when absent otherwise).
func jobBucket(tx *bolt.Tx, app, env, job string, create bool) (*bolt.Bucket, error) {
	if job == "" {
		return nil, fmt.Errorf("job name is empty")
	}
	eb, err := envBucket(tx, app, env)
	if err != nil {
		return nil, err
	}
	if !create {
		if jb := eb.Bucket(bucketJobs); jb != nil {
			return jb.Bucket([]byte(job)), nil
		}
		return nil, nil
	}
	jb, err := eb.CreateBucketIfNotExists(bucketJobs)
	if err != nil {
		return nil, err
	}
	return jb.CreateBucketIfNotExists([]byte(job))
}

// GetJobState returns the schedule state of app/env's job; the zero
// state when it was never armed.
func (s *Store) GetJobState(app, env, job string) (JobState, error) {
	var st JobState
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := jobBucket(tx, app, env, job, false)
		if err != nil || b == nil {
			return err
		}
		return getJSON(b, keyJobState, &st)
	})
	return st, err
}

// SetJobState records the schedule state of app/env's job.
func (s *Store) SetJobState(app, env, job string, st JobState) error {
	return s.update(func(tx *bolt.Tx) error {
		b, err := jobBucket(tx, app, env, job, true)
		if err != nil {
			return err
		}
		return putJSON(b, keyJobState, st)
	})
}

// StartJobRun records a new run of app/env's job (r.Job), giving it the
// next ID, and drops the oldest runs beyond MaxJobRuns.
func (s *Store) StartJobRun(app, env string, r JobRun) (JobRun, error) {
	if r.StartedAt.IsZero() {
		r.StartedAt = s.now()
	}
	if r.Status == "" {
		r.Status = JobRunning
	}
	err := s.update(func(tx *bolt.Tx) error {
		jb, err := jobBucket(tx, app, env, r.Job, true)
		if err != nil {
			return err
		}
		b, err := jb.CreateBucketIfNotExists(bucketJobRuns)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		r.ID = int64(seq)
		if err := putJSON(b, itob(r.ID), r); err != nil {
			return err
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil && btoi(k) <= r.ID-MaxJobRuns; k, _ = c.First() {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return r, err
}

// UpdateJobRun rewrites a run (its end, status, log); a run dropped in
// the meantime is not written back.
func (s *Store) UpdateJobRun(app, env string, r JobRun) error {
	if len(r.Log) > MaxJobLogLines {
		r.Log = r.Log[len(r.Log)-MaxJobLogLines:]
	}
	return s.update(func(tx *bolt.Tx) error {
		jb, err := jobBucket(tx, app, env, r.Job, false)
		if err != nil {
			return err
		}
		if jb == nil || jb.Bucket(bucketJobRuns) == nil || jb.Bucket(bucketJobRuns).Get(itob(r.ID)) == nil {
			return fmt.Errorf("run %d of job %q of %s/%s: %w", r.ID, r.Job, app, env, ErrNotFound)
		}
		return putJSON(jb.Bucket(bucketJobRuns), itob(r.ID), r)
	})
}

// ListJobRuns returns the runs of app/env's job, newest first, at most
// limit (0: all kept).
func (s *Store) ListJobRuns(app, env, job string, limit int) ([]JobRun, error) {
	out := []JobRun{}
	err := s.db.View(func(tx *bolt.Tx) error {
		jb, err := jobBucket(tx, app, env, job, false)
		if err != nil || jb == nil {
			return err
		}
		b := jb.Bucket(bucketJobRuns)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var r JobRun
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("run %d of job %q: %w", btoi(k), job, err)
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// GetJobRun returns run id of app/env's job, wrapping ErrNotFound.
func (s *Store) GetJobRun(app, env, job string, id int64) (JobRun, error) {
	var r JobRun
	err := s.db.View(func(tx *bolt.Tx) error {
		jb, err := jobBucket(tx, app, env, job, false)
		if err != nil {
			return err
		}
		var v []byte
		if jb != nil && jb.Bucket(bucketJobRuns) != nil {
			v = jb.Bucket(bucketJobRuns).Get(itob(id))
		}
		if v == nil {
			return fmt.Errorf("run %d of job %q of %s/%s: %w", id, job, app, env, ErrNotFound)
		}
		return json.Unmarshal(v, &r)
	})
	return r, err
}

// RunningJobRun is a run recorded as running, with where it is.
type RunningJobRun struct {
	App, Env string
	Run      JobRun
}

// RunningJobRuns lists every run recorded as running, in every app
// environment: at start, the runs a previous berth left.
func (s *Store) RunningJobRuns() ([]RunningJobRun, error) {
	var out []RunningJobRun
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApps).ForEachBucket(func(app []byte) error {
			envs := tx.Bucket(bucketApps).Bucket(app).Bucket(bucketEnvs)
			if envs == nil {
				return nil
			}
			return envs.ForEachBucket(func(env []byte) error {
				jobs := envs.Bucket(env).Bucket(bucketJobs)
				if jobs == nil {
					return nil
				}
				return jobs.ForEachBucket(func(job []byte) error {
					runs := jobs.Bucket(job).Bucket(bucketJobRuns)
					if runs == nil {
						return nil
					}
					return runs.ForEach(func(k, v []byte) error {
						var r JobRun
						if err := json.Unmarshal(v, &r); err != nil {
							return fmt.Errorf("run %d of job %q of %s/%s: %w", btoi(k), job, app, env, err)
						}
						if r.Status == JobRunning {
							out = append(out, RunningJobRun{App: string(app), Env: string(env), Run: r})
						}
						return nil
					})
				})
			})
		})
	})
	return out, err
}

// LiveReleaseIDs returns the live release ID of every app environment
// that has one, by "app/env", in one read: the scheduler checks it each
// tick and reads a release only when it changed.
func (s *Store) LiveReleaseIDs() (map[[2]string]int64, error) {
	out := map[[2]string]int64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApps).ForEachBucket(func(app []byte) error {
			envs := tx.Bucket(bucketApps).Bucket(app).Bucket(bucketEnvs)
			if envs == nil {
				return nil
			}
			return envs.ForEachBucket(func(env []byte) error {
				if v := envs.Bucket(env).Get(keyLive); v != nil {
					out[[2]string{string(app), string(env)}] = btoi(v)
				}
				return nil
			})
		})
	})
	return out, err
}
