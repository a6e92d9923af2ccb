package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// HealthConfig configures a pool's active health checks.
type HealthConfig struct {
	Path               string // GET path; default "/"
	Host               string // Host header for probes; empty: the target's addr
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
}

// Defaults applied to zero fields of a HealthConfig.
const (
	DefaultHealthInterval     = time.Second
	DefaultHealthTimeout      = 2 * time.Second
	DefaultHealthyThreshold   = 1
	DefaultUnhealthyThreshold = 2

	// fastProbeInterval is how often an unhealthy target is probed, so a
	// new release is seen healthy within tens of milliseconds.
	fastProbeInterval = 20 * time.Millisecond

	// confirmTimeout bounds the probe that confirms a timeout of a target
	// in rotation: a hung container leaves rotation about a second after
	// its first probe timed out, not a whole Timeout later.
	confirmTimeout = time.Second
)

func (hc HealthConfig) withDefaults() HealthConfig {
	if hc.Path == "" {
		hc.Path = "/"
	} else if hc.Path[0] != '/' {
		hc.Path = "/" + hc.Path
	}
	if hc.Interval <= 0 {
		hc.Interval = DefaultHealthInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultHealthTimeout
	}
	if hc.HealthyThreshold <= 0 {
		hc.HealthyThreshold = DefaultHealthyThreshold
	}
	if hc.UnhealthyThreshold <= 0 {
		hc.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	return hc
}

func newProbeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
			TLSNextProto:        nilTLSNextProto,
		},
		// 3xx passes: do not follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// healthChecker is a pool's active health checking: one goroutine per
// target probes it, counts consecutive passes and failures against the
// thresholds, and decides whether it is in rotation.
//
// Invariants:
//
//   - Every target starts out of rotation and enters it after
//     HealthyThreshold consecutive passes; it leaves after
//     UnhealthyThreshold consecutive failures (of probes or of requests,
//     fail). Out of rotation, or after a failure to confirm, a target is
//     probed every fastProbeInterval, not every Interval.
//   - The checker owns each target's check state (checks, under mu); it
//     reads only the targets' immutable fields. It publishes each change
//     of the healthy subset, whole and in target order, through publish
//     and then wakes whoever waits on changes, both under mu, so that a
//     waiter that read changes before counting sees the next change.
//   - A target that leaves rotation as unreachable (no answer: refused,
//     reset, timeout; not a bad status) is handed to unreachable, once
//     per such failure.
//   - Its goroutines run from start to stop; stop waits for them.
type healthChecker struct {
	cfg         HealthConfig // with defaults
	log         *slog.Logger
	publish     func(healthy []*target) // the new subset in rotation
	unreachable func(*target)           // t left rotation without answering
	client      *http.Client

	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	checks  []*check      // one per target, in target order
	changed chan struct{} // closed and replaced on each change of the subset
}

// check is the health of one target, guarded by healthChecker.mu but for
// t and url.
type check struct {
	t         *target
	url       string // probed
	healthy   bool
	passes    int
	fails     int
	lastErr   string
	lastCheck time.Time
}

// checkStatus is a snapshot of one target's health.
type checkStatus struct {
	healthy   bool
	lastErr   string
	lastCheck time.Time
}

// newHealthChecker returns a checker of targets (cfg with defaults
// applied); start starts it.
func newHealthChecker(targets []*target, cfg HealthConfig, log *slog.Logger, publish func([]*target), unreachable func(*target)) *healthChecker {
	h := &healthChecker{cfg: cfg, log: log, publish: publish, unreachable: unreachable,
		client: newProbeClient(), changed: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	for _, t := range targets {
		h.checks = append(h.checks, &check{t: t, url: "http://" + t.Addr + cfg.Path})
	}
	return h
}

// start starts one probing goroutine per target.
func (h *healthChecker) start() {
	for _, c := range h.checks {
		h.wg.Add(1)
		go h.checkLoop(c)
	}
}

// stop stops the probes, waits for their goroutines and closes the
// probes' idle connections.
func (h *healthChecker) stop() {
	h.cancel()
	h.wg.Wait()
	h.client.CloseIdleConnections()
}

// changes returns a channel closed at the next change of the healthy
// subset.
func (h *healthChecker) changes() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// snapshot returns every target's health, in target order.
func (h *healthChecker) snapshot() []checkStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]checkStatus, len(h.checks))
	for i, c := range h.checks {
		out[i] = checkStatus{healthy: c.healthy, lastErr: c.lastErr, lastCheck: c.lastCheck}
	}
	return out
}

