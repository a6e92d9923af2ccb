package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Request statistics are kept where the request path already holds a
// pointer: per pool (poolStats: responses by status class, a latency
// histogram, retries) and per target (served, in flight, upstream errors
// by kind, a one-minute rate window: fields of target that poolStats
// reads). All of them are fixed-size arrays of atomics made by NewPool:
// recording a request is a handful of atomic adds, with no lock, no map
// lookup and no allocation. Readers (metrics scrapes, status) load them
// when asked.

// latencyBounds are the upper bounds of the latency histogram buckets, in
// nanoseconds: 0.5 ms to 10 s in a 1-2.5-5 progression.
var latencyBounds = [...]int64{
	500e3, 1e6, 2.5e6, 5e6, 10e6, 25e6, 50e6, 100e6, 250e6, 500e6, 1e9, 2.5e9, 5e9, 10e9,
}

// poolStats is a pool's observer: its request totals, and the reading
// of its targets' counters for Status.
//
// Invariants:
//
//   - Counters only grow, from the pool's birth (born, monoSecond): a
//     pool's statistics start at zero and die with it (the Proxy keeps
//     the per app/env counters that survive swaps).
//   - Recording (observe, record, the retries' adds) is atomic adds on
//     fixed arrays: no lock, no map, no allocation. Only the readers
//     (snapshot, targetStatus) allocate.
//   - It decides nothing: it neither picks targets nor judges health.
type poolStats struct {
	born    int64            // monoSecond when the pool was made, for the rate window
	classes [5]atomic.Uint64 // responses by status class 1xx..5xx
	buckets [len(latencyBounds) + 1]atomic.Uint64
	sumNs   atomic.Uint64
	retries [2]atomic.Uint64 // [retryOther], [retryFresh] (retry.go)
}

// Kinds of retries, as in PoolStats.
const (
	retryOther = iota // on another target
	retryFresh        // on a fresh connection to the same target
)

// observe counts one response of status that took d.
func (s *poolStats) observe(status int, d time.Duration) {
	if c := status/100 - 1; c >= 0 && c < len(s.classes) {
		s.classes[c].Add(1)
	}
	ns := int64(d)
	i := 0
	for i < len(latencyBounds) && ns > latencyBounds[i] {
		i++
	}
	s.buckets[i].Add(1)
	if ns > 0 {
		s.sumNs.Add(uint64(ns))
	}
}

// record counts a served request, res, in the totals and in its target's
// rate window, and returns how long it took.
func (s *poolStats) record(res *outcome) time.Duration {
	end := nanotime()
	d := time.Duration(end - res.start)
	s.observe(res.status, d)
	if t := res.t; t != nil {
		t.window.add(end/1e9, res.status >= 500 || res.broken)
	}
	return d
}

// targetStatus fills in st the counters of t, with its rate window read
// at now (monoSecond).
func (s *poolStats) targetStatus(st *TargetStatus, t *target, now int64) {
	st.InFlight = t.inflight.Load()
	st.Served = t.served.Load()
	st.RPS, st.ErrorRate = t.window.rates(now, s.born)
	st.Errors = t.upstreamErrors()
}

// Histogram is a snapshot of a latency histogram.
type Histogram struct {
	Bounds []float64 // upper bounds in seconds, ascending; +Inf implied
	Counts []uint64  // per bucket (not cumulative); len(Bounds)+1, the last is +Inf
	Count  uint64    // sum of Counts
	Sum    float64   // seconds
}

// PoolStats is a snapshot of a pool's request totals since it was made.
type PoolStats struct {
	// Responses counts answers by status class: [0] 1xx … [4] 5xx. A
	// request whose client went away before an answer counts as 4xx (499).
	Responses [5]uint64
	// Latency is the time from routing a request to the end of its
	// response.
	Latency Histogram
	// Retries counts requests sent again to another target after theirs
	// failed before any response byte (retry.go); Replays, requests sent
	// again on a fresh connection to the same target after a reused one
	// broke (the target had closed it as idle).
	Retries, Replays uint64
}

// Stats returns a snapshot of the pool's request totals.
func (p *Pool) Stats() PoolStats { return p.stats.snapshot() }

