package deploy

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

func mustSchedule(t *testing.T, expr string) Schedule {
	t.Helper()
	s, err := spec.Job{Schedule: expr}.ParseSchedule()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPlanJobs_DecidesWhatIsDue(t *testing.T) {
	t.Parallel()
	at := func(h, m, s int) time.Time { return time.Date(2026, 12, 4, h, m, s, 0, time.UTC) }
	key := JobKey{App: "shop", Env: "production", Name: "report"}
	grace := 10 * time.Second
	for _, tc := range []struct {
		name     string
		expr     string
		conc     string
		last     time.Time
		running  int
		now      time.Time
		want     []JobDecision // Key filled in below
		wantWake time.Time
	}{
		{name: "a new job is armed, not run", expr: "* * * * *", now: at(12, 0, 30),
			want: []JobDecision{{Action: JobArm, Slot: at(12, 0, 30), First: at(12, 0, 30)}}, wantWake: at(12, 1, 0)},
		{name: "nothing before the next slot", expr: "* * * * *", last: at(12, 0, 0), now: at(12, 0, 59), wantWake: at(12, 1, 0)},
		{name: "due on time", expr: "* * * * *", last: at(12, 0, 0), now: at(12, 1, 1),
			want: []JobDecision{{Action: JobStart, Slot: at(12, 1, 0), First: at(12, 1, 0)}}, wantWake: at(12, 2, 0)},
		{name: "one slot missed: late", expr: "0 * * * *", last: at(11, 0, 0), now: at(12, 20, 0),
			want: []JobDecision{{Action: JobStart, Slot: at(12, 0, 0), First: at(12, 0, 0), Late: true}}, wantWake: at(13, 0, 0)},
		{name: "many slots missed run once", expr: "*/5 * * * *", last: at(9, 0, 0), now: at(12, 2, 0),
			want: []JobDecision{{Action: JobStart, Slot: at(12, 0, 0), First: at(9, 5, 0), Missed: 35, Late: true}}, wantWake: at(12, 5, 0)},
		{name: "forbid skips while running", expr: "* * * * *", last: at(12, 0, 0), running: 1, now: at(12, 1, 0),
			want: []JobDecision{{Action: JobSkip, Slot: at(12, 1, 0), First: at(12, 1, 0)}}, wantWake: at(12, 2, 0)},
		{name: "allow starts beside", expr: "* * * * *", conc: spec.ConcurrencyAllow, last: at(12, 0, 0), running: 2, now: at(12, 1, 0),
			want: []JobDecision{{Action: JobStart, Slot: at(12, 1, 0), First: at(12, 1, 0)}}, wantWake: at(12, 2, 0)},
		{name: "replace stops the running one", expr: "* * * * *", conc: spec.ConcurrencyReplace, last: at(12, 0, 0), running: 1, now: at(12, 1, 0),
			want: []JobDecision{{Action: JobReplace, Slot: at(12, 1, 0), First: at(12, 1, 0)}}, wantWake: at(12, 2, 0)},
		{name: "replace with nothing running starts", expr: "* * * * *", conc: spec.ConcurrencyReplace, last: at(12, 0, 0), now: at(12, 1, 0),
			want: []JobDecision{{Action: JobStart, Slot: at(12, 1, 0), First: at(12, 1, 0)}}, wantWake: at(12, 2, 0)},
		{name: "descriptor", expr: "@daily", last: at(0, 0, 0), now: at(12, 0, 0), wantWake: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)},
		{name: "every", expr: "@every 30s", last: at(12, 0, 0), now: at(12, 0, 31),
			want: []JobDecision{{Action: JobStart, Slot: at(12, 0, 30), First: at(12, 0, 30)}}, wantWake: at(12, 1, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conc := tc.conc
			if conc == "" {
				conc = spec.ConcurrencyForbid
			}
			got, wake := PlanJobs([]JobState{{Key: key, Schedule: mustSchedule(t, tc.expr), Concurrency: conc, Last: tc.last, Running: tc.running}}, tc.now, grace)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				tc.want[i].Key = key
				if got[i] != tc.want[i] {
					t.Errorf("decision %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if !wake.Equal(tc.wantWake) {
				t.Errorf("wake %s, want %s", wake, tc.wantWake)
			}
		})
	}
}

func TestPlanJobs_WakesAtTheEarliestJob(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 12, 0, 30, 0, time.UTC)
	jobs := []JobState{
		{Key: JobKey{Name: "hourly"}, Schedule: mustSchedule(t, "@hourly"), Last: now.Add(-30 * time.Second)},
		{Key: JobKey{Name: "minutely"}, Schedule: mustSchedule(t, "* * * * *"), Last: now.Add(-30 * time.Second)},
		{Key: JobKey{Name: "none"}},
	}
	got, wake := PlanJobs(jobs, now, time.Second)
	if len(got) != 0 {
		t.Errorf("nothing is due, got %+v", got)
	}
	if want := now.Add(30 * time.Second); !wake.Equal(want) {
		t.Errorf("wake %s, want %s", wake, want)
	}
}

func TestPlanJobs_CatchUpIsBoundedAndSaysSo(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	got, _ := PlanJobs([]JobState{{Key: JobKey{Name: "x"}, Schedule: mustSchedule(t, "* * * * *"), Last: now.AddDate(-1, 0, 0)}}, now, time.Second)
	if len(got) != 1 || got[0].Action != JobStart || !got[0].Late {
		t.Fatalf("got %+v, want one late start", got)
	}
	if !got[0].Slot.Equal(now) {
		t.Errorf("a bounded catch-up stands at %s, want now (%s), so the next plan does not catch up again", got[0].Slot, now)
	}
	if got[0].Missed+1 != maxCountedSlots {
		t.Errorf("counted %d slots, want the bound %d", got[0].Missed+1, maxCountedSlots)
	}
	if n := got[0].Note(now); !strings.Contains(n, "at least 100000 runs were due") || !strings.Contains(n, "ran once now") {
		t.Errorf("note %q", n)
	}
	one := JobDecision{Late: true, First: now.Add(-90 * time.Second), Slot: now.Add(-90 * time.Second)}
	if n := one.Note(now); !strings.Contains(n, "ran 1m30s late") {
		t.Errorf("note %q", n)
	}
	if n := (JobDecision{}).Note(now); n != "" {
		t.Errorf("an on-time run has note %q", n)
	}
}
