package l4

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one backend: a container's address on its network.
type Target struct {
	ID   string // the container's ID
	Name string // for messages
	Addr string // host:port
}

// Counters are a listener's (or pool's) connection counts since it was
// made: TCP connections or UDP flows.
type Counters struct {
	// Served reached a target; Failed found no target that took them;
	// Cut were closed by a drain timeout.
	Served, Failed, Cut uint64
}

// Pool is one release's targets for one listener. It is immutable once
// made; the connections and flows it carries are tracked so that Drain
// can wait for them and cut them.
type Pool struct {
	release string
	targets []Target
	next    atomic.Uint64

	own, parent *counts // the pool's, and its listener's (nil: none)

	mu      sync.Mutex
	open    map[closer]struct{}
	changed chan struct{} // closed and replaced when a connection ends
	closed  bool          // drained: no new connections
}

type closer interface{ Close() error }

// NewPool returns a pool of targets, labelled release (for messages).
func NewPool(release string, targets []Target) *Pool {
	return &Pool{release: release, targets: append([]Target(nil), targets...), own: &counts{}, open: map[closer]struct{}{}, changed: make(chan struct{})}
}

// Release is the label the pool was made with.
func (p *Pool) Release() string { return p.release }

// Targets returns a copy of the pool's targets.
func (p *Pool) Targets() []Target { return append([]Target(nil), p.targets...) }

// Counters returns the pool's counts.
func (p *Pool) Counters() Counters {
	return p.own.get()
}

// counts are atomic Counters.
type counts struct{ served, failed, cut atomic.Uint64 }

func (c *counts) get() Counters {
	return Counters{Served: c.served.Load(), Failed: c.failed.Load(), Cut: c.cut.Load()}
}

// count adds one to the field f picks, in the pool's and its listener's
// counts.
func (p *Pool) count(f func(*counts) *atomic.Uint64, n uint64) {
	f(p.own).Add(n)
	if p.parent != nil {
		f(p.parent).Add(n)
	}
}

func served(c *counts) *atomic.Uint64 { return &c.served }
func failed(c *counts) *atomic.Uint64 { return &c.failed }
func cut(c *counts) *atomic.Uint64    { return &c.cut }

// Open is how many connections or flows the pool carries now.
func (p *Pool) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.open)
}

// order returns the targets to try for a new connection, round robin.
func (p *Pool) order() []Target {
	n := len(p.targets)
	if n == 0 {
		return nil
	}
	start := int(p.next.Add(1)-1) % n
	out := make([]Target, 0, n)
	for i := range n {
		out = append(out, p.targets[(start+i)%n])
	}
	return out
}

// track adds c to the pool's open connections; false when the pool was
// drained meanwhile (the caller closes c).
func (p *Pool) track(c closer) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.open[c] = struct{}{}
	return true
}

// untrack removes c, waking a drain.
func (p *Pool) untrack(c closer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.open[c]; !ok {
		return
	}
	delete(p.open, c)
	close(p.changed)
	p.changed = make(chan struct{})
}

// DrainResult says how a drain went.
type DrainResult struct {
	Waited time.Duration
	// Cut is how many connections were still open at the timeout and
	// were closed.
	Cut int
}

// Drain waits until the pool's open connections and flows have ended,
// at most timeout, then closes what is left. Call it on a pool that is
// no longer current (Swap returned it): connections it already carries
// go on, none are added. A zero timeout cuts at once.
func (p *Pool) Drain(timeout time.Duration) DrainResult {
	return p.DrainContext(context.Background(), timeout)
}

// DrainContext is Drain that also cuts what is left when ctx ends
// before the timeout (its owner stops).
func (p *Pool) DrainContext(ctx context.Context, timeout time.Duration) DrainResult {
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
wait:
	for {
		p.mu.Lock()
		n, ch := len(p.open), p.changed
		p.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ch:
		case <-deadline.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	p.mu.Lock()
	p.closed = true
	left := make([]closer, 0, len(p.open))
	for c := range p.open {
		left = append(left, c)
	}
	p.mu.Unlock()
	for _, c := range left {
		c.Close()
	}
	p.count(cut, uint64(len(left)))
	return DrainResult{Waited: time.Since(start), Cut: len(left)}
}

// dialTimeout bounds the dial of one target.
const dialTimeout = 2 * time.Second

// dial connects to the first target of the round-robin order that
// accepts, so a dead container costs a retry, not a refused client.
func (p *Pool) dial(network string) (net.Conn, Target, bool) {
	for _, t := range p.order() {
		c, err := net.DialTimeout(network, t.Addr, dialTimeout)
		if err == nil {
			return c, t, true
		}
	}
	return nil, Target{}, false
}
