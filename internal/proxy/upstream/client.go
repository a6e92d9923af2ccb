package upstream

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

// The client: keep-alive connections to the targets of one pool, each
// used by one request at a time, by the goroutine that serves the request
// (no read/write loop goroutines, no channel hand-offs as in
// http.Transport). Idle connections are kept per target, newest first; a
// connection idle longer than the idle timeout is closed.
const (
	// idleTimeout is shorter than the usual keep-alive timeouts of app
	// servers (Node.js: 5s) so the proxy, not the app, closes an idle
	// connection: a request rarely races the app's close.
	idleTimeout = 4 * time.Second
	maxIdle     = 512 // per target
	dialTimeout = 5 * time.Second
	// sweepInterval is how soon a request whose client went away
	// releases its target connection.
	sweepInterval = 100 * time.Millisecond

	// BufSize is the size of a connection's read and write buffers.
	BufSize = 16 << 10
	// MaxHeaderLen bounds the bytes of a response head, status line
	// included.
	MaxHeaderLen = 1 << 20
	// CheckAfter: a connection idle longer than this is checked (one
	// non-blocking peek) before it is reused, so a connection the app
	// closed meanwhile is not handed to a request that cannot be retried.
	CheckAfter = time.Second
	// Slots is the number of affinity slots of idle connections (see
	// Client.Idle).
	Slots = 4
)

// ErrClosed is returned for a connection asked of a closed client.
var ErrClosed = errors.New("proxy pool closed")

// Client owns every connection to a fixed list of targets, each named by
// its index in the list given to NewClient. It lives as long as its
// cut context: when that is done, every connection (idle and busy) is
// closed and no new one is made.
type Client struct {
	hosts  []*hostConns // by target index; immutable after NewClient
	dialer net.Dialer
	// IdleTimeout is how long a connection may stay idle before it is
	// closed. NewClient sets it to 4s, shorter than the usual keep-alive
	// timeouts of app servers; change it only before the first request.
	IdleTimeout time.Duration

	mu     sync.Mutex
	conns  map[*Conn]struct{} // every open connection, for the cut
	closed atomic.Bool        // set under mu

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
	idle [Slots][]*Conn
}

// NewClient returns a client of the targets at addrs (target i at
// addrs[i]), whose connections all close once cut is done.
func NewClient(addrs []string, cut context.Context) *Client {
	fc := &Client{
		hosts:       make([]*hostConns, len(addrs)),
		dialer:      net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		IdleTimeout: idleTimeout,
		conns:       map[*Conn]struct{}{},
	}
	for i, a := range addrs {
		fc.hosts[i] = &hostConns{addr: a}
	}
	context.AfterFunc(cut, fc.closeAll)
	return fc
}

// Closed reports whether the client was cut: it makes no connection any
// more.
func (fc *Client) Closed() bool { return fc.closed.Load() }

// Get returns an idle connection to target i, or dials one. A dial
// failure is returned as the dialer's *net.OpError (Op "dial").
func (fc *Client) Get(ctx context.Context, i int) (*Conn, error) {
	if fc.closed.Load() {
		return nil, ErrClosed
	}
	if c := fc.Idle(i, 0); c != nil {
		return c, nil
	}
	return fc.Dial(ctx, i)
}

// Idle returns an idle connection to target i fit for reuse, or nil.
// Slot 0 (a goroutine) takes from slot 0 only: the other slots hold
// sockets an event loop took out of the netpoller, on which a goroutine
// would wait in a system call, holding a thread. An event loop's slot
// takes from its own first, then from the others.
func (fc *Client) Idle(i, slot int) *Conn {
	hc := fc.hosts[i]
	now := nanotime()
	slots := Slots
	if slot == 0 {
		slots = 1
	}
	hc.mu.Lock()
	for i := range slots {
		st := &hc.idle[(slot+i)%Slots]
		for n := len(*st); n > 0; n = len(*st) {
			c := (*st)[n-1]
			(*st)[n-1] = nil
			*st = (*st)[:n-1]
			if idle := time.Duration(now - c.idleAt); idle < fc.IdleTimeout && (idle < CheckAfter || c.alive()) {
				hc.mu.Unlock()
				c.reused = true
				return c
			}
			hc.mu.Unlock()
			fc.Discard(c)
			hc.mu.Lock()
		}
	}
	hc.mu.Unlock()
	return nil
}

