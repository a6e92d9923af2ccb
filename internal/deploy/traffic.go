package deploy

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/metrics"
	"github.com/berth-dev/berth/internal/proxy"
)

// The traffic history: every TrafficStep, RunTraffic reads the request
// totals of every routed pool (the live and canary pools of each route),
// adds up, per app environment, what each pool served since the last
// look, and keeps it in a metrics.History of TrafficSpan. The proxy's
// request path is not touched: its pools count anyway. A pool first seen
// counts all it served so far (it was made since the last look, or
// berth just started); what a pool served after the last look before
// it was swapped out (its drain) is not counted.

// TrafficStep is the history's resolution; TrafficSpan how far back it
// goes. The day's history (TrafficDayStep over TrafficDaySpan) is the
// steps merged each TrafficDayStep.
const (
	TrafficStep    = 10 * time.Second
	TrafficSpan    = time.Hour
	TrafficDayStep = 5 * time.Minute
	TrafficDaySpan = 24 * time.Hour
)

// RunTraffic samples the traffic every TrafficStep until ctx ends.
func (d *Deployer) RunTraffic(ctx context.Context) {
	tick := time.NewTicker(TrafficStep)
	defer tick.Stop()
	last := map[*proxy.Pool]proxy.PoolStats{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			last = d.sampleTraffic(d.now(), last)
		}
	}
}

// sampleTraffic adds a point ending at now for every routed app
// environment: what its pools served since last (their totals then),
// and returns the totals now, for the next look.
func (d *Deployer) sampleTraffic(now time.Time, last map[*proxy.Pool]proxy.PoolStats) map[*proxy.Pool]proxy.PoolStats {
	next := make(map[*proxy.Pool]proxy.PoolStats, len(last))
	points := map[string]*metrics.Point{}
	point := func(key string) *metrics.Point {
		p := points[key]
		if p == nil {
			p = &metrics.Point{At: now}
			points[key] = p
		}
		return p
	}
	for _, r := range d.proxy.Routes() {
		env := point(lockKey(r.Key.App, r.Key.Env))
		for _, pool := range []*proxy.Pool{r.Pool, r.Canary} {
			if pool == nil {
				continue
			}
			if _, done := next[pool]; done {
				continue // a pool routed twice (paths) is counted once
			}
			st := pool.Stats()
			next[pool] = st
			if d.traffic.Bounds() == nil {
				d.traffic.SetBounds(st.Latency.Bounds)
			}
			addDelta(env, st, last[pool])
			addDelta(point(releaseKey(r.Key.App, r.Key.Env, pool.Release())), st, last[pool])
		}
	}
	for key, p := range points {
		d.traffic.Add(key, *p)
	}
	// An environment's history goes with its routes; a release's stays
	// for the span after its last step (a release rolled back is charted).
	d.traffic.Forget(func(key string, newest time.Time) bool {
		_, ok := points[key]
		return ok || (strings.Contains(key, "@") && now.Sub(newest) < TrafficSpan)
	})
	d.rollDay(now, points)
	return next
}

// releaseKey is the history's key of one release of app/env.
func releaseKey(app, env, release string) string { return lockKey(app, env) + "@" + release }

// rollDay adds to the day's history, once now crosses a TrafficDayStep
// boundary, each app environment's steps since the previous boundary,
// merged into one point ending at the boundary.
func (d *Deployer) rollDay(now time.Time, points map[string]*metrics.Point) {
	b := now.Truncate(TrafficDayStep)
	if d.dayAt.IsZero() {
		d.dayAt = b // the first boundary: the steps before it are a part of a day step
		return
	}
	if !b.After(d.dayAt) {
		return
	}
	for key := range points {
		var in []metrics.Point
		for _, p := range d.traffic.Since(key, d.dayAt) {
			if !p.At.After(b) {
				in = append(in, p)
			}
		}
		m := metrics.Merge(in)
		m.At = b
		d.trafficDay.Add(key, m)
	}
	d.trafficDay.Forget(func(key string, newest time.Time) bool {
		_, ok := points[key]
		return ok || (strings.Contains(key, "@") && now.Sub(newest) < TrafficDaySpan)
	})
	d.dayAt = b
}

// addDelta adds to p what a pool served between prev and st (its
// totals then and now).
func addDelta(p *metrics.Point, st, prev proxy.PoolStats) {
	for i := range st.Responses {
		p.Requests += st.Responses[i] - prev.Responses[i]
	}
	p.Errors += st.Responses[4] - prev.Responses[4]
	if len(p.Latency) < len(st.Latency.Counts) {
		p.Latency = append(p.Latency, make([]uint64, len(st.Latency.Counts)-len(p.Latency))...)
	}
	for i, c := range st.Latency.Counts {
		var was uint64
		if i < len(prev.Latency.Counts) {
			was = prev.Latency.Counts[i]
		}
		p.Latency[i] += c - was
	}
}

// TrafficPoint is one step of an app environment's traffic, ending at
// At, with its latency quantiles in seconds (NaN for a step without
// requests).
type TrafficPoint struct {
	At               time.Time
	Requests, Errors uint64 // Errors: 5xx answers
	P50, P95, P99    float64
}

// Traffic returns app/env's traffic steps (release's only, when not
// empty) that end after since, oldest first, and their length:
// TrafficStep when since is within TrafficSpan, else the day's
// TrafficDayStep.
func (d *Deployer) Traffic(app, env, release string, since time.Time) ([]TrafficPoint, time.Duration) {
	h, step := d.traffic, TrafficStep
	if d.now().Sub(since) > TrafficSpan+TrafficStep { // a range of an hour, asked a moment ago, is the hour's
		h, step = d.trafficDay, TrafficDayStep
	}
	key := lockKey(app, env)
	if release != "" {
		key = releaseKey(app, env, release)
	}
	ps, bounds := h.Since(key, since), d.traffic.Bounds()
	out := make([]TrafficPoint, len(ps))
	for i, p := range ps {
		out[i] = TrafficPoint{At: p.At, Requests: p.Requests, Errors: p.Errors,
			P50: metrics.Quantile(bounds, p.Latency, 0.5), P95: metrics.Quantile(bounds, p.Latency, 0.95), P99: metrics.Quantile(bounds, p.Latency, 0.99)}
	}
	return out, step
}

// recentP99 is app/env's 99th percentile latency over the last minute
// of the history, in seconds (0 when it served nothing then).
func (d *Deployer) recentP99(app, env string) float64 {
	ps := d.traffic.Since(lockKey(app, env), d.now().Add(-time.Minute))
	q := metrics.Quantile(d.traffic.Bounds(), metrics.Merge(ps).Latency, 0.99)
	if math.IsNaN(q) {
		return 0
	}
	return q
}
