//go:build linux

package proxy

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/berth-dev/berth/internal/proxy/h1"
	"github.com/berth-dev/berth/internal/proxy/upstream"
)

// The loop's requests: sending one to an idle target connection, reading
// the answer and writing it when it is whole and plain.

// start takes the request whose head is the first n bytes of c's input:
// sends it when the loop can serve it, hands c over otherwise.
func (l *evLoop) start(c *serverConn, n int) {
	x := c.ev
	if n > c.srv.opts.MaxHeaderBytes {
		l.handOff(c)
		return
	}
	head := string(x.in[:n])
	c.lane = l.getQ()
	rt, strip, ok := c.laneRoute(c.srv.opts.Lane, head)
	if !ok || rt.timeout > 0 {
		l.handOff(c)
		return
	}
	p := rt.pool
	if !p.enter() {
		l.handOff(c)
		return
	}
	t, _ := p.pick()
	if t == nil || !c.activate() {
		p.leave()
		if t == nil {
			l.handOff(c) // the goroutine answers 503
		} else {
			l.close(c) // Shutdown closed it
		}
		return
	}
	c.first, x.partial = false, false
	x.in = x.in[:copy(x.in, x.in[n:])]
	x.busy, x.p, x.ctr, x.t, x.conn, x.strip = true, p, rt.ctr, t, nil, strip
	x.wto = rt.limits.writeTimeout
	c.wto = x.wto // a goroutine that continues the request writes with it
	if c.bw == nil {
		c.bw = getWriter(c) // given back by the tick once the connection is idle
	}
	x.start = c.laneBegin(p, t)
	x.poked = x.start
	fc := p.fastClientOf()
	var conn *upstream.Conn
	if !fc.Closed() {
		conn = fc.Idle(t.idx, l.slot)
	}
	if conn != nil && !l.watchTarget(conn) {
		fc.Discard(conn)
		conn = nil
	}
	if conn == nil {
		l.resume(c) // the goroutine dials t
		return
	}
	x.conn = conn
	conn.Use(c.base)
	c.lane.writeHead(conn.Writer(), c.remoteIP, c.laneID[:], strip)
	e := loopState(conn)
	e.owner.Store(c)
	e.raw = e.raw[:0]
	if conn.Writer().Flush() != nil {
		l.resume(c) // the goroutine meets the error and retries
	}
}

// watchTarget registers conn with the loop (once per loop it is used by),
// its socket out of the netpoller.
func (l *evLoop) watchTarget(conn *upstream.Conn) bool {
	e := loopState(conn)
	if e == nil {
		e = new(fconnEv)
		conn.Loop = e
	}
	if e.loop.Load() == l {
		return true
	}
	lf, ok := conn.NetConn().(*h1.Fd)
	if !ok {
		err := conn.Replace(func(nc net.Conn) (net.Conn, error) {
			var err error
			lf, err = h1.Detach(nc)
			return lf, err
		})
		if err != nil {
			return false
		}
		if conn.Dead() {
			lf.Close() // closed as it was detached
			return false
		}
	}
	l.mu.Lock()
	l.seq++
	id := l.seq
	l.mu.Unlock()
	ev := syscall.EpollEvent{Events: uint32(syscall.EPOLLIN|syscall.EPOLLRDHUP) | epollET, Fd: id}
	err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, lf.Sysfd(), &ev)
	if err == syscall.EEXIST { // registered with this loop before
		err = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_MOD, lf.Sysfd(), &ev)
	}
	if err != nil {
		return false
	}
	e.loop.Store(l)
	conn.SetSlot(l.slot)
	l.ents[id] = evEnt{up: conn}
	return true
}

// answer reads what the target sent for c's request and answers it when
// it is whole and plain; it hands c over when the answer is neither, or
// the connection failed.
func (l *evLoop) answer(c *serverConn) {
	x := c.ev
	conn := x.conn
	e := loopState(conn)
	for {
		if cap(e.raw)-len(e.raw) < 1024 {
			if cap(e.raw) >= evMaxInline {
				l.resume(c)
				return
			}
			grown := make([]byte, len(e.raw), max(2*cap(e.raw), upstream.BufSize))
			copy(grown, e.raw)
			e.raw = grown
		}
		room := cap(e.raw) - len(e.raw)
		n, err := conn.NetConn().(*h1.Fd).RawRead(e.raw[len(e.raw):cap(e.raw)])
		if err == syscall.EAGAIN {
			break
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			if err == nil {
				err = io.EOF
			}
			l.resumeAfter(c, err)
			return
		}
		e.raw = e.raw[:len(e.raw)+n]
		if n < room {
			break
		}
	}
	total, verdict := evScan(e.raw, c.lane.method)
	switch verdict {
	case evMore:
		return
	case evBody:
		// The head came, the rest has not yet. It often follows within
		// microseconds (a head and body written apart, a large answer in
		// several writes): the loop waits evGrace for it. An answer
		// still short then (a stream: events, a long download) goes to
		// a goroutine, which passes its bytes on as they come.
		switch now := nanotime(); {
		case x.grace == 0:
			x.grace = now + int64(evGrace)
			l.graced = append(l.graced, c)
		case now >= x.grace:
			l.resume(c)
		}
		return
	case evUnsuited:
		l.resume(c)
		return
	}
	if total != len(e.raw) {
		l.resume(c) // more than the answer: the goroutine path decides
		return
	}
	l.finish(c)
}

// finish answers c's request from the whole, plain answer the loop read,
// through the lane's code.
func (l *evLoop) finish(c *serverConn) {
	x := c.ev
	conn, p, t := x.conn, x.p, x.t
	if !conn.Answered() {
		l.resume(c) // cut: the goroutine retries elsewhere
		return
	}
	l.ungrace(c)
	e := loopState(conn)
	e.owner.Store(nil)
	conn.Preload(e.raw, nil, true)
	e.raw = e.raw[:0]
	if cap(e.raw) > evKeepBuf {
		e.raw = nil // do not keep one large answer's buffer
	}
	q := c.lane
	fc := p.fastClientOf()
	res := outcome{start: x.start, ids: c.laneID[:]}
	if o := c.srv.opts.Observer; o != nil {
		o.LoopAnswered() // the loop answers from here on (tests read it once answered)
	}
	result, err := p.laneAnswer(c, q, x.ctr, fc, conn, t, 0, &res)
	if err != nil {
		// Nothing reached the client; a malformed answer is not retried.
		if errors.Is(err, upstream.ErrWouldWait) {
			c.srv.log.Error("event loop misread an answer", "target", t.Name)
		}
		p.noteFailure(t, err)
		result = c.laneFail(p, q, x.ctr, t, err, &res)
	}
	p.laneDone(c, q, x.ctr, t, x.strip, &res)
	t.inflight.Add(-1)
	p.leave()
	x.busy, x.p, x.ctr, x.t, x.conn = false, nil, nil, nil, nil
	if result != laneClosed && c.bw.Flush() != nil {
		result = laneClosed
	}
	l.putQ(c.lane) // the request is answered
	c.lane = nil
	switch result {
	case laneServed, laneServedClose:
		if len(x.out) == 0 {
			c.state.Store(connIdle) // else once out is written (written)
		}
		x.since, x.partial = nanotime(), len(x.in) > 0 // pipelined bytes start the next head
		x.closeAfter = result == laneServedClose
	default:
		l.close(c)
	}
}