// carry puts the targets that pass keep in rotation at once, as if they
// had just passed HealthyThreshold checks (NewPoolFrom: they did in the
// pool this one replaces).
func (h *healthChecker) carry(keep func(*target) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	carried := false
	for _, c := range h.checks {
		if !c.healthy && keep(c.t) {
			c.healthy, c.passes, c.lastCheck = true, h.cfg.HealthyThreshold, time.Now()
			carried = true
		}
	}
	if carried {
		h.publishLocked()
	}
}

// checkLoop probes c's target until stop: fast while it is out of
// rotation, every Interval while it is in.
func (h *healthChecker) checkLoop(c *check) {
	defer h.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	timeout := h.cfg.Timeout
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-timer.C:
		}
		err := h.probe(c, timeout)
		if h.ctx.Err() != nil {
			return
		}
		healthy := h.record(c, err, timeout)
		timeout = h.cfg.Timeout
		if healthy && err != nil && isDeadline(err) {
			timeout = min(timeout, confirmTimeout)
		}
		next := h.cfg.Interval
		if !healthy || err != nil {
			// Out of rotation, or a failure to confirm (or clear) at
			// once: a dead target leaves rotation after
			// UnhealthyThreshold timeouts, not as many intervals more.
			next = min(next, fastProbeInterval)
		}
		timer.Reset(next)
	}
}

type statusError int

func (e statusError) Error() string { return fmt.Sprintf("status %d", int(e)) }

func (h *healthChecker) probe(c *check, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(h.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	if h.cfg.Host != "" {
		req.Host = h.cfg.Host
	}
	req.Header.Set("User-Agent", "berth-health-check")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return statusError(resp.StatusCode)
	}
	return nil
}

// record applies one probe result to c and reports whether its target is
// in rotation afterwards. A probe that got no answer (refused, reset,
// timeout) says the target is unreachable; one answered with a bad
// status does not.
func (h *healthChecker) record(c *check, err error, timeout time.Duration) bool {
	if err != nil {
		var se statusError
		why := h.describe(err)
		if isDeadline(err) {
			why = "timeout after " + timeout.String()
		}
		return h.result(c, false, why, !errors.As(err, &se))
	}
	return h.result(c, true, "", false)
}

// fail counts a failed request to t (why says how it failed) as a failed
// check of t.
func (h *healthChecker) fail(t *target, why string, unreachable bool) {
	for _, c := range h.checks { // immutable; a handful of targets
		if c.t == t {
			h.result(c, false, why, unreachable)
			return
		}
	}
}

// result applies one check result to c and reports whether its target is
// in rotation afterwards. When a failure that says the target is
// unreachable leaves it out of rotation, unreachable is told.
func (h *healthChecker) result(c *check, ok bool, why string, unreachable bool) bool {
	healthy := h.apply(c, ok, why)
	if !ok && unreachable && !healthy {
		h.unreachable(c.t)
	}
	return healthy
}

func (h *healthChecker) apply(c *check, ok bool, why string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.lastCheck = time.Now()
	changed := false
	t := c.t
	if ok {
		c.lastErr = ""
		c.fails = 0
		c.passes++
		if !c.healthy && c.passes >= h.cfg.HealthyThreshold {
			c.healthy, changed = true, true
			h.log.Info("target healthy", "target", t.Name, "addr", t.Addr)
		}
	} else {
		c.lastErr = why
		c.passes = 0
		c.fails++
		if c.healthy && c.fails >= h.cfg.UnhealthyThreshold {
			c.healthy, changed = false, true
			h.log.Warn("target unhealthy", "target", t.Name, "addr", t.Addr, "error", c.lastErr)
		}
	}
	if changed {
		h.publishLocked()
	}
	return c.healthy
}

// publishLocked publishes the healthy subset of the targets and wakes
// the waiters on changes; h.mu is held.
func (h *healthChecker) publishLocked() {
	sub := make([]*target, 0, len(h.checks))
	for _, c := range h.checks {
		if c.healthy {
			sub = append(sub, c.t)
		}
	}
	h.publish(sub)
	close(h.changed)
	h.changed = make(chan struct{})
}

// describe turns a check error into the short text users see, e.g.
// "connection refused", "status 500", "timeout after 2s".
func (h *healthChecker) describe(err error) string {
	var se statusError
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case isDeadline(err):
		return "timeout after " + h.cfg.Timeout.String()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without a response"
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// isDeadline says err is a probe's or request's timeout.
func isDeadline(err error) bool { return errors.Is(err, context.DeadlineExceeded) || isTimeout(err) }
