package autoscale

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

var t0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func policy() spec.Autoscale {
	return spec.Autoscale{Min: 2, Max: 10, TargetRPS: 50, ScaleOutWindow: spec.Duration(15 * time.Second),
		ScaleInCooldown: spec.Duration(5 * time.Minute), ScaleInStep: 0.5}
}

// trace is a sample every 5 s from start to now with rps given by f.
func trace(start, now time.Time, f func(time.Time) float64) []Sample {
	var out []Sample
	for at := start; !at.After(now); at = at.Add(5 * time.Second) {
		out = append(out, Sample{At: at, RPS: f(at), Valid: true})
	}
	return out
}

func constant(rps float64) func(time.Time) float64 { return func(time.Time) float64 { return rps } }

func TestDecide_Cases(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	long := State{LastScale: t0}
	tests := []struct {
		name    string
		samples []Sample
		current int
		st      State
		want    int
	}{
		{"steady at the target", trace(t0, now, constant(200)), 4, long, 4},
		{"within the band", trace(t0, now, constant(215)), 4, long, 4},
		{"sustained breach scales out", trace(t0, now, constant(400)), 4, long, 8},
		{"to at most max", trace(t0, now, constant(5000)), 4, long, 10},
		{"a short spike does not", trace(t0, now, func(at time.Time) float64 {
			if now.Sub(at) < 10*time.Second {
				return 400
			}
			return 200
		}), 4, long, 4},
		{"scale-out takes the smallest need of the window", trace(t0, now, func(at time.Time) float64 {
			if now.Sub(at) < 10*time.Second {
				return 500
			}
			return 300
		}), 4, long, 6},
		{"low load scales in by at most half", trace(t0, now, constant(10)), 8, long, 4},
		{"not below min", trace(t0, now, constant(0)), 3, long, 2},
		{"not within the cooldown of the last scale", trace(t0, now, constant(10)), 8, State{LastScale: now.Add(-time.Minute)}, 8},
		{"not while the window is not all low", trace(t0, now, func(at time.Time) float64 {
			if now.Sub(at) < 2*time.Minute {
				return 400
			}
			return 10
		}), 8, long, 8},
		{"no samples: nothing", nil, 4, long, 4},
		{"a count outside the bounds moves in", nil, 12, long, 10},
		{"an invalid sample holds", append(trace(t0, now.Add(-5*time.Second), constant(400)), Sample{At: now}), 4, long, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(policy(), tt.samples, tt.current, tt.st, now)
			if d.Replicas != tt.want {
				t.Fatalf("Decide = %d (%s), want %d", d.Replicas, d.Reason, tt.want)
			}
			if d.Replicas != tt.current && d.Reason == "" {
				t.Error("a change without a reason")
			}
		})
	}
}

func TestDecide_P95AndInFlightTargets(t *testing.T) {
	a := policy()
	a.TargetRPS, a.TargetP95, a.TargetInFlight = 0, spec.Duration(200*time.Millisecond), 4
	now := t0.Add(time.Minute)
	var s []Sample
	for at := t0; !at.After(now); at = at.Add(5 * time.Second) {
		s = append(s, Sample{At: at, P95: 400 * time.Millisecond, InFlight: 10, Valid: true})
	}
	if d := Decide(a, s, 3, State{}, now); d.Replicas != 6 {
		t.Fatalf("p95 twice the target on 3 replicas: %d (%s), want 6", d.Replicas, d.Reason)
	}
	for i := range s {
		s[i].P95 = 100 * time.Millisecond
		s[i].InFlight = 30
	}
	if d := Decide(a, s, 3, State{}, now); d.Replicas != 8 {
		t.Fatalf("30 in flight at 4 per replica: %d (%s), want 8", d.Replicas, d.Reason)
	}
}

