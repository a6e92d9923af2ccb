//go:build linux

package proxy

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/proxy/h1"
	"github.com/berth-dev/berth/internal/proxy/upstream"
)

// Event loops. With a goroutine per connection, a proxied request costs
// two goroutine park/wake cycles (waiting for the client's request, then
// for the target's answer), and on a small machine those cycles, not the
// proxy's work, are what stands between the lane and nginx. An event loop
// (one goroutine on one epoll instance) instead waits for many
// connections at once and serves whatever is ready, as nginx's workers do.
//
// A loop owns a client connection while it waits for a request and while
// the loop serves a lane request on it. It serves a request itself only
// when everything about it is plain: a head the lane takes, a route
// without a response timeout, an idle keep-alive connection to the target,
// and an answer that is whole, framed with Content-Length or chunked (or
// bodiless) and small (evMaxInline; evScan), within evGrace of its head.
// It hands everything else to a goroutine, which runs the connection as
// the lean server always does (serve):
//
//   - before the request went out (a head the lane declines, no idle
//     target connection, a large head): the goroutine gets the bytes the
//     loop read and starts from the head;
//   - after it went out (an answer that is not plain, or not whole
//     evGrace after its head came, an error, a client that hung up):
//     the goroutine gets the target connection with the answer's bytes
//     read so far (upstream.Conn.Preload) and continues the lane request from there
//     (laneRun with sent), so retries, failure accounting and error
//     pages are the lane's.
//
// The goroutine hands the connection back to its loop when it waits for
// the next request after one the lane served.
//
// The grace: the rest of an answer whose head came usually follows within
// microseconds (a head and a body written apart, a large answer in
// several writes), and handing it over would cost the goroutine and two
// moves of the client's socket. But an answer may also be a stream
// (server-sent events, a long download) whose bytes must reach the client
// as they come, which the loop, holding a whole answer before it writes
// any, does not do. So an answer still short evGrace after its head goes
// to a goroutine, which passes it on as it comes: a stream's first bytes
// wait at most about evGrace.
//
// The loop answers through the lane's own code (laneAnswer reads the
// buffered answer, laneDone counts and logs), so its bytes, statistics
// and log lines are the lane's. Its writes to the client never block:
// what the socket does not take waits in evConn.out for EPOLLOUT, and the
// loop reads no further request until it is out; the connection is
// active until then (Shutdown lets it go out), and closed when the client
// takes none of it for the route's write timeout, as a goroutine's write
// fails then. Its write of a request head to a target is the blocking
// one of the upstream.Conn's buffer: the connection is idle (its last exchange
// ended), so its socket buffer is empty and takes a head at once.
//
// The sockets a loop owns are out of Go's netpoller (h1.Fd,
// evloop_fd_linux.go): a client's while the loop owns it (a goroutine
// gets a net.Conn again), a target connection's from the first time a
// loop uses it (it then stays in that loop's idle slot, upstream.Client.Idle). A
// connection closed by another goroutine (Shutdown, the fast client's
// sweep or cut) fails the loop's next call instead of reaching a reused
// descriptor. Registrations are edge-triggered, so no event may be
// dropped: a client's is registered and put in the inbox at once (adopt),
// and an event of an id the loop does not know takes the inbox first. An
// entry's id is the epoll data, never the descriptor. A client that shut
// its side (EPOLLRDHUP, a read of 0) is closed once its answers are out,
// as a goroutine closes it.
//
// Timeouts: a tick (evTick) closes connections idle longer than the
// server's IdleTimeout (ReadHeaderTimeout before the first request, and
// for a head that did not arrive whole) and those whose answer waited for
// the client longer than the route's write timeout, hands over requests
// whose client hung up once they ran watchAfter (the goroutine aborts
// them as the watch does), reads again once a second requests that wait
// long (a lost wake-up costs a second, not the request), and forgets
// closed connections. A loop ends once its server is closed and it owns
// no connection; Shutdown and Close wait for that.

