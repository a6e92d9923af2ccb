package autoscale

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

// Service is one autoscaled service as the loop sees it.
type Service struct {
	App, Env, Name string
	Replicas       int // the count it runs now
	Settings       spec.Autoscale
}

// Counters are a service's load counters now, cumulative since Pool
// (any comparable identity) was made.
type Counters struct {
	Pool          any
	Requests      uint64
	LatencyBounds []float64 // seconds, ascending; +Inf implied
	LatencyCounts []uint64  // per bucket, the last for +Inf
	InFlight      int64
	// CPU is each replica's CPU use so far (when asked for).
	CPU []ContainerCPU
}

// ContainerCPU is one replica's CPU time so far, read at Read, and the
// cores it may use (its limit; 1 without one).
type ContainerCPU struct {
	ID      string
	TotalNs uint64
	Read    time.Time
	Cores   float64
}

// Source is what the loop reads.
type Source interface {
	// Services lists the autoscaled services of the live releases.
	Services(ctx context.Context) ([]Service, error)
	// Counters returns a service's load counters (with its replicas' CPU
	// when cpu), false when it has none now.
	Counters(ctx context.Context, app, env, service string, cpu bool) (Counters, bool)
}

// Scaler sets a service's replica count.
type Scaler interface {
	// Scale scales app/env's service to replicas, saying why.
	Scale(ctx context.Context, app, env, service string, replicas int, reason string) error
}

// Options configures Run.
type Options struct {
	Source Source
	Scaler Scaler
	Logger *slog.Logger
	// Every is the sampling period (default 2s); Now the clock.
	Every time.Duration
	Now   func() time.Time
}

// retryAfter is how long a service waits after a refused scale (a
// deploy under way, a canary) before the loop tries again.
const retryAfter = 30 * time.Second

// idleTicks are the periods skipped after finding no autoscaled service.
const idleTicks = 4

// tracked is one service's samples and state between ticks.
type tracked struct {
	retryAt time.Time // after a refused scale
	prev    Counters
	prevAt  time.Time
	hasPrev bool
	samples []Sample
	state   State
}

// Run samples every autoscaled service each period and scales it when
// Decide says so, until ctx ends.
func Run(ctx context.Context, o Options) {
	if o.Every <= 0 {
		o.Every = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	log := o.Logger.With("component", "autoscale")
	seen := map[[3]string]*tracked{}
	idle := 0
	tick := time.NewTicker(o.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if idle > 0 {
			idle-- // nothing autoscales: look less often
			continue
		}
		svcs, err := o.Source.Services(ctx)
		if len(svcs) == 0 {
			idle = idleTicks
		}
		if err != nil {
			log.Warn("list autoscaled services", "error", err)
			continue
		}
		now := o.Now()
		live := map[[3]string]bool{}
		for _, s := range svcs {
			k := [3]string{s.App, s.Env, s.Name}
			live[k] = true
			tr := seen[k]
			if tr == nil {
				tr = &tracked{}
				seen[k] = tr
			}
			tr.sample(ctx, o.Source, s, now)
			if now.Before(tr.retryAt) {
				continue
			}
			d := Decide(s.Settings, tr.samples, s.Replicas, tr.state, now)
			if d.Replicas == s.Replicas {
				if !d.Fired.IsZero() {
					tr.state.LastFired = d.Fired
				}
				continue
			}
			log.Info("scaling", "app", s.App, "env", s.Env, "service", s.Name, "from", s.Replicas, "to", d.Replicas, "reason", d.Reason)
			if err := o.Scaler.Scale(ctx, s.App, s.Env, s.Name, d.Replicas, d.Reason); err != nil {
				log.Warn("scale", "app", s.App, "env", s.Env, "service", s.Name, "to", d.Replicas, "error", err)
				tr.retryAt = now.Add(retryAfter)
				continue
			}
			tr.state.LastScale = o.Now()
			if !d.Fired.IsZero() {
				tr.state.LastFired = d.Fired
			}
			tr.hasPrev = false // the scale made a new pool
		}
		for k := range seen {
			if !live[k] {
				delete(seen, k)
			}
		}
	}
}

// sample measures s's load since the previous tick and keeps it, with
// as many older samples as its longest window needs.
func (tr *tracked) sample(ctx context.Context, src Source, s Service, now time.Time) {
	withCPU := s.Settings.TargetCPU > 0
	c, ok := src.Counters(ctx, s.App, s.Env, s.Name, withCPU)
	smp := Sample{At: now, CPU: -1}
	if ok && tr.hasPrev && c.Pool == tr.prev.Pool && c.Requests >= tr.prev.Requests {
		dt := now.Sub(tr.prevAt).Seconds()
		if dt > 0 {
			smp.RPS = float64(c.Requests-tr.prev.Requests) / dt
			smp.InFlight = float64(c.InFlight)
			smp.P95 = quantile(c.LatencyBounds, tr.prev.LatencyCounts, c.LatencyCounts, 0.95)
			smp.Valid = true
		}
		if withCPU {
			smp.CPU = cpuShare(tr.prev.CPU, c.CPU)
			smp.Valid = smp.Valid && smp.CPU >= 0
		}
	}
	if ok {
		tr.prev, tr.prevAt, tr.hasPrev = c, now, true
	} else {
		tr.hasPrev = false
	}
	tr.samples = append(tr.samples, smp)
	keep := max(s.Settings.ScaleOutWindow.D(), s.Settings.ScaleInCooldown.D()) + time.Minute
	i := 0
	for i < len(tr.samples)-1 && now.Sub(tr.samples[i+1].At) > keep {
		i++ // keep one sample older than the window: it shows the window is covered
	}
	tr.samples = tr.samples[i:]
}

// cpuShare is the mean share of its cores each replica used between
// two reads (-1 when no replica was read twice).
func cpuShare(before, after []ContainerCPU) float64 {
	prev := map[string]ContainerCPU{}
	for _, c := range before {
		prev[c.ID] = c
	}
	sum, n := 0.0, 0
	for _, c := range after {
		p, ok := prev[c.ID]
		dt := c.Read.Sub(p.Read).Seconds()
		if !ok || dt <= 0 || c.TotalNs < p.TotalNs {
			continue
		}
		cores := c.Cores
		if cores <= 0 {
			cores = 1
		}
		sum += float64(c.TotalNs-p.TotalNs) / 1e9 / dt / cores
		n++
	}
	if n == 0 {
		return -1
	}
	return sum / float64(n)
}

// quantile is the q-quantile of the requests counted between before and
// after (per-bucket counts of one histogram): the upper bound of the
// bucket it falls in; 0 with no request.
func quantile(bounds []float64, before, after []uint64, q float64) time.Duration {
	if len(after) != len(bounds)+1 || (len(before) != 0 && len(before) != len(after)) {
		return 0
	}
	var total uint64
	delta := make([]uint64, len(after))
	for i := range after {
		b := uint64(0)
		if len(before) > 0 {
			b = before[i]
		}
		if after[i] >= b {
			delta[i] = after[i] - b
		}
		total += delta[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, n := range delta {
		seen += n
		if seen >= rank {
			if i == len(bounds) {
				return time.Duration(bounds[len(bounds)-1] * 2 * float64(time.Second)) // beyond the last bound
			}
			return time.Duration(bounds[i] * float64(time.Second))
		}
	}
	return 0
}