// snapshot returns the totals so far.
func (s *poolStats) snapshot() PoolStats {
	var out PoolStats
	for i := range s.classes {
		out.Responses[i] = s.classes[i].Load()
	}
	h := Histogram{Bounds: make([]float64, len(latencyBounds)), Counts: make([]uint64, len(s.buckets))}
	for i, b := range latencyBounds {
		h.Bounds[i] = float64(b) / 1e9
	}
	for i := range s.buckets {
		h.Counts[i] = s.buckets[i].Load()
		h.Count += h.Counts[i]
	}
	h.Sum = float64(s.sumNs.Load()) / 1e9
	out.Latency = h
	out.Retries = s.retries[retryOther].Load()
	out.Replays = s.retries[retryFresh].Load()
	return out
}

// UpstreamErrors counts a target's failed exchanges by kind.
type UpstreamErrors struct {
	Dial    uint64 // could not connect (the request may have been retried elsewhere)
	Reset   uint64 // the connection broke or closed before or during the response
	Timeout uint64 // no response within the response timeout, or a read timed out
	Other   uint64 // a malformed response, and anything else
}

// Upstream error kinds, as in metrics labels.
const (
	kindDial = iota
	kindReset
	kindTimeout
	kindOther
	numKinds
)

// upstreamKind classifies an error of an exchange with a target.
func upstreamKind(err error) int {
	var op *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return kindDial
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return kindTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return kindReset
	}
	return kindOther
}

// countUpstream counts err as an upstream error of t.
func (t *target) countUpstream(err error) { t.upErrs[upstreamKind(err)].Add(1) }

func (t *target) upstreamErrors() UpstreamErrors {
	return UpstreamErrors{Dial: t.upErrs[kindDial].Load(), Reset: t.upErrs[kindReset].Load(),
		Timeout: t.upErrs[kindTimeout].Load(), Other: t.upErrs[kindOther].Load()}
}

// rateWindow counts requests and errors of the last windowSeconds seconds
// in one-second buckets, lock-free. A bucket is one atomic word: the
// second it counts (modulo 2^20) in the top 20 bits, errors in the next
// 22, requests in the low 22, so a bucket moves to a new second and
// counts its first request in one compare-and-swap.
type rateWindow struct {
	buckets [windowSeconds]atomic.Uint64
}

const (
	windowSeconds = 60
	wCountBits    = 22
	wCountMax     = 1<<wCountBits - 1
	wSecMask      = 1<<20 - 1
)

func wSec(v uint64) uint64  { return v >> (2 * wCountBits) }
func wErrs(v uint64) uint64 { return v >> wCountBits & wCountMax }
func wReqs(v uint64) uint64 { return v & wCountMax }

// add counts one request (an error when isErr) in second sec (monoSecond).
func (w *rateWindow) add(sec int64, isErr bool) {
	s := uint64(sec) & wSecMask
	b := &w.buckets[uint64(sec)%windowSeconds]
	for {
		v := b.Load()
		var nv uint64
		if wSec(v) != s || v == 0 {
			nv = s << (2 * wCountBits)
		} else {
			nv = v
			if wReqs(nv) == wCountMax {
				return // saturated for this second
			}
		}
		nv++
		if isErr {
			nv += 1 << wCountBits
		}
		if b.CompareAndSwap(v, nv) {
			return
		}
	}
}

// rates returns requests per second and the share of errors over the
// windowSeconds whole seconds before now (monoSecond), or over the
// seconds since since when that is shorter (at least one second).
func (w *rateWindow) rates(now, since int64) (rps, errRate float64) {
	span := min(max(now-since, 1), windowSeconds)
	var reqs, errs uint64
	for sec := now - span; sec < now; sec++ {
		v := w.buckets[uint64(sec)%windowSeconds].Load()
		if v == 0 || wSec(v) != uint64(sec)&wSecMask {
			continue
		}
		reqs += wReqs(v)
		errs += wErrs(v)
	}
	rps = float64(reqs) / float64(span)
	if reqs > 0 {
		errRate = float64(errs) / float64(reqs)
	}
	return rps, errRate
}