const (
	evTick      = 25 * time.Millisecond
	evMaxInline = 64 << 10 // the largest answer (head and body) a loop writes itself
	evInBuf     = 4 << 10  // a client connection's first buffer of its own
	evReadBuf   = 16 << 10 // a loop's read buffer
	evKeepBuf   = 16 << 10 // larger buffers are not kept once used
	evEvents    = 256      // events taken per epoll_wait
	evMaxFreeQ  = 256      // laneReqs a loop keeps for its next requests
)

// evGrace is how long a loop waits for the rest of an answer whose head
// came, before a goroutine passes it on as it comes.
const evGrace = time.Millisecond

// evLoop is one event loop of a Server.
type evLoop struct {
	srv  *Server
	slot int // affinity slot of idle target connections (1 or more)
	ep   int // the epoll instance
	efd  int // eventfd: adopt wakes the loop (epoll data 0)

	mu      sync.Mutex
	inbox   []*serverConn // adopted, not yet taken by the loop
	spare   []*serverConn
	seq     int32
	stopped bool

	ents   map[int32]evEnt // the loop's goroutine only
	events []syscall.EpollEvent
	rbuf   []byte        // where a connection with nothing buffered reads (evConn.shared)
	graced []*serverConn // answers waiting out evGrace, the earliest first (evConn.grace)
	freeQ  []*laneReq    // laneReqs of requests no longer under way (getQ, putQ)
	done   chan struct{} // closed when run returns
}

// evEnt is what a registration's id names: a client or a target
// connection.
type evEnt struct {
	c  *serverConn
	up *upstream.Conn
}

// evConn is a client connection's state in its loop. owned and
// everything below it belong to the loop while owned, to the
// connection's goroutine otherwise (the hand-over orders them).
type evConn struct {
	loop *evLoop
	id   int32
	lf   *h1.Fd // the socket while the loop owns it

	owned   bool // the loop serves the connection
	pending bool // handed over with a lane request under way (serve resumes it)

	in         []byte // read, not consumed
	shared     bool   // in is in the loop's rbuf (never past drive: own)
	out        []byte // written by the lane, not yet taken by the socket
	drained    bool   // the last read found the socket empty
	hup        bool   // the client shut its side
	closeAfter bool   // close once out is written
	since      int64  // nanotime: idle since, or the head's first bytes
	partial    bool   // in holds part of a head

	// The output: the write timeout of the route of the request last
	// answered (0: none), and when the socket last took bytes of out.
	wto   time.Duration
	outAt int64

	// The lane request under way.
	poked int64 // nanotime the tick last read its answer
	grace int64 // nanotime its answer (head come, rest not) goes to a goroutine; 0: none
	busy  bool
	p     *Pool
	ctr   *counters
	t     *target
	conn  *upstream.Conn
	strip string
	start int64
}

// fconnEv is a target connection's registration with the loops, in its
// upstream.Conn's Loop (loopState).
type fconnEv struct {
	loop  atomic.Pointer[evLoop]     // the loop it is registered with last
	owner atomic.Pointer[serverConn] // whose request a loop waits on (that conn's loop)
	raw   []byte                     // the answer's bytes read by the loop
}

// loopState returns conn's registration with the loops: nil until a loop
// first watched it (watchTarget), which is before any loop has an event
// of it or a request of a loop uses it.
func loopState(conn *upstream.Conn) *fconnEv {
	e, _ := conn.Loop.(*fconnEv)
	return e
}

// errLoopStopped is adopt's refusal once the loop stopped.
var errLoopStopped = errors.New("event loop stopped")

// startLoops starts n event loops; none when epoll is not available (an
// error is logged).
func (s *Server) startLoops(n int) []*evLoop {
	loops := make([]*evLoop, 0, n)
	for i := range n {
		l, err := newEvLoop(s)
		if err != nil {
			s.log.Error("event loop not started: goroutine per connection", "error", err)
			for _, l := range loops {
				l.stop()
			}
			return nil
		}
		l.slot = 1 + i%(upstream.Slots-1)
		loops = append(loops, l)
	}
	for _, l := range loops {
		go l.run()
	}
	return loops
}

