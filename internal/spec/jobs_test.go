package spec

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestJob_ParseScheduleReadsItsTimezone(t *testing.T) {
	t.Parallel()
	lisbon, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC) // summer: Lisbon is UTC+1
	for _, tc := range []struct {
		job  Job
		want time.Time
	}{
		{Job{Schedule: "0 3 * * *"}, time.Date(2026, 7, 2, 3, 0, 0, 0, time.UTC)},
		{Job{Schedule: "0 3 * * *", Timezone: "Europe/Lisbon"}, time.Date(2026, 7, 2, 3, 0, 0, 0, lisbon)},
		{Job{Schedule: "@hourly"}, time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC)},
		{Job{Schedule: "@every 90s"}, from.Add(90 * time.Second)},
		{Job{Schedule: "*/15 * * * 1-5"}, time.Date(2026, 7, 1, 12, 15, 0, 0, time.UTC)},
	} {
		s, err := tc.job.ParseSchedule()
		if err != nil {
			t.Errorf("%+v: %v", tc.job, err)
			continue
		}
		if got := s.Next(from); !got.Equal(tc.want) {
			t.Errorf("%s in %q: next after %s is %s, want %s", tc.job.Schedule, tc.job.Timezone, from, got, tc.want)
		}
	}
	for _, bad := range []string{"0 3 * *", "0 0 3 * * *", "@sometimes", "CRON_TZ=UTC 0 3 * * *"} {
		if _, err := (Job{Schedule: bad}).ParseSchedule(); err == nil {
			t.Errorf("%q parsed, want an error", bad)
		}
	}
}

func TestApp_ValidateChecksJobsReadFromJSON(t *testing.T) {
	t.Parallel()
	app := App{Name: "shop", Services: []Service{{Name: "web", Image: "x", Replicas: 1}}}
	applyDefaults(&app.Services[0])
	app.Jobs = []Job{
		{Name: "ok", Service: "web", Schedule: "@daily", Timeout: Duration(time.Minute), Concurrency: ConcurrencyForbid},
		{Name: "ok", Service: "web", Schedule: "@daily", Timeout: Duration(time.Minute), Concurrency: ConcurrencyAllow},
		{Name: "bad", Service: "db", Schedule: "61 * * * *", Concurrency: "often"},
	}
	b, _ := json.Marshal(app)
	var back App
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	err := back.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad jobs")
	}
	for _, want := range []string{
		`service "db": x-berth.jobs.bad.service: no service "db"`,
		`x-berth.jobs.bad.schedule: "61 * * * *" is not a cron expression`,
		`x-berth.jobs.bad.timeout: must be greater than 0`,
		`x-berth.jobs.bad.concurrency: must be forbid`,
		`service "web": x-berth.jobs.ok.name: job "ok" is also defined`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}
