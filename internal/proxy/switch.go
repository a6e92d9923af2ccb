package proxy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Slot says which pool of a route a Switch replaces.
type Slot int

const (
	// SlotLive is the route's own pool: the one most clients get.
	SlotLive Slot = iota
	// SlotCanary is the route's second pool (see SetCanary).
	SlotCanary
)

// SwitchRequest is what Switch does to one route.
type SwitchRequest struct {
	Key   RouteKey
	Hosts []string // for SlotLive
	// Pool is the new pool; nil removes the route (SlotLive, its canary
	// with it: that pool drains too) or its canary (SlotCanary).
	Pool    *Pool
	Options RouteOptions // for SlotLive
	Slot    Slot
	Weight  int // for SlotCanary: the percentage of clients
	// Healthy is how many targets of Pool must be healthy before the
	// swap; Switch waits for them until ctx ends (0: swap at once).
	Healthy int
	// DrainTimeout bounds the old pool's drain: its requests still in
	// flight then are cut (0: DefaultDrainTimeout).
	DrainTimeout time.Duration
}

// DefaultDrainTimeout bounds a drain whose request names no timeout.
const DefaultDrainTimeout = 30 * time.Second

// Drain is a pool swapped out by Switch, draining in the background:
// the Proxy owns it until its requests are done or its deadline.
type Drain struct {
	Key      RouteKey
	Release  string    // the drained pool's release
	Canary   bool      // the pool was the route's canary
	Started  time.Time // when it was swapped out
	Deadline time.Time // when what is still in flight is cut

	pool   *Pool
	cancel context.CancelFunc
	done   chan struct{}
	res    DrainResult // set before done is closed
}

// Done is closed when the drain has ended: its pool is closed and
// Result tells how it went.
func (d *Drain) Done() <-chan struct{} { return d.done }

// Result is how the drain went; valid once Done is closed.
func (d *Drain) Result() DrainResult {
	<-d.done
	return d.res
}

// Wait waits until the drain ends or ctx does; ok is false in the
// latter case.
func (d *Drain) Wait(ctx context.Context) (res DrainResult, ok bool) {
	select {
	case <-d.done:
		return d.res, true
	case <-ctx.Done():
		return DrainResult{}, false
	}
}

// InFlight is how many requests the draining pool still serves.
func (d *Drain) InFlight() int64 { return d.pool.InFlight() }

// Long returns how many WebSockets and event streams the drained pool
// carries now.
func (d *Drain) Long() int64 { return d.pool.long.open.Load() }

// Pool is the pool being drained (for its targets and statistics).
func (d *Drain) Pool() *Pool { return d.pool }

// drainSet are the pools draining in the background, each to its own
// deadline. Every drain goroutine is owned by the set: Shutdown waits
// for them.
type drainSet struct {
	mu     sync.Mutex
	m      map[*Drain]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Switch is the no-downtime switch of one route, the one place that
// assembles it: it waits until req.Healthy targets of the new pool are
// healthy (until ctx ends: then nothing changed and the new pool is
// still the caller's), swaps it into the route in one atomic table
// swap, and drains the pool it replaced in the background. It returns
// at once after the swap: the Drain (nil when no pool was swapped out)
// says when the old pool is done. A pool swapped out is never routed
// again.
func (p *Proxy) Switch(ctx context.Context, req SwitchRequest) (*Drain, error) {
	if req.Pool != nil && req.Healthy > 0 {
		if err := req.Pool.WaitHealthy(ctx, req.Healthy); err != nil {
			return nil, fmt.Errorf("switch %s: %w", req.Key, err)
		}
	}
	var olds []*Pool
	switch {
	case req.Slot == SlotCanary && req.Pool == nil:
		olds = append(olds, p.RemoveCanary(req.Key))
	case req.Slot == SlotCanary:
		old, err := p.SetCanary(req.Key, req.Pool, req.Weight)
		if err != nil {
			return nil, err
		}
		olds = append(olds, old)
	case req.Pool == nil:
		olds = append(olds, p.RemoveCanary(req.Key), p.RemoveRoute(req.Key))
	default:
		old, err := p.SetRouteOptions(req.Key, req.Hosts, req.Pool, req.Options)
		if err != nil {
			return nil, err
		}
		olds = append(olds, old)
	}
	timeout := req.DrainTimeout
	if timeout <= 0 {
		timeout = DefaultDrainTimeout
	}
	p.noteDrainTimeout(req)
	var first *Drain
	for i, old := range olds {
		if old == nil {
			continue
		}
		canary := req.Slot == SlotCanary || (req.Pool == nil && i == 0)
		d := p.drainLater(req.Key, old, canary, timeout)
		if first == nil {
			first = d
		} else {
			// Removing a route with a canary drains two pools: the handle
			// is done when both are.
			first = joinDrains(first, d)
		}
	}
	return first, nil
}

// noteDrainTimeout keeps the drain timeout a switch gave its route
// (forgotten with the route; a switch that names none keeps the last).
func (p *Proxy) noteDrainTimeout(req SwitchRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drainTimeouts == nil {
		p.drainTimeouts = map[RouteKey]time.Duration{}
	}
	switch {
	case req.Pool == nil && req.Slot != SlotCanary:
		delete(p.drainTimeouts, req.Key)
	case req.DrainTimeout > 0:
		p.drainTimeouts[req.Key] = req.DrainTimeout
	}
}

// DrainTimeoutOf is how long the route's requests, WebSockets and
// streams may take to finish when it is drained without a switch (berth
// handing off to its successor): the timeout its last switch named, or
// DefaultDrainTimeout.
func (p *Proxy) DrainTimeoutOf(key RouteKey) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := p.drainTimeouts[key]; ok {
		return d
	}
	return DefaultDrainTimeout
}

