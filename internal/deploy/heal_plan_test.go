package deploy

import (
	"testing"
	"time"
)

func TestPlanHeal_Decides(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	ok := func(i int) healMember { return healMember{ID: "c" + string(rune('0'+i)), Index: i} }
	failing := func(i int, since time.Duration) healMember {
		m := ok(i)
		m.Failing, m.Why, m.Since = true, "out of rotation", t0.Add(-since)
		return m
	}
	gone := func(i int) healMember {
		m := failing(i, 0)
		m.Gone, m.Why = true, "exited with code 1"
		return m
	}
	svc := func(desired int, ms ...healMember) healService {
		return healService{Name: "web", Desired: desired, ReplaceAfter: 30 * time.Second, Members: ms}
	}
	tests := []struct {
		name       string
		svc        healService
		replace    []int // indexes replaced
		start      []int
		allFailing bool
		waitUntil  time.Duration // from t0; 0: no wait
		noAction   bool
	}{
		{name: "whole", svc: svc(2, ok(1), ok(2)), noAction: true},
		{name: "a removed replica starts at once", svc: svc(2, ok(1)), start: []int{2}},
		{name: "a gone container is replaced at once", svc: svc(2, ok(1), gone(2)), replace: []int{2}},
		{name: "a failing one waits for replace_after", svc: svc(2, ok(1), failing(2, 10*time.Second)), noAction: true, waitUntil: 20 * time.Second},
		{name: "a failing one past replace_after is replaced", svc: svc(2, ok(1), failing(2, 30*time.Second)), replace: []int{2}},
		{name: "several due, one works: all are replaced", svc: svc(3, ok(1), gone(2), failing(3, time.Minute)), replace: []int{2, 3}},
		{name: "all failing: the first to fail, alone", svc: svc(3, failing(1, 40*time.Second), failing(2, 2*time.Minute), failing(3, time.Minute)), replace: []int{2}, allFailing: true},
		{name: "all gone: one missing first", svc: svc(2), start: []int{1}, allFailing: true},
		{name: "surplus is not healing's", svc: svc(1, ok(1), ok(2)), noAction: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := planHeal([]healService{tt.svc}, t0)
			if tt.noAction {
				if len(d.Actions) != 0 {
					t.Fatalf("actions = %+v, want none", d.Actions)
				}
				if tt.waitUntil > 0 && (len(d.Waits) != 1 || !d.Waits[0].Until.Equal(t0.Add(tt.waitUntil))) {
					t.Fatalf("waits = %+v, want one until t0+%s", d.Waits, tt.waitUntil)
				}
				return
			}
			if len(d.Actions) != 1 {
				t.Fatalf("actions = %+v, want one", d.Actions)
			}
			a := d.Actions[0]
			var got []int
			for _, m := range a.Replace {
				got = append(got, m.Index)
			}
			if !equalInts(got, tt.replace) || !equalInts(a.Start, tt.start) || a.AllFailing != tt.allFailing {
				t.Fatalf("action = replace %v start %v all-failing %v, want %v %v %v", got, a.Start, a.AllFailing, tt.replace, tt.start, tt.allFailing)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPlanHeal_BackoffDoublesToFiveMinutes(t *testing.T) {
	var b healBackoff
	var delays []time.Duration
	for range 8 {
		delays = append(delays, b.delay())
		b.Attempts++
	}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays = %v, want %v", delays, want)
		}
	}
}

func TestPlanHeal_WaitsForItsBackoff(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	s := healService{Name: "web", Desired: 2, ReplaceAfter: 30 * time.Second,
		Members: []healMember{{ID: "a", Index: 1}, {ID: "b", Index: 2, Failing: true, Gone: true, Since: t0}},
		Backoff: map[int]healBackoff{2: {Attempts: 2, Last: t0.Add(-5 * time.Second)}, 1: {Attempts: 5, Last: t0}}}
	d := planHeal([]healService{s}, t0)
	if len(d.Actions) != 0 || len(d.Waits) != 1 || !d.Waits[0].Until.Equal(t0.Add(15*time.Second)) {
		t.Fatalf("decision = %+v, want a wait until t0+15s (20s after the last)", d)
	}
	d = planHeal([]healService{s}, t0.Add(15*time.Second))
	if len(d.Actions) != 1 {
		t.Fatalf("decision at t0+15s = %+v, want the replacement", d)
	}
	// Another slot's backoff does not hold a replica that was removed.
	s.Members = s.Members[1:]
	s.Members[0].Gone = false
	s.Members[0].Failing = false
	d = planHeal([]healService{s}, t0)
	if len(d.Actions) != 0 || len(d.Waits) != 1 {
		t.Fatalf("slot 1 in backoff: %+v, want a wait", d)
	}
	s.Backoff[1] = healBackoff{}
	d = planHeal([]healService{s}, t0)
	if len(d.Actions) != 1 || !equalInts(d.Actions[0].Start, []int{1}) {
		t.Fatalf("slot 1 free: %+v, want it started", d)
	}
}

func TestHealBackoff_ResetsOnceWholeForAWhile(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	b := healBackoff{}.afterHeal(true, false, t0)
	b = b.afterHeal(true, false, t0.Add(10*time.Second))
	if b.Attempts != 2 {
		t.Fatalf("attempts = %d, want 2", b.Attempts)
	}
	b = b.afterHeal(false, true, t0.Add(20*time.Second))
	b = b.afterHeal(false, true, t0.Add(20*time.Second+healBackoffReset-time.Second))
	if b.Attempts != 2 {
		t.Fatalf("attempts = %d before the reset time, want 2", b.Attempts)
	}
	b = b.afterHeal(false, false, t0.Add(20*time.Second+healBackoffReset-time.Millisecond)) // broke again
	b = b.afterHeal(false, true, t0.Add(21*time.Second+healBackoffReset))
	if b.Attempts != 2 {
		t.Fatalf("attempts = %d: the whole period restarted when it broke, want 2", b.Attempts)
	}
	b = b.afterHeal(false, true, t0.Add(21*time.Second+2*healBackoffReset))
	if b.Attempts != 0 {
		t.Fatalf("attempts = %d after being whole for %s, want 0", b.Attempts, healBackoffReset)
	}
}