func newEvLoop(s *Server) (*evLoop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		syscall.Close(ep)
		return nil, errno
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, int(efd), &ev); err != nil {
		syscall.Close(ep)
		syscall.Close(int(efd))
		return nil, err
	}
	return &evLoop{
		srv:    s,
		ep:     ep,
		efd:    int(efd),
		ents:   map[int32]evEnt{},
		events: make([]syscall.EpollEvent, evEvents),
		rbuf:   make([]byte, evReadBuf),
		done:   make(chan struct{}),
	}, nil
}

// getQ returns a laneReq for a request the loop parses; putQ takes it
// back once its answer is out. An idle connection holds none.
func (l *evLoop) getQ() *laneReq {
	if n := len(l.freeQ); n > 0 {
		q := l.freeQ[n-1]
		l.freeQ = l.freeQ[:n-1]
		return q
	}
	return new(laneReq)
}

func (l *evLoop) putQ(q *laneReq) {
	if len(l.freeQ) < evMaxFreeQ {
		l.freeQ = append(l.freeQ, q)
	}
}

// loopDone is closed when the loop ended.
func (l *evLoop) loopDone() <-chan struct{} { return l.done }

// stop closes a loop that never ran.
func (l *evLoop) stop() {
	syscall.Close(l.ep)
	syscall.Close(l.efd)
}

// epollET is EPOLLET as the kernel's bit: the syscall package spells it
// negative on some architectures (amd64) and positive on others (arm64).
const epollET uint32 = 1 << 31

const evClientEvents = uint32(syscall.EPOLLIN|syscall.EPOLLOUT|syscall.EPOLLRDHUP) | epollET

// adopt hands c, idle, to the loop (from the accepting goroutine or c's
// own): its socket leaves the netpoller for the loop's epoll. False when
// the loop cannot take it (the caller keeps c).
func (l *evLoop) adopt(c *serverConn) bool {
	l.mu.Lock()
	stopped := l.stopped
	l.mu.Unlock()
	if stopped {
		return false
	}
	x := c.ev
	if x == nil {
		x = &evConn{loop: l}
		l.mu.Lock()
		l.seq++
		x.id = l.seq
		l.mu.Unlock()
		c.ev = x
	}
	c.rwcMu.Lock()
	lf, err := h1.Detach(c.rwc)
	if err == nil {
		c.rwc = lf
		c.wdl = slidingDeadline{} // a new socket: no write deadline
	}
	c.rwcMu.Unlock()
	if err != nil {
		return false
	}
	x.lf = lf
	// Registered and put in the inbox under mu: the loop, given an event
	// of an id it does not know, finds the connection in the inbox
	// (takeInbox). An edge-triggered event it dropped would not come
	// again (a request and the client's half-close read at once).
	ev := syscall.EpollEvent{Events: evClientEvents, Fd: x.id}
	l.mu.Lock()
	err = nil
	if l.stopped {
		err = errLoopStopped
	} else if err = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, lf.Sysfd(), &ev); err != nil {
		l.srv.log.Warn("event loop: connection not registered", "error", err)
	}
	if err != nil {
		l.mu.Unlock()
		l.attach(c) // back to the netpoller, for the caller
		return false
	}
	wake := len(l.inbox) == 0
	l.inbox = append(l.inbox, c)
	l.mu.Unlock()
	if wake {
		l.wake()
	}
	return true
}

// attach puts c's socket back into the netpoller (a net.Conn again) for
// a goroutine. When c was closed meanwhile, c.rwc stays the closed h1.Fd,
// whose calls fail: the goroutine ends.
func (l *evLoop) attach(c *serverConn) {
	nc, err := c.ev.lf.Attach()
	if err != nil {
		return
	}
	c.rwcMu.Lock()
	c.rwc = nc
	c.wdl = slidingDeadline{} // a new socket: no write deadline
	c.rwcMu.Unlock()
}

