package upstream

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Phases of a connection's request, for CutWaiting. The proxy's other
// request path keeps the same phases.
const (
	PhaseIdle    uint32 = iota
	PhaseWaiting        // request written (or being written), no response byte yet
	PhaseAnswer         // the response started: never cut, never retried
	PhaseCut            // cut by CutWaiting while waiting
)

// ErrCut is the error of a request cut by CutWaiting while it waited for
// a response head: its target left rotation as unreachable.
var ErrCut = errors.New("the target stopped answering health checks before it answered")

// ErrWouldWait is a read past the bytes preloaded with only set
// (Conn.Preload): the reader wanted more than its owner had read.
var ErrWouldWait = errors.New("proxy event loop: read past the buffered response")

// Conn is one connection to a target with its buffers. One request uses
// it at a time, from Use to Client.Release.
type Conn struct {
	nc      net.Conn
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
	phase   atomic.Uint32 // of the current request: PhaseIdle…
	sent1xx bool          // an informational response went to the client
	dead    atomic.Bool   // closed
	connMu  sync.Mutex    // Replace swaps nc under it (close reads it)
	slot    uint8         // affinity slot of its idle stack (hostConns)
	stream  streamState   // of an event stream's body being copied

	// Bytes read off the socket by the connection's other reader (an
	// event loop): pre holds those not handed on, preErr the read error
	// that ended them; br reads them before the socket. preOnly makes a
	// read past them fail instead of waiting on the socket.
	pre     []byte
	preErr  error
	preOnly bool

	// Loop is the state of the event loops that read the connection
	// themselves. upstream carries it and never reads it; it is set by
	// the first loop that watches the connection, while a request of
	// that loop uses it.
	Loop any
}

// Read reads what Preload left, then the connection.
func (c *Conn) Read(p []byte) (int, error) {
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
		return 0, ErrWouldWait
	}
	return c.nc.Read(p)
}

// close closes the connection (any goroutine).
func (c *Conn) close() {
	c.dead.Store(true)
	c.connMu.Lock()
	nc := c.nc
	c.connMu.Unlock()
	nc.Close()
}

// Dead reports whether the connection was closed.
func (c *Conn) Dead() bool { return c.dead.Load() }

// NetConn returns the connection's socket (the one Replace put, if any).
// Only the request using c may call it.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Replace swaps the socket for replace's answer (the same socket taken
// out of the netpoller, say), under the lock close takes, and points the
// write buffer at it. Only the request using c may call it; the caller
// checks Dead afterwards (a close may have come just before).
func (c *Conn) Replace(replace func(net.Conn) (net.Conn, error)) error {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	nc, err := replace(c.nc)
	if err != nil {
		return err
	}
	c.nc = nc
	c.bw.Reset(nc)
	return nil
}

// SetSlot puts c, once released, in the idle stack of affinity slot
// (1 to Slots-1: an event loop's; 0: the goroutines').
func (c *Conn) SetSlot(slot int) { c.slot = uint8(slot) }

// Slot returns c's affinity slot.
func (c *Conn) Slot() int { return int(c.slot) }

// Reader returns c's read buffer, which reads what Preload left first.
func (c *Conn) Reader() *bufio.Reader { return c.br }

// Writer returns c's write buffer, where a request head is written
// before SendHead.
func (c *Conn) Writer() *bufio.Writer { return c.bw }

// Scratch returns the bytes of the response head fields read last
// (ReadFields, ReadResponseHead), valid until the next read of a head.
func (c *Conn) Scratch() []byte { return c.scratch }

// Addr returns the address of c's target.
func (c *Conn) Addr() string { return c.hc.addr }

// Sent1xx reports whether an informational response of the current
// request went to the client: it may not be retried.
func (c *Conn) Sent1xx() bool { return c.sent1xx }

// MarkSent1xx records that an informational response went to the client.
func (c *Conn) MarkSent1xx() { c.sent1xx = true }

// Preload makes the next reads of c return b, then err when not nil
// (the bytes and read error of whoever read the socket instead); with
// only, a read past them fails with ErrWouldWait until Client.Release.
func (c *Conn) Preload(b []byte, err error, only bool) {
	c.pre, c.preErr, c.preOnly = b, err, only
}

// Use starts the exchange of r on c: waiting for an answer, busy with r
// for the sweep and CutWaiting. Client.Release ends it.
func (c *Conn) Use(r *http.Request) {
	c.sent1xx = false
	c.phase.Store(PhaseWaiting)
	c.begin(r)
}

// begin marks c busy with r, for the sweep.
func (c *Conn) begin(r *http.Request) {
	c.done.Store(r.Context().Done())
	c.busy.Store(r)
}

// end marks c no longer busy; false when the sweep closed c because r's
// client went away.
func (c *Conn) end(r *http.Request) bool { return c.busy.CompareAndSwap(r, nil) }

// Answered records that the response started, for CutWaiting; false when
// the request was cut first.
func (c *Conn) Answered() bool { return c.phase.CompareAndSwap(PhaseWaiting, PhaseAnswer) }

// SendHead writes the request head buffered in c's writer and waits for
// the first byte of the answer, at most timeout when positive (a read
// deadline, which ClearDeadline clears). A request cut while it waited
// (CutWaiting, or a cut just as the byte came) fails with ErrCut.
func (c *Conn) SendHead(timeout time.Duration) error {
	err := c.bw.Flush()
	if err == nil {
		if timeout > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
		}
		_, err = c.br.Peek(1)
	}
	if err == nil && !c.Answered() {
		return ErrCut // cut just as the first byte came
	}
	if err != nil && c.phase.Load() == PhaseCut {
		return ErrCut
	}
	return err
}

// ClearDeadline clears the read deadline SendHead set.
func (c *Conn) ClearDeadline() { _ = c.nc.SetReadDeadline(time.Time{}) }

// Stale reports whether err, a failure of SendHead on c, looks like a
// reused keep-alive connection the target had closed: nothing came back
// and the wait did not time out.
func (c *Conn) Stale(err error) bool {
	return c.reused && c.br.Buffered() == 0 && !isTimeout(err)
}

// isTimeout reports whether err is a timeout (a deadline passed).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