// Properties over random traces: the count never leaves [min, max];
// more load never asks for fewer replicas; a constant load settles and
// stays (no flapping).
func TestDecide_Properties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a := policy()
	for range 300 {
		now := t0.Add(time.Duration(r.IntN(3600)) * time.Second)
		base := r.Float64() * 800
		noise := r.Float64() * 0.3
		f := func(time.Time) float64 { return base * (1 + noise*(r.Float64()*2-1)) }
		s := trace(now.Add(-10*time.Minute), now, f)
		current := 1 + r.IntN(12)
		d := Decide(a, s, current, State{LastScale: now.Add(-time.Hour)}, now)
		if d.Replicas < a.Min || d.Replicas > a.Max {
			t.Fatalf("Decide = %d outside [%d, %d]", d.Replicas, a.Min, a.Max)
		}
		more := make([]Sample, len(s))
		for i := range s {
			more[i] = s[i]
			more[i].RPS *= 1.5
		}
		if dm := Decide(a, more, current, State{LastScale: now.Add(-time.Hour)}, now); dm.Replicas < d.Replicas {
			t.Fatalf("more load asked for fewer replicas: %d < %d", dm.Replicas, d.Replicas)
		}
	}
	// A constant load with noise, followed for an hour, changes the count
	// at most twice (settling), never back and forth.
	for range 20 {
		base := 100 + r.Float64()*300
		current, st := 2, State{}
		var changes []int
		var hist []Sample
		for at := t0; at.Before(t0.Add(time.Hour)); at = at.Add(5 * time.Second) {
			hist = append(hist, Sample{At: at, RPS: base * (1 + 0.05*(r.Float64()*2-1)), Valid: true})
			if len(hist) > 200 {
				hist = hist[1:]
			}
			d := Decide(a, hist, current, st, at)
			if d.Replicas != current {
				changes = append(changes, d.Replicas-current)
				current, st.LastScale = d.Replicas, at
			}
		}
		for i := 1; i < len(changes); i++ {
			if (changes[i] > 0) != (changes[0] > 0) {
				t.Fatalf("load %.0f flapped: changes %v", base, changes)
			}
		}
		if len(changes) > 2 {
			t.Fatalf("load %.0f changed the count %d times: %v", base, len(changes), changes)
		}
	}
}

func TestBounds_SchedulesByTheClock(t *testing.T) {
	a := policy()
	a.Schedules = []spec.Schedule{
		{Cron: "0 10 * * *", Timezone: "Asia/Seoul", Min: 10, Max: 12, Replicas: 10},
		{Cron: "30 16 * * *", Timezone: "Asia/Seoul", Min: 6, Max: 8},
	}
	seoul, _ := time.LoadLocation("Asia/Seoul")
	at := func(h, m int) time.Time { return time.Date(2026, 12, 4, h, m, 0, 0, seoul) }
	tests := []struct {
		now      time.Time
		lo, hi   int
		replicas int
	}{
		{at(9, 59), 6, 8, 0},    // yesterday's 16:30 holds
		{at(10, 0), 10, 12, 10}, // the morning's fires
		{at(16, 29), 10, 12, 10},
		{at(16, 30), 6, 8, 0},
		{at(23, 0), 6, 8, 0},
	}
	for _, tt := range tests {
		lo, hi, fired, replicas := Bounds(a, tt.now)
		if lo != tt.lo || hi != tt.hi || replicas != tt.replicas || fired.After(tt.now) {
			t.Errorf("at %s: bounds %d-%d replicas %d fired %s, want %d-%d %d", tt.now.Format("15:04"), lo, hi, replicas, fired, tt.lo, tt.hi, tt.replicas)
		}
	}
	// Moving through 10:00 with an injected clock: the count goes to the
	// schedule's replicas once, then load decides within 10..12.
	st := State{LastScale: at(9, 0)}
	d := Decide(a, nil, 4, st, at(9, 59))
	if d.Replicas != 6 {
		t.Fatalf("09:59 with 4 replicas: %d, want 6 (the 16:30 bounds 6-8)", d.Replicas)
	}
	d = Decide(a, nil, 6, st, at(10, 0))
	if d.Replicas != 10 || d.Fired.IsZero() {
		t.Fatalf("10:00: %+v, want the schedule's 10", d)
	}
	st.LastFired, st.LastScale = d.Fired, at(10, 0)
	if d = Decide(a, nil, 11, st, at(10, 5)); d.Replicas != 11 {
		t.Fatalf("10:05 at 11 (a load decision): %d, want it kept", d.Replicas)
	}
	if d = Decide(a, nil, 11, st, at(16, 31)); d.Replicas != 8 {
		t.Fatalf("16:31 at 11: %d, want 8 (max of 16:30)", d.Replicas)
	}
}
