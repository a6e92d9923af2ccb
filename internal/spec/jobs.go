package spec

import (
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones of x-berth.jobs on a host without a zoneinfo database

	"github.com/robfig/cron/v3"
)

// Concurrency policies of a job: what a due run does while an earlier
// run of the same job is still running.
const (
	// ConcurrencyForbid skips the due run (the default).
	ConcurrencyForbid = "forbid"
	// ConcurrencyAllow starts it beside the running one.
	ConcurrencyAllow = "allow"
	// ConcurrencyReplace stops the running one, then starts it.
	ConcurrencyReplace = "replace"
)

// DefaultJobTimeout bounds a job's run when x-berth.jobs sets no
// timeout: a run still going after it is stopped and reported.
const DefaultJobTimeout = time.Hour

// jobKeys are the keys of one job under a service's x-berth.jobs; a job
// of the top-level x-berth.jobs also names its service.
var (
	jobKeys    = []string{"command", "concurrency", "name", "schedule", "timeout", "timezone"}
	topJobKeys = []string{"command", "concurrency", "name", "schedule", "service", "timeout", "timezone"}
)

// Job is a command run on a schedule (x-berth.jobs) in a one-off
// container of its service, built as berth run builds one from the live
// release: its image, configuration, secrets, networks and volumes.
type Job struct {
	// Name is unique in the app.
	Name string `json:"name"`
	// Service is the service whose container the job runs as.
	Service string `json:"service"`
	// Schedule is a standard 5-field cron expression (minute hour
	// day-of-month month day-of-week) or a descriptor such as @daily or
	// @every 1h.
	Schedule string `json:"schedule"`
	// Timezone is the IANA time zone the schedule is read in; empty is
	// UTC.
	Timezone string `json:"timezone,omitempty"`
	// Command replaces the service's command; empty runs the service's.
	Command []string `json:"command,omitempty"`
	// Timeout stops a run still going after it.
	Timeout Duration `json:"timeout"`
	// Concurrency is ConcurrencyForbid, ConcurrencyAllow or
	// ConcurrencyReplace.
	Concurrency string `json:"concurrency"`

	// where the job was written, for messages: the service it is under
	// (empty at the top level) and its field ("x-berth.jobs[0]"). Not
	// stored: a job read back from JSON is named by its name.
	owner, field string
}

// ParseSchedule returns the job's schedule in its time zone.
func (j Job) ParseSchedule() (cron.Schedule, error) {
	s := strings.TrimSpace(j.Schedule)
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, fmt.Errorf("set the time zone with timezone:, not in the schedule")
	}
	return ParseCron(s, j.Timezone)
}

// Job returns the job with the given name.
func (a *App) Job(name string) (*Job, bool) {
	for i := range a.Jobs {
		if a.Jobs[i].Name == name {
			return &a.Jobs[i], true
		}
	}
	return nil, false
}

// parseJobs reads a list of jobs: under a service's x-berth (owner is
// the service) or at the top level (owner is empty, and each job names
// its service).
func parseJobs(c *collector, owner, field string, raw any) []Job {
	l, ok := raw.([]any)
	if !ok {
		c.add(owner, field, fmt.Sprintf("must be a list of jobs such as [{name: report, schedule: \"@daily\", command: [\"/app\", \"report\"]}], got %s", describe(raw)))
		return nil
	}
	var out []Job
	keys := jobKeys
	if owner == "" {
		keys = topJobKeys
	}
	for i, e := range l {
		f := fmt.Sprintf("%s[%d]", field, i)
		m, ok := parseMapping(c, owner, f, e, keys)
		if !ok {
			continue
		}
		j := Job{Service: owner, Concurrency: ConcurrencyForbid, Timeout: Duration(DefaultJobTimeout), owner: owner, field: f}
		for _, k := range sortedKeys(m) {
			v := m[k]
			kf := f + "." + k
			switch k {
			case "name", "schedule", "timezone", "service":
				s, ok := v.(string)
				if !ok {
					c.add(owner, kf, fmt.Sprintf("must be a string, got %s", describe(v)))
					continue
				}
				switch k {
				case "name":
					j.Name = s
				case "schedule":
					j.Schedule = s
				case "timezone":
					j.Timezone = s
				default:
					if owner != "" {
						c.add(owner, kf, "a job under a service runs as that service: remove service:, or move the job to the top-level x-berth.jobs")
						continue
					}
					j.Service = s
				}
			case "command":
				j.Command = parseCommand(c, owner, kf, v)
			case "timeout":
				if d, ok := parseDuration(c, owner, kf, v); ok {
					j.Timeout = d
				}
			case "concurrency":
				if s, ok := v.(string); ok {
					j.Concurrency = s
				} else {
					c.add(owner, kf, fmt.Sprintf("must be forbid, allow or replace, got %s", describe(v)))
				}
			default:
				c.add(owner, kf, unknownKey(k, keys))
			}
		}
		out = append(out, j)
	}
	return out
}

