package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one container a pool sends traffic to.
type Target struct {
	ID   string // container id
	Name string // container name
	Addr string // "ip:port"
}

// TargetStatus is a snapshot of one target of a pool.
type TargetStatus struct {
	Target
	Healthy   bool
	LastError string // of the last failed check; empty after a pass
	LastCheck time.Time
	InFlight  int64
	Served    uint64
	// RPS is the target's requests per second and ErrorRate the share of
	// them answered 5xx (by the app or by the proxy: 502, 504), over the
	// last minute (or since the pool was made, when that is shorter).
	RPS       float64
	ErrorRate float64
	// Errors counts the target's failed exchanges since the pool was made.
	Errors UpstreamErrors
}

// DrainResult tells how a drain went.
type DrainResult struct {
	Waited time.Duration // from the start of the drain until in-flight was 0 or the timeout
	Cut    int           // requests cancelled at the timeout
	// Long counts the WebSockets and event streams among the requests
	// (LongConns); Cut includes those Long.Closed.
	Long LongConns
	// Stopped says the drain was ended early by the proxy's shutdown
	// (ShutdownDrains), not by its requests or its deadline.
	Stopped bool
}

// ctxShards spreads the per-request registration on the pool's request
// context over several mutexes.
const ctxShards = 8

// Pool is an immutable set of targets of one release of a routed service.
// It composes the parts that each do one job (doc.go): the balancer
// (targetSet), the health checker and the observer (poolStats); itself it
// forwards requests to the targets (forward.go, fast_serve.go, lane.go,
// retry.go) and owns the lifecycle: NewPool starts the parts, Drain and
// Close stop them.
type Pool struct {
	// targetSet is the balancer (balancer.go): the targets, the healthy
	// subset, pick and the in-flight count. Embedded so that the request
	// path calls p.pick, p.enter and p.leave directly.
	targetSet

	health *healthChecker // the targets' health (health.go)

	key     RouteKey
	release string
	log     *slog.Logger

	stats poolStats // the observer: request totals, targets' counters (stats.go)
	long  longConns // its WebSockets and event streams, for the drain's counts (long.go)
	ids   *idGen    // request ids (reqid.go)

	reqCtx     context.Context // parent of every proxied request; cancelled to cut them
	cutReqs    context.CancelFunc
	shards     [ctxShards]context.Context
	shardStops [ctxShards]context.CancelFunc

	done chan struct{} // closed by Close

	closeOnce sync.Once
	transport *http.Transport
	rp        *httputil.ReverseProxy
}

// target is one target of a pool as the request path holds it: its
// request counters (read by poolStats) and its unreachable signal
// (retry.go). Its health is the healthChecker's.
type target struct {
	Target
	inflight atomic.Int64
	served   atomic.Uint64
	upErrs   [numKinds]atomic.Uint64 // by kind (stats.go)
	window   rateWindow              // the last minute's requests and errors
	reach    atomic.Pointer[reach]   // cancelled when t leaves rotation unreachable (retry.go)
	// idx is t's index in the pool's targets: its name to the fast
	// client (upstream.Client).
	idx int
}

// NewPool returns a pool of targets for key's release and starts their
// health checks. Every target starts unhealthy and takes traffic once it
// has passed hc.HealthyThreshold consecutive checks.
func NewPool(key RouteKey, release string, targets []Target, hc HealthConfig, logger *slog.Logger) *Pool {
	if logger == nil {
		logger = slog.Default()
	}
	hc = hc.withDefaults()
	p := &Pool{
		key:     key,
		release: release,
		log: logger.With("component", "proxy", "app", key.App, "env", key.Env,
			"service", key.Service, "release", release),
		ids:  newIDGen(),
		done: make(chan struct{}),
	}
	p.stats.born = monoSecond()
	ts := make([]*target, 0, len(targets))
	for _, t := range targets {
		nt := &target{Target: t, idx: len(ts)}
		nt.reach.Store(newReach())
		ts = append(ts, nt)
	}
	p.targetSet.init(ts)
	reqCtx, cut := context.WithCancelCause(context.Background())
	p.reqCtx, p.cutReqs = reqCtx, func() { cut(errPoolCut) }
	for i := range p.shards {
		p.shards[i], p.shardStops[i] = context.WithCancel(p.reqCtx)
	}
	p.transport = newTransport()
	p.rp = p.newReverseProxy()
	p.health = newHealthChecker(ts, hc, p.log, p.setHealthy, p.cutWaiting)
	p.health.start()
	return p
}