// Dial opens a new connection to target i.
func (fc *Client) Dial(ctx context.Context, i int) (*Conn, error) {
	hc := fc.hosts[i]
	nc, err := fc.dialer.DialContext(ctx, "tcp", hc.addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{
		nc: nc,
		bw: bufio.NewWriterSize(nc, BufSize),
		hc: hc,
	}
	c.br = bufio.NewReaderSize(c, BufSize)
	fc.mu.Lock()
	if fc.closed.Load() {
		fc.mu.Unlock()
		nc.Close()
		return nil, ErrClosed
	}
	fc.conns[c] = struct{}{}
	fc.mu.Unlock()
	fc.startSweep()
	return c, nil
}

// put returns c to its target's idle stack (or closes it when the stack is
// full or the client closed).
func (fc *Client) put(c *Conn) {
	c.idleAt = nanotime()
	if len(c.scratch) > 4<<10 {
		c.scratch = nil // do not keep one huge header's buffer
	}
	if c.br.Buffered() > 0 || len(c.pre) > 0 {
		fc.Discard(c) // the app sent more than its response
		return
	}
	hc := c.hc
	hc.mu.Lock()
	st := &hc.idle[c.slot]
	if len(*st) >= maxIdle {
		hc.mu.Unlock()
		fc.Discard(c)
		return
	}
	*st = append(*st, c)
	hc.mu.Unlock()
	// A cut that ran between the caller's I/O and this put must not leave
	// c open: closeAll sets closed before it closes conns.
	if fc.closed.Load() {
		fc.Discard(c)
	}
}

// Discard closes c and forgets it.
func (fc *Client) Discard(c *Conn) {
	c.close()
	fc.mu.Lock()
	delete(fc.conns, c)
	fc.mu.Unlock()
}

// Release ends r's use of c (Conn.Use): c goes back to the idle stack
// when keep and the sweep did not cut it, else it is closed.
func (fc *Client) Release(c *Conn, r *http.Request, keep bool) {
	c.phase.Store(PhaseIdle)
	c.preOnly, c.preErr = false, nil
	if c.end(r) && keep {
		fc.put(c)
	} else {
		fc.Discard(c)
	}
}

// CutWaiting closes the connections to target i whose request waits for
// a response head (their requests fail with ErrCut) and i's idle
// connections; it returns how many requests it cut. Requests whose
// response started are left alone.
func (fc *Client) CutWaiting(i int) int {
	if i < 0 || i >= len(fc.hosts) {
		return 0
	}
	hc := fc.hosts[i]
	n := 0
	fc.mu.Lock()
	for c := range fc.conns {
		if c.hc == hc && c.phase.CompareAndSwap(PhaseWaiting, PhaseCut) {
			c.close() // the request's goroutine discards c
			n++
		}
	}
	fc.mu.Unlock()
	hc.mu.Lock()
	idle := hc.idle
	hc.idle = [Slots][]*Conn{}
	hc.mu.Unlock()
	for _, st := range idle {
		for _, c := range st {
			fc.Discard(c)
		}
	}
	return n
}

// Open returns how many connections the client holds (idle and busy).
func (fc *Client) Open() int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return len(fc.conns)
}

// IdleIn returns how many idle connections the client holds in slot, of
// every target (all slots when slot < 0).
func (fc *Client) IdleIn(slot int) int {
	n := 0
	for _, hc := range fc.hosts {
		hc.mu.Lock()
		for i, st := range hc.idle {
			if slot < 0 || i == slot {
				n += len(st)
			}
		}
		hc.mu.Unlock()
	}
	return n
}

// Conns returns the client's open connections (idle and busy) at the
// time of the call, in no order.
func (fc *Client) Conns() []*Conn {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	cs := make([]*Conn, 0, len(fc.conns))
	for c := range fc.conns {
		cs = append(cs, c)
	}
	return cs
}