// sortJobs orders the jobs by name (validation reports duplicates).
func sortJobs(a *App) {
	slices.SortStableFunc(a.Jobs, func(x, y Job) int { return strings.Compare(x.Name, y.Name) })
}

// validateJobs checks every job: a valid name, unique in the app, an
// existing service, a schedule and time zone that parse, a positive
// timeout and a known concurrency policy.
func validateJobs(c *collector, a *App) {
	names := map[string]string{}
	for i := range a.Jobs {
		j := &a.Jobs[i]
		owner, f := j.owner, j.field
		if f == "" {
			owner, f = j.Service, "x-berth.jobs."+j.Name
		}
		if j.Name == "" {
			c.add(owner, f+".name", "required: give the job a name (lowercase letters, digits and '-'), e.g. name: nightly-report")
		} else if msg := checkJobName(j.Name); msg != "" {
			c.add(owner, f+".name", msg)
		} else if other, dup := names[j.Name]; dup {
			c.add(owner, f+".name", fmt.Sprintf("job %s is also defined at %s; job names must be unique in the app", quote(j.Name), other))
		} else {
			where := f
			if owner != "" {
				where = fmt.Sprintf("service %s %s", quote(owner), f)
			}
			names[j.Name] = where
		}
		switch {
		case j.Service == "":
			c.add(owner, f+".service", "required: name the service whose image and configuration the job runs with")
		default:
			if _, ok := a.Service(j.Service); !ok {
				c.add(owner, f+".service", fmt.Sprintf("no service %s in this app", quote(j.Service)))
			}
		}
		if strings.TrimSpace(j.Schedule) == "" {
			c.add(owner, f+".schedule", "required: give a cron expression such as \"0 3 * * *\" (03:00 every day) or a descriptor such as @hourly")
		} else if s := strings.TrimSpace(j.Schedule); strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
			c.add(owner, f+".schedule", fmt.Sprintf("%s: set the time zone with timezone:, not in the schedule", quote(j.Schedule)))
		} else if _, err := (Job{Schedule: j.Schedule}).ParseSchedule(); err != nil {
			c.add(owner, f+".schedule", fmt.Sprintf("%v, or a descriptor: @yearly, @monthly, @weekly, @daily, @hourly, @every DURATION", err))
		}
		if j.Timezone != "" {
			if _, err := time.LoadLocation(j.Timezone); err != nil {
				c.add(owner, f+".timezone", fmt.Sprintf("unknown time zone %s: give an IANA name such as \"Europe/Lisbon\" or \"UTC\"", quote(j.Timezone)))
			}
		}
		if j.Timeout <= 0 {
			c.add(owner, f+".timeout", fmt.Sprintf("must be greater than 0, got %s", j.Timeout.D()))
		}
		switch j.Concurrency {
		case ConcurrencyForbid, ConcurrencyAllow, ConcurrencyReplace:
		default:
			c.add(owner, f+".concurrency", fmt.Sprintf("must be forbid (skip a run while one is running), allow or replace (stop the running one), got %s", quote(j.Concurrency)))
		}
	}
}

// checkJobName returns what is wrong with a job name, or "".
func checkJobName(name string) string {
	if checkAppName(name) == "" {
		return ""
	}
	return fmt.Sprintf("%s is not a valid job name: use lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most %d characters", quote(name), MaxNameLength)
}
