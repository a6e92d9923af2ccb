package proxy

import (
	"sync/atomic"
	"time"
)

// targetSet is a pool's balancer: its fixed set of targets, the subset in
// rotation, round robin over that subset, and the count of requests in
// flight that a drain waits for.
//
// Invariants:
//
//   - targets never changes after init; only the healthy subset
//     does, and it is replaced whole (setHealthy), never changed in
//     place: an immutable slice behind an atomic pointer, in target
//     order.
//   - pick, pickOther, enter and leave take no lock and allocate nothing:
//     atomic loads and adds only. They are the request path's.
//   - Once retired a set stays retired: enter refuses every new request
//     (the caller routes it again), and leave signals idle when the
//     count falls to 0, so awaitIdle wakes without polling.
//   - The set does not decide health: whoever checks it hands the new
//     subset to setHealthy.
type targetSet struct {
	targets []*target

	healthy  atomic.Pointer[[]*target] // in rotation, in target order
	rr       atomic.Uint64
	inflight atomic.Int64
	retired  atomic.Bool   // no new requests: re-route them
	idle     chan struct{} // signalled when in-flight drops to 0 while retired
}

// init makes s the set of targets, none of them in rotation.
func (s *targetSet) init(targets []*target) {
	s.targets, s.idle = targets, make(chan struct{}, 1)
	empty := []*target{}
	s.healthy.Store(&empty)
}

// setHealthy puts the targets in h (in target order) in rotation and
// takes every other one out. h is not changed afterwards.
func (s *targetSet) setHealthy(h []*target) { s.healthy.Store(&h) }

// inRotation returns the targets in rotation; the slice is not to be
// changed.
func (s *targetSet) inRotation() []*target { return *s.healthy.Load() }

// healthyCount returns how many targets are in rotation.
func (s *targetSet) healthyCount() int { return len(*s.healthy.Load()) }

// inFlight returns how many requests the set is serving.
func (s *targetSet) inFlight() int64 { return s.inflight.Load() }

// pick returns the next healthy target by round robin, nil if none, and
// the round-robin counter it used.
func (s *targetSet) pick() (*target, uint64) {
	h := *s.healthy.Load()
	n := s.rr.Add(1)
	if len(h) == 0 {
		return nil, n
	}
	return h[n%uint64(len(h))], n
}

// pickOther returns a healthy target not in tried, nil if none.
func (s *targetSet) pickOther(tried []*target) *target {
	h := *s.healthy.Load()
	start := s.rr.Add(1)
	for i := range uint64(len(h)) {
		t := h[(start+i)%uint64(len(h))]
		if !containsTarget(tried, t) {
			return t
		}
	}
	return nil
}

func containsTarget(ts []*target, t *target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// enter counts a new request in flight, unless the set is retired.
func (s *targetSet) enter() bool {
	s.inflight.Add(1)
	if s.retired.Load() {
		s.leave()
		return false
	}
	return true
}

// leave ends a request that enter counted.
func (s *targetSet) leave() {
	if s.inflight.Add(-1) == 0 && s.retired.Load() {
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

// retire makes enter refuse every new request from now on.
func (s *targetSet) retire() { s.retired.Store(true) }

// awaitIdle waits, once the set is retired, until no request is in
// flight, and reports whether that happened before stop was closed or
// deadline fired (either may be nil).
func (s *targetSet) awaitIdle(stop <-chan struct{}, deadline <-chan time.Time) bool {
	for s.inflight.Load() > 0 {
		select {
		case <-s.idle:
		case <-deadline:
			return s.inflight.Load() == 0
		case <-stop:
			return s.inflight.Load() == 0
		}
	}
	return true
}