// run is the loop's goroutine.
func (l *evLoop) run() {
	defer close(l.done)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	next := nanotime() + int64(evTick)
	idle := false // no client connection: nothing to tick for
	for {
		at := next
		if len(l.graced) > 0 {
			at = min(at, l.graced[0].ev.grace)
		}
		// Rounded up: a wait for a grace ends after it, not just before.
		wait := max(int((at-nanotime()+int64(time.Millisecond)-1)/int64(time.Millisecond)), 0)
		if idle && len(l.graced) == 0 {
			// Sleep until an adoption or the server's close writes the
			// eventfd: an idle server does not wake every tick.
			wait = -1
		}
		n, err := syscall.EpollWait(l.ep, l.events, wait)
		if err != nil && err != syscall.EINTR {
			l.srv.log.Error("event loop failed", "error", err)
			l.exit()
			return
		}
		for i := range max(n, 0) {
			e := &l.events[i]
			if e.Fd == 0 {
				l.takeInbox()
				continue
			}
			ent, ok := l.ents[e.Fd]
			if !ok && l.adopting() {
				// Adopted since the last takeInbox (else gone: the
				// event is dropped).
				l.takeInbox()
				ent, ok = l.ents[e.Fd]
			}
			if ok {
				l.dispatch(ent, e.Events)
			}
		}
		now := nanotime()
		if len(l.graced) > 0 && now >= l.graced[0].ev.grace {
			l.expire(now)
		}
		if now >= next || idle {
			next = now + int64(evTick)
			if l.tick(now) {
				return
			}
			idle = !l.hasClients()
		}
	}
}

// hasClients reports whether the loop owns a client connection.
func (l *evLoop) hasClients() bool {
	for _, ent := range l.ents {
		if ent.c != nil {
			return true
		}
	}
	return false
}

// wake makes the loop look at its inbox and the server's state now. It
// writes under mu, where a loop that ended (its eventfd closed, the
// number free for another file) says so.
func (l *evLoop) wake() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		one := [8]byte{1}
		_, _ = syscall.Write(l.efd, one[:])
	}
}

// dispatch handles one event. A panic (a bug) closes the connection and
// is logged, as the lane's are.
func (l *evLoop) dispatch(ent evEnt, flags uint32) {
	c := ent.c
	if c == nil {
		// A target connection is registered with every loop that used
		// it: only its owner's loop reads it.
		if c = loopState(ent.up).owner.Load(); c == nil || c.ev.loop != l {
			return // idle, used by a goroutine or another loop
		}
	}
	defer l.recoverConn(c)
	if ent.c != nil {
		l.clientEvent(c, flags)
	} else {
		l.answer(c)
	}
	if c.ev.owned {
		l.drive(c)
	}
}

// expire hands the answers whose grace ended to goroutines, which pass
// them on as they come (after reading once more: the rest may have come).
func (l *evLoop) expire(now int64) {
	for len(l.graced) > 0 && l.graced[0].ev.grace <= now {
		c := l.graced[0]
		l.settle(c)
		if len(l.graced) > 0 && l.graced[0] == c && c.ev.grace <= now {
			l.resume(c) // cannot happen: the answer ended one way or the other
		}
	}
}

// settle is expire's work on c.
func (l *evLoop) settle(c *serverConn) {
	defer l.recoverConn(c)
	l.answer(c)
	if c.ev.owned {
		l.drive(c)
	}
}

// ungrace takes c, whose answer ended on the loop or goes to a goroutine,
// out of graced.
func (l *evLoop) ungrace(c *serverConn) {
	if c.ev.grace == 0 {
		return
	}
	c.ev.grace = 0
	if i := slices.Index(l.graced, c); i >= 0 {
		l.graced = slices.Delete(l.graced, i, i+1)
	}
}

// recoverConn, deferred around the loop's work on c, turns a panic (a
// bug) into c's end, logged as the lane logs its panics: the loop and
// its other connections go on.
func (l *evLoop) recoverConn(c *serverConn) {
	if v := recover(); v != nil {
		c.logLanePanic(v)
		l.abandon(c)
	}
}

