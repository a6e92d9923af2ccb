// Package autoscale moves a service's replica count with its load and
// the clock: Decide is a pure function of the samples, the current
// count, the service's settings and an injected now; Run samples every
// autoscaled service on a tick and asks its Scaler for the count Decide
// returns.
//
// Invariants:
//   - Decide never returns a count outside the bounds in force (the
//     settings' min and max, or the latest schedule's).
//   - Scale-out needs the load above the target for the whole
//     ScaleOutWindow; scale-in needs it below for the whole
//     ScaleInCooldown, ScaleInCooldown after the last scale, and removes
//     at most ScaleInStep of the replicas at once. Within a ±10% band
//     around the target nothing moves, so noise does not flap.
//   - A schedule's bounds hold from its latest firing at or before now
//     (so after a restart the one that should be in force applies), and
//     its replicas, when set, once per firing.
package autoscale

import (
	"fmt"
	"math"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

// tolerance is the band around the target in which nothing moves.
const tolerance = 0.1

// Sample is one measure of a service's load, over the time since the
// previous one: requests per second and p95 latency of the service, and
// its requests in flight at the instant.
type Sample struct {
	At       time.Time
	RPS      float64
	InFlight float64
	P95      time.Duration
	// CPU is the share of their CPU limit (or of a core) the replicas
	// used, on average (-1: not measured).
	CPU float64
	// Valid is false when the sample could not be measured (the route
	// changed since the previous one): it neither breaches nor clears.
	Valid bool
}

// State is what Decide needs to remember between calls.
type State struct {
	LastScale time.Time // the last change Decide asked for (or berth scale made)
	// LastFired is the firing time of the last schedule whose replicas
	// were applied.
	LastFired time.Time
}

// Decision is Decide's answer: Replicas (== current when nothing moves)
// and why.
type Decision struct {
	Replicas int
	Reason   string
	// Min and Max are the bounds in force; Fired, when not zero, is the
	// schedule firing whose replicas this decision applies (to keep in
	// State.LastFired).
	Min, Max int
	Fired    time.Time
}

// Decide returns the replica count for a service running current
// replicas under settings a, from its samples (oldest first).
func Decide(a spec.Autoscale, samples []Sample, current int, st State, now time.Time) Decision {
	lo, hi, fired, replicas := Bounds(a, now)
	d := Decision{Replicas: current, Min: lo, Max: hi}
	if !fired.IsZero() && fired.After(st.LastFired) && replicas > 0 {
		d.Replicas, d.Fired = clamp(replicas, lo, hi), fired
		d.Reason = fmt.Sprintf("the schedule of %s sets %d replica(s)", fired.Format(time.RFC3339), replicas)
		return d
	}
	if current < lo || current > hi {
		d.Replicas = clamp(current, lo, hi)
		d.Reason = fmt.Sprintf("the bounds in force are %d to %d", lo, hi)
		return d
	}
	// Scale-out: every sample of the window asks for more.
	if out, ok := wanted(a, samples, current, now, a.ScaleOutWindow.D(), func(w int) bool { return w > current }, math.MaxInt, smaller); ok {
		d.Replicas = clamp(out, lo, hi)
		if d.Replicas > current {
			d.Reason = fmt.Sprintf("load above the target for %s: %s", a.ScaleOutWindow.D(), describeLoad(a, samples[len(samples)-1], current))
		}
		return d
	}
	// Scale-in: slowly, after the cooldown, by a bounded step.
	cool := a.ScaleInCooldown.D()
	if now.Sub(st.LastScale) < cool {
		return d
	}
	if in, ok := wanted(a, samples, current, now, cool, func(w int) bool { return w < current }, 0, larger); ok {
		step := max(1, int(math.Floor(float64(current)*a.ScaleInStep)))
		d.Replicas = clamp(max(in, current-step), lo, hi)
		if d.Replicas < current {
			d.Reason = fmt.Sprintf("load below the target for %s: %s", cool, describeLoad(a, samples[len(samples)-1], current))
		}
	}
	return d
}

// wanted returns the count every valid sample of the last window agrees
// on (combine picks the most cautious of them: the smallest of those
// above current, the largest of those below), when the samples cover
// the window and each wants a count that ok accepts.
func wanted(a spec.Autoscale, samples []Sample, current int, now time.Time, window time.Duration, ok func(int) bool, start int, combine func(x, y int) int) (int, bool) {
	from := now.Add(-window)
	covered, n := false, 0
	out := start
	for _, s := range samples {
		if s.At.Before(from) {
			covered = true // an older sample: the window is fully seen
			continue
		}
		if !s.Valid {
			return 0, false
		}
		w := desired(a, s, current)
		if !ok(w) {
			return 0, false
		}
		out = combine(out, w)
		n++
	}
	return out, covered && n > 0
}

// desired is the count one sample asks for: for each target the load
// over the target per replica, the largest of them; current when within
// the tolerance band.
func desired(a spec.Autoscale, s Sample, current int) int {
	need := 0.0
	if a.TargetRPS > 0 {
		need = max(need, s.RPS/a.TargetRPS)
	}
	if a.TargetInFlight > 0 {
		need = max(need, s.InFlight/a.TargetInFlight)
	}
	if t := a.TargetP95.D(); t > 0 && s.P95 > 0 {
		need = max(need, float64(current)*float64(s.P95)/float64(t))
	}
	if a.TargetCPU > 0 && s.CPU >= 0 {
		need = max(need, float64(current)*s.CPU/a.TargetCPU)
	}
	c := float64(max(current, 1))
	if r := need / c; r >= 1-tolerance && r <= 1+tolerance {
		return current
	}
	return int(math.Ceil(need - 1e-9))
}

// describeLoad says the sampled load against the targets.
func describeLoad(a spec.Autoscale, s Sample, current int) string {
	out := ""
	add := func(part string) {
		if out != "" {
			out += ", "
		}
		out += part
	}
	if a.TargetRPS > 0 {
		add(fmt.Sprintf("%.1f req/s per replica (target %g)", s.RPS/float64(max(current, 1)), a.TargetRPS))
	}
	if a.TargetInFlight > 0 {
		add(fmt.Sprintf("%.1f in flight per replica (target %g)", s.InFlight/float64(max(current, 1)), a.TargetInFlight))
	}
	if a.TargetP95 > 0 {
		add(fmt.Sprintf("p95 %s (target %s)", s.P95.Round(time.Millisecond), a.TargetP95.D()))
	}
	if a.TargetCPU > 0 && s.CPU >= 0 {
		add(fmt.Sprintf("CPU %.0f%% per replica (target %.0f%%)", 100*s.CPU, 100*a.TargetCPU))
	}
	return out
}

func clamp(n, lo, hi int) int { return min(max(n, lo), hi) }

func smaller(x, y int) int { return min(x, y) }
func larger(x, y int) int  { return max(x, y) }

// Bounds returns the bounds in force at now: those of the schedule that
// fired last at or before now (looking back up to eight days), else the
// settings' own; fired is that firing (zero when none) and replicas the
// schedule's count (0: none).
func Bounds(a spec.Autoscale, now time.Time) (lo, hi int, fired time.Time, replicas int) {
	lo, hi = a.Min, a.Max
	for _, sc := range a.Schedules {
		at, ok := lastFiring(sc, now)
		if ok && at.After(fired) {
			fired, lo, hi, replicas = at, sc.Min, sc.Max, sc.Replicas
		}
	}
	return lo, hi, fired, replicas
}

// lookBack bounds how far back a schedule's last firing is looked for.
const lookBack = 8 * 24 * time.Hour

// lastFiring is the latest time at or before now the schedule fired.
func lastFiring(sc spec.Schedule, now time.Time) (time.Time, bool) {
	s, err := spec.ParseCron(sc.Cron, sc.Timezone)
	if err != nil {
		return time.Time{}, false
	}
	var last time.Time
	// Next from a minute before each firing walks forward; a cron that
	// fires every minute takes at most lookBack/1m steps, so start
	// closer for frequent ones by jumping in halves.
	from := now.Add(-lookBack)
	for step := lookBack / 2; step >= time.Hour; step /= 2 {
		if t := s.Next(now.Add(-step)); !t.After(now) {
			from = now.Add(-step) // it fires within step: look only there
		} else {
			break
		}
	}
	for t := s.Next(from); !t.IsZero() && !t.After(now); t = s.Next(t) {
		last = t
	}
	return last, !last.IsZero()
}
