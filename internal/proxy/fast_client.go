package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The fast path's HTTP/1.1 client: keep-alive connections to the targets
// of one pool, each used by one request at a time, by the goroutine that
// serves the request (no read/write loop goroutines, no channel hand-offs
// as in http.Transport). Idle connections are kept per target, newest
// first; a connection idle longer than fastIdleTimeout is closed.
const (
	// fastIdleTimeout is shorter than the usual keep-alive timeouts of app
	// servers (Node.js: 5s) so the proxy, not the app, closes an idle
	// connection: a request rarely races the app's close.
	fastIdleTimeout  = 4 * time.Second
	fastMaxIdle      = 512 // per target
	fastBufSize      = 16 << 10
	fastDialTimeout  = 5 * time.Second
	fastMaxHeaderLen = 1 << 20 // response header bytes, status line included
	// fastSweepInterval is how soon a request whose client went away
	// releases its target connection.
	fastSweepInterval = 100 * time.Millisecond
	// fastCheckAfter: a connection idle longer than this is checked (one
	// non-blocking peek) before it is reused, so a connection the app
	// closed meanwhile is not handed to a request that cannot be retried.
	fastCheckAfter = time.Second
)

// errFastClosed is returned for a connection asked of a closed client.
var errFastClosed = errors.New("proxy pool closed")

// fastClient owns every connection of a pool's fast path. It lives as long
// as the pool: context.AfterFunc on the pool's request context closes all
// of them (idle and busy) when the pool cuts its requests or closes.
type fastClient struct {
	hosts       map[*target]*hostConns // immutable after newFastClient
	dialer      net.Dialer
	idleTimeout time.Duration // fastIdleTimeout; tests shorten it

	mu     sync.Mutex
	conns  map[*fconn]struct{} // every open connection, for the cut
	closed atomic.Bool         // set under mu

	sweeping atomic.Bool // a sweep is scheduled (set under mu when cleared)
}

// hostConns is the idle connections of one target: one stack per
// affinity slot, newest last. Slot 0 holds the connections no event loop
// watches; slot i those last watched by the event loops of slot i (a
// loop takes from its own slot first, so its connections stay registered
// with it).
type hostConns struct {
	addr string
	mu   sync.Mutex
	idle [idleSlots][]*fconn
}

// idleSlots is the number of affinity slots of idle connections.
const idleSlots = 4

// fconn is one connection to a target with its buffers.
type fconn struct {
	net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	hc      *hostConns
	idleAt  int64                        // nanotime when put back idle
	reused  bool                         // served a request before the current one
	scratch []byte                       // response header bytes of the current request
	busy    atomic.Pointer[http.Request] // the request using c; nil when idle
	// done is the Done channel of the busy request's context, set by
	// begin in the request's goroutine: the sweep reads it, never the
	// request (a server may reuse the request for the next one).
	done    atomic.Value  // of <-chan struct{}
	phase   atomic.Uint32 // of the current request: phaseIdle… (retry.go)
	sent1xx bool          // an informational response went to the client
	dead    atomic.Bool   // closed
	connMu  sync.Mutex    // an event loop swaps Conn for a loopFd under it (close reads it)
	slot    uint8         // affinity slot of its idle stack (hostConns)

	// The event loop (evloop_linux.go) reads a response itself: pre holds
	// the bytes it read and did not hand on, preErr the read error that
	// ended them; br reads them before the socket. preOnly (set while the
	// loop answers from pre) makes a read past them fail instead of
	// waiting on the socket.
	pre     []byte
	preErr  error
	preOnly bool
	ev      fconnEv
}

// errWouldWait is a read past the bytes the event loop had, while it
// answers from them alone.
var errWouldWait = errors.New("proxy event loop: read past the buffered response")

// Read reads what the event loop left in pre, then the connection.
func (c *fconn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	if c.preErr != nil {
		err := c.preErr
		c.preErr = nil
		return 0, err
	}
	if c.preOnly {
		return 0, errWouldWait
	}
	return c.Conn.Read(p)
}

// close closes the connection (any goroutine).
func (c *fconn) close() {
	c.dead.Store(true)
	c.connMu.Lock()
	nc := c.Conn
	c.connMu.Unlock()
	nc.Close()
}