// adopting reports whether adopted connections wait in the inbox.
func (l *evLoop) adopting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.inbox) > 0
}

// takeInbox takes the adopted connections.
func (l *evLoop) takeInbox() {
	var b [8]byte
	_, _ = syscall.Read(l.efd, b[:])
	l.mu.Lock()
	in := l.inbox
	l.inbox = l.spare[:0]
	l.mu.Unlock()
	now := nanotime()
	for i, c := range in {
		in[i] = nil
		x := c.ev
		c.shedReader()  // none, or empty (handBack): the loop reads into its own buffers
		c.shedWriter()  // none, or flushed
		c.shedRequest() // the loop parses into laneReqs of its own (getQ)
		l.ents[x.id] = evEnt{c: c}
		x.owned, x.drained, x.hup, x.closeAfter, x.partial = true, false, false, false, false
		x.since = now
		l.drive(c)
	}
	l.mu.Lock()
	l.spare = in[:0]
	l.mu.Unlock()
}

// tick enforces the timeouts and forgets what closed; true when the loop
// ended (the server closed and no connection is left).
func (l *evLoop) tick(now int64) bool {
	for id, ent := range l.ents {
		if up := ent.up; up != nil {
			if up.Dead() || loopState(up).loop.Load() != l {
				delete(l.ents, id)
			}
			continue
		}
		l.tickConn(ent.c, now)
	}
	if !l.srv.closed.Load() {
		return false
	}
	for _, ent := range l.ents {
		if ent.c != nil {
			return false
		}
	}
	l.exit()
	return true
}

// tickConn is tick's work on the client connection c.
func (l *evLoop) tickConn(c *serverConn, now int64) {
	defer l.recoverConn(c)
	o := &l.srv.opts
	x := c.ev
	switch {
	case x.busy:
		switch {
		case c.state.Load() == connClosed:
			// Close: a goroutine finishes the request (its client is
			// gone), the loop ends.
			l.resume(c)
		case now-x.start < int64(watchAfter):
		case x.hup:
			// The client hung up: the goroutine aborts the request as
			// the watch does.
			c.clientGone.Store(true)
			c.cancel()
			l.resume(c)
		case now-x.poked >= int64(time.Second):
			// Once a second, a long wait reads again: a lost wake-up
			// costs a second, not the request.
			x.poked = now
			l.answer(c)
			if x.owned {
				l.drive(c)
			}
		}
	case c.state.Load() == connClosed:
		l.close(c) // Close closed it (Shutdown closes only idle ones)
	case len(x.out) > 0:
		// The answer waits for the client (the connection is active
		// until it is out): the client gets the route's write timeout
		// to take more of it, as on a goroutine.
		if x.wto > 0 && now-x.outAt >= int64(x.wto) {
			l.close(c)
		}
	case l.srv.closed.Load():
		// Shutdown: an idle connection goes; a new one gets
		// newConnGrace to send the request it may have sent already.
		if l.srv.idleClosable(c, now) {
			l.close(c)
		}
	default:
		// Idle: the writer goes back to its pool (start takes one for
		// the next request), here rather than after every answer.
		c.shedWriter()
		d := o.IdleTimeout
		if (c.first || x.partial) && o.ReadHeaderTimeout > 0 {
			d = o.ReadHeaderTimeout
		}
		if d > 0 && now-x.since >= int64(d) {
			l.close(c)
		}
	}
}

// exit stops the loop: connections adopted meanwhile are closed.
func (l *evLoop) exit() {
	l.mu.Lock()
	l.stopped = true
	in := l.inbox
	l.inbox = nil
	l.mu.Unlock()
	for _, c := range in {
		// Handed over as the loop ended (a connection accepted as
		// Shutdown began): a goroutine serves it, with Connection: close.
		go c.serve()
	}
	for _, ent := range l.ents {
		if ent.c != nil && ent.c.ev.owned {
			l.abandon(ent.c)
		}
	}
	l.stop()
}