// drainLater starts the background drain of old, owned by p.
func (p *Proxy) drainLater(key RouteKey, old *Pool, canary bool, timeout time.Duration) *Drain {
	now := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	d := &Drain{Key: key, Release: old.Release(), Canary: canary, Started: now, Deadline: now.Add(timeout),
		pool: old, cancel: cancel, done: make(chan struct{})}
	s := &p.drains
	s.mu.Lock()
	if s.m == nil {
		s.m = map[*Drain]struct{}{}
	}
	closed := s.closed
	if !closed {
		s.m[d] = struct{}{}
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if closed { // the proxy is shutting down: cut at once
		cancel()
		d.res = old.Drain(ctx, 0)
		d.res.Stopped = true
		close(d.done)
		return d
	}
	p.log.Info("draining in the background", "app", key.App, "env", key.Env, "service", key.Service,
		"release", d.Release, "in_flight", old.InFlight(), "deadline", d.Deadline)
	go func() {
		defer s.wg.Done()
		defer cancel()
		d.res = old.Drain(ctx, timeout)
		d.res.Stopped = ctx.Err() != nil
		s.mu.Lock()
		delete(s.m, d)
		s.mu.Unlock()
		close(d.done)
	}()
	return d
}

// joinDrains returns a handle done when a and b are, with their results
// summed and the later deadline.
func joinDrains(a, b *Drain) *Drain {
	j := &Drain{Key: a.Key, Release: a.Release, Started: a.Started, Deadline: a.Deadline, pool: a.pool,
		cancel: func() { a.cancel(); b.cancel() }, done: make(chan struct{})}
	if b.Deadline.After(j.Deadline) {
		j.Deadline = b.Deadline
	}
	go func() { // ends with a and b, which the proxy owns
		ra, rb := a.Result(), b.Result()
		j.res = DrainResult{Waited: max(ra.Waited, rb.Waited), Cut: ra.Cut + rb.Cut, Long: ra.Long.Add(rb.Long), Stopped: ra.Stopped || rb.Stopped}
		close(j.done)
	}()
	return j
}

// DrainInfo describes a pool draining in the background.
type DrainInfo struct {
	Key      RouteKey
	Release  string
	Canary   bool
	Started  time.Time
	Deadline time.Time
	InFlight int64
}

// Draining lists the pools draining in the background, oldest first.
func (p *Proxy) Draining() []DrainInfo {
	s := &p.drains
	s.mu.Lock()
	out := make([]DrainInfo, 0, len(s.m))
	for d := range s.m {
		out = append(out, DrainInfo{Key: d.Key, Release: d.Release, Canary: d.Canary, Started: d.Started,
			Deadline: d.Deadline, InFlight: d.pool.InFlight()})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b DrainInfo) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		return strings.Compare(a.Key.String(), b.Key.String())
	})
	return out
}

// ShutdownDrains is for a proxy that stops: later swaps drain at once,
// and the background drains get until ctx ends to finish; then what is
// left in flight is cut (their results say Stopped). It returns when
// every drain goroutine has ended.
func (p *Proxy) ShutdownDrains(ctx context.Context) {
	s := &p.drains
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	s.mu.Lock()
	for d := range s.m {
		d.cancel()
	}
	s.mu.Unlock()
	<-done
}