func newFastClient(targets []*target, cut context.Context) *fastClient {
	fc := &fastClient{
		hosts:       make(map[*target]*hostConns, len(targets)),
		dialer:      net.Dialer{Timeout: fastDialTimeout, KeepAlive: 30 * time.Second},
		idleTimeout: fastIdleTimeout,
		conns:       map[*fconn]struct{}{},
	}
	for _, t := range targets {
		fc.hosts[t] = &hostConns{addr: t.Addr}
	}
	context.AfterFunc(cut, fc.closeAll)
	return fc
}

// get returns an idle connection to t, or dials one. A dial failure is
// returned as the dialer's *net.OpError (Op "dial").
func (fc *fastClient) get(ctx context.Context, t *target) (*fconn, error) {
	if fc.closed.Load() {
		return nil, errFastClosed
	}
	if c := fc.idle(t, 0); c != nil {
		return c, nil
	}
	return fc.dial(ctx, fc.hosts[t])
}

// idle returns an idle connection to t fit for reuse, or nil. Slot 0
// (a goroutine) takes from slot 0 only: the other slots hold sockets an
// event loop took out of the netpoller, on which a goroutine would wait
// in a system call, holding a thread. An event loop's slot takes from
// its own first, then from the others.
func (fc *fastClient) idle(t *target, slot int) *fconn {
	hc := fc.hosts[t]
	now := nanotime()
	slots := idleSlots
	if slot == 0 {
		slots = 1
	}
	hc.mu.Lock()
	for i := range slots {
		st := &hc.idle[(slot+i)%idleSlots]
		for n := len(*st); n > 0; n = len(*st) {
			c := (*st)[n-1]
			(*st)[n-1] = nil
			*st = (*st)[:n-1]
			if idle := time.Duration(now - c.idleAt); idle < fc.idleTimeout && (idle < fastCheckAfter || c.alive()) {
				hc.mu.Unlock()
				c.reused = true
				return c
			}
			hc.mu.Unlock()
			fc.discard(c)
			hc.mu.Lock()
		}
	}
	hc.mu.Unlock()
	return nil
}

func (fc *fastClient) dial(ctx context.Context, hc *hostConns) (*fconn, error) {
	nc, err := fc.dialer.DialContext(ctx, "tcp", hc.addr)
	if err != nil {
		return nil, err
	}
	c := &fconn{
		Conn: nc,
		bw:   bufio.NewWriterSize(nc, fastBufSize),
		hc:   hc,
	}
	c.br = bufio.NewReaderSize(c, fastBufSize)
	fc.mu.Lock()
	if fc.closed.Load() {
		fc.mu.Unlock()
		nc.Close()
		return nil, errFastClosed
	}
	fc.conns[c] = struct{}{}
	fc.mu.Unlock()
	fc.startSweep()
	return c, nil
}

// put returns c to its target's idle stack (or closes it when the stack is
// full or the client closed).
func (fc *fastClient) put(c *fconn) {
	c.idleAt = nanotime()
	if len(c.scratch) > 4<<10 {
		c.scratch = nil // do not keep one huge header's buffer
	}
	if c.br.Buffered() > 0 || len(c.pre) > 0 {
		fc.discard(c) // the app sent more than its response
		return
	}
	hc := c.hc
	hc.mu.Lock()
	st := &hc.idle[c.slot]
	if len(*st) >= fastMaxIdle {
		hc.mu.Unlock()
		fc.discard(c)
		return
	}
	*st = append(*st, c)
	hc.mu.Unlock()
	// A cut that ran between the caller's I/O and this put must not leave
	// c open: closeAll sets closed before it closes conns.
	if fc.closed.Load() {
		fc.discard(c)
	}
}

// discard closes c and forgets it.
func (fc *fastClient) discard(c *fconn) {
	c.close()
	fc.mu.Lock()
	delete(fc.conns, c)
	fc.mu.Unlock()
}

// killedReq marks a connection whose request the sweep cut because its
// client went away.
var killedReq = new(http.Request)

// use starts the exchange of r on c: waiting for an answer, busy with r
// for the sweep and cutWaiting. release ends it.
func (c *fconn) use(r *http.Request) {
	c.sent1xx = false
	c.phase.Store(phaseWaiting)
	c.begin(r)
}