// Key returns the route key the pool was built for.
func (p *Pool) Key() RouteKey { return p.key }

// Release returns the release label the pool was built for.
func (p *Pool) Release() string { return p.release }

// Healthy returns how many targets are in rotation.
func (p *Pool) Healthy() int { return p.healthyCount() }

// InFlight returns how many requests the pool is serving.
func (p *Pool) InFlight() int64 { return p.inFlight() }

// Status returns a snapshot of every target, in the order given to NewPool.
func (p *Pool) Status() []TargetStatus {
	return p.statusAt(monoSecond())
}

// statusAt is Status with the rate window read at now (monoSecond).
func (p *Pool) statusAt(now int64) []TargetStatus {
	health := p.health.snapshot()
	out := make([]TargetStatus, len(p.targets))
	for i, t := range p.targets {
		out[i] = TargetStatus{Target: t.Target, Healthy: health[i].healthy,
			LastError: health[i].lastErr, LastCheck: health[i].lastCheck}
		p.stats.targetStatus(&out[i], t, now)
	}
	return out
}

// WaitHealthy returns nil once at least n targets are healthy. When ctx
// ends first it returns an error naming each unhealthy target with its
// address and the error of its last check.
func (p *Pool) WaitHealthy(ctx context.Context, n int) error {
	if n > len(p.targets) {
		return fmt.Errorf("%s release %s: want %d healthy targets but the pool has %d", p.key, p.release, n, len(p.targets))
	}
	for {
		ch := p.health.changes()
		if p.Healthy() >= n {
			return nil
		}
		select {
		case <-ch:
		case <-p.done:
			return fmt.Errorf("%s release %s: pool closed while waiting for %d healthy targets", p.key, p.release, n)
		case <-ctx.Done():
			return p.unhealthyError(ctx, n)
		}
	}
}

func (p *Pool) unhealthyError(ctx context.Context, n int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s release %s: %d/%d targets healthy, want %d", p.key, p.release, p.Healthy(), len(p.targets), n)
	for _, st := range p.Status() {
		if st.Healthy {
			continue
		}
		why := st.LastError
		if why == "" {
			why = "no check failed yet"
			if !st.LastCheck.IsZero() {
				why = "passing, not yet enough consecutive checks"
			}
		}
		fmt.Fprintf(&b, "; %s (%s): %s", st.Name, st.Addr, why)
	}
	return fmt.Errorf("%s: %w", b.String(), context.Cause(ctx))
}

// Drain is for a pool that was swapped out: it waits until the pool's
// in-flight requests (streams and upgraded connections included) are done,
// at most timeout (or until ctx ends), then cancels what is left and closes
// the pool. Requests still arriving on the pool route again.
func (p *Pool) Drain(ctx context.Context, timeout time.Duration) DrainResult {
	start := time.Now()
	long := p.long.mark()
	p.retire()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var res DrainResult
	p.awaitIdle(ctx.Done(), timer.C)
	res.Waited = time.Since(start)
	res.Long = p.long.since(long)
	if n := p.inFlight(); n > 0 {
		res.Cut = int(n)
		p.log.Warn("drain timeout: cutting requests", "in_flight", n, "waited", res.Waited)
		p.cutReqs()
		// Give the cancelled requests a moment to unwind so their
		// connections are closed before the pool is.
		grace := time.NewTimer(2 * time.Second)
		defer grace.Stop()
		p.awaitIdle(nil, grace.C)
	}
	p.Close()
	p.log.Info("pool drained", "waited", res.Waited, "cut", res.Cut)
	return res
}

// Close stops the health checks, cancels any request still in flight and
// closes idle connections. It is for a pool that was never routed, or
// that was removed from the routing table; Drain calls it.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		p.retire()
		p.health.stop()
		p.cutReqs()
		for _, stop := range p.shardStops {
			stop()
		}
		p.transport.CloseIdleConnections()
		close(p.done)
	})
}

// errPoolCut is the cause of requests cut at the end of a drain.
var errPoolCut = errors.New("cut at the drain timeout")