// release ends r's use of c: c goes back to the idle stack when keep and
// the sweep did not cut it, else it is closed.
func (fc *fastClient) release(c *fconn, r *http.Request, keep bool) {
	c.phase.Store(phaseIdle)
	c.preOnly, c.preErr = false, nil
	if c.end(r) && keep {
		fc.put(c)
	} else {
		fc.discard(c)
	}
}

// begin marks c busy with r, for the sweep.
func (c *fconn) begin(r *http.Request) {
	c.done.Store(r.Context().Done())
	c.busy.Store(r)
}

// end marks c no longer busy; false when the sweep closed c because r's
// client went away.
func (c *fconn) end(r *http.Request) bool { return c.busy.CompareAndSwap(r, nil) }

// sendHead writes the request head buffered in c.bw and waits for the
// first byte of the answer, at most timeout when positive. A request cut
// while it waited (cutWaiting, or a cut just as the byte came) fails with
// errTargetDown.
func (c *fconn) sendHead(timeout time.Duration) error {
	err := c.bw.Flush()
	if err == nil {
		if timeout > 0 {
			_ = c.Conn.SetReadDeadline(time.Now().Add(timeout))
		}
		_, err = c.br.Peek(1)
	}
	if err == nil && !c.phase.CompareAndSwap(phaseWaiting, phaseAnswer) {
		return errTargetDown // cut just as the first byte came
	}
	if err != nil && c.phase.Load() == phaseCut {
		return errTargetDown
	}
	return err
}

// stale reports whether err, a failure of sendHead on c, looks like a
// reused keep-alive connection the target had closed: nothing came back
// and the wait did not time out.
func (c *fconn) stale(err error) bool {
	return c.reused && c.br.Buffered() == 0 && !isTimeout(err)
}

// startSweep schedules the sweep unless it is scheduled already.
func (fc *fastClient) startSweep() {
	if !fc.sweeping.Load() && fc.sweeping.CompareAndSwap(false, true) {
		time.AfterFunc(fastSweepInterval, fc.sweep)
	}
}

// sweep runs every fastSweepInterval while the client has connections:
// it closes the connection of a request whose client went away (so a
// target does not work for nobody, and a long poll ends), and idle
// connections older than fastIdleTimeout. This replaces a
// context.AfterFunc per request (six allocations) by two atomic stores.
func (fc *fastClient) sweep() {
	fc.mu.Lock()
	for c := range fc.conns {
		if r := c.busy.Load(); r != nil && r != killedReq && gone(c.done.Load()) &&
			c.busy.CompareAndSwap(r, killedReq) {
			c.close() // the request's goroutine discards c
		}
	}
	fc.mu.Unlock()

	now := nanotime()
	var stale []*fconn
	for _, hc := range fc.hosts {
		hc.mu.Lock()
		for i := range hc.idle {
			st := &hc.idle[i]
			keep := (*st)[:0]
			for _, c := range *st {
				if time.Duration(now-c.idleAt) >= fc.idleTimeout {
					stale = append(stale, c)
				} else {
					keep = append(keep, c)
				}
			}
			clear((*st)[len(keep):])
			*st = keep
		}
		hc.mu.Unlock()
	}
	for _, c := range stale {
		fc.discard(c)
	}

	fc.mu.Lock()
	more := len(fc.conns) > 0 && !fc.closed.Load()
	if !more {
		fc.sweeping.Store(false)
	}
	fc.mu.Unlock()
	if more {
		time.AfterFunc(fastSweepInterval, fc.sweep)
	}
}

// closeAll closes every connection, idle or in use, and refuses new ones:
// requests in flight on the fast path fail their I/O and end.
func (fc *fastClient) closeAll() {
	fc.mu.Lock()
	fc.closed.Store(true)
	conns := fc.conns
	fc.conns = map[*fconn]struct{}{}
	fc.mu.Unlock()
	for c := range conns {
		c.close()
	}
	for _, hc := range fc.hosts {
		hc.mu.Lock()
		for i := range hc.idle {
			clear(hc.idle[i])
			hc.idle[i] = hc.idle[i][:0]
		}
		hc.mu.Unlock()
	}
}

// open returns how many connections the client holds (idle and busy).
func (fc *fastClient) open() int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return len(fc.conns)
}

// gone reports whether done (a context's Done channel, or nil) is closed.
func gone(done any) bool {
	ch, _ := done.(<-chan struct{})
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
