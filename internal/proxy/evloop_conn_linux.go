//go:build linux

package proxy

import (
	"syscall"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// The loop's client connections: reading requests, writing answers
// without blocking, and handing a connection to a goroutine and back.

func (l *evLoop) clientEvent(c *serverConn, flags uint32) {
	x := c.ev
	if !x.owned {
		return // a goroutine serves it
	}
	if flags&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		x.hup = true
	}
	if flags&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		x.drained = false
	}
	if flags&syscall.EPOLLOUT != 0 && len(x.out) > 0 {
		if err := x.flushOut(); err != nil {
			l.close(c)
			return
		}
		if len(x.out) == 0 {
			l.written(c)
		}
	}
}

// written marks c idle once the answer the socket did not take at once
// is out: until then Shutdown lets it go out, and the idle timeout
// counts from here.
func (l *evLoop) written(c *serverConn) {
	c.ev.since = nanotime()
	c.state.CompareAndSwap(connActive, connIdle)
}

// drive serves c's requests as far as its bytes allow. An idle
// connection reads into the loop's buffer, and keeps what is left of it
// (part of a head, pipelined requests) in a buffer of its own (own).
func (l *evLoop) drive(c *serverConn) {
	x := c.ev
	defer x.own()
	for x.owned && !x.busy {
		if len(x.out) > 0 {
			return // EPOLLOUT calls again
		}
		if x.closeAfter || c.state.Load() == connClosed {
			l.close(c)
			return
		}
		if n := wire.HeadEnd(x.in); n > 0 {
			// Shutting down, a request that came is answered all the
			// same (by a goroutine, with Connection: close).
			l.start(c, n)
			continue
		}
		if c.srv.closed.Load() && l.srv.idleClosable(c, nanotime()) {
			l.close(c)
			return
		}
		if len(x.in) > c.srv.opts.MaxHeaderBytes {
			l.handOff(c) // the goroutine answers 431
			return
		}
		if x.drained {
			return
		}
		if len(x.in) == 0 && !x.shared {
			x.in, x.shared = l.rbuf[:0], true
		}
		if cap(x.in)-len(x.in) < 512 {
			grown := make([]byte, len(x.in), max(2*cap(x.in), evInBuf))
			copy(grown, x.in)
			x.in, x.shared = grown, false
		}
		room := cap(x.in) - len(x.in)
		n, err := x.lf.RawRead(x.in[len(x.in):cap(x.in)])
		switch {
		case err == syscall.EAGAIN:
			x.drained = true
		case err == syscall.EINTR:
		case err != nil || n == 0:
			l.close(c) // the client closed (a head cut short is dropped, as serve does)
			return
		default:
			if len(x.in) == 0 {
				x.since, x.partial = nanotime(), true
			}
			x.in = x.in[:len(x.in)+n]
			if n < room && !x.hup {
				x.drained = true // a short read emptied the socket
			}
		}
	}
}

// own moves what is left in the loop's buffer to one of the
// connection's own, before the loop reads for another connection.
func (x *evConn) own() {
	if !x.shared {
		return
	}
	x.shared = false
	if len(x.in) == 0 {
		x.in = nil
		return
	}
	x.in = append(make([]byte, 0, max(len(x.in), 512)), x.in...)
}

// write is connWriter's write while the loop owns the connection: what
// the socket does not take now waits in out.
func (x *evConn) write(p []byte) (int, error) {
	if len(x.out) > 0 {
		x.out = append(x.out, p...)
		return len(p), nil
	}
	n, err := x.writeNow(p)
	if err != nil {
		return 0, err
	}
	if n < len(p) {
		x.out = append(x.out, p[n:]...)
		x.outAt = nanotime()
	}
	return len(p), nil
}

// flushOut writes what waits in out; outAt tells when the socket last
// took some (the write timeout counts from there).
func (x *evConn) flushOut() error {
	n, err := x.writeNow(x.out)
	if err != nil || n == 0 {
		return err
	}
	x.outAt = nanotime()
	switch {
	case n < len(x.out):
		x.out = append(x.out[:0], x.out[n:]...)
	case cap(x.out) <= evKeepBuf:
		x.out = x.out[:0] // keep the buffer
	default:
		x.out = nil
	}
	return nil
}

// writeNow writes what the socket takes of p now.
func (x *evConn) writeNow(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := x.lf.RawWrite(p[done:])
		switch err {
		case nil:
			done += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return done, nil
		default:
			return done, err
		}
	}
	return done, nil
}

// handOff gives c to a goroutine before its next request went out: it
// starts from the bytes the loop read.
func (l *evLoop) handOff(c *serverConn) {
	x := c.ev
	x.own()
	x.owned = false
	c.rd.pre, x.in = x.in, nil
	if c.lane != nil {
		l.putQ(c.lane) // the goroutine parses the head again
		c.lane = nil
	}
	c.takeBuffers()
	l.release(c)
	go c.serve()
}

// release gives c's socket back to the netpoller for a goroutine; the
// loop forgets it until adopt hands it back.
func (l *evLoop) release(c *serverConn) {
	delete(l.ents, c.ev.id)
	_ = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, c.ev.lf.Sysfd(), nil)
	l.attach(c)
}

// resume gives c to a goroutine with its lane request under way: the
// goroutine continues it on x.conn, whose answer starts with the bytes
// the loop read, or (no x.conn) sends it to x.t as the lane does.
func (l *evLoop) resume(c *serverConn) { l.resumeAfter(c, nil) }

// resumeAfter is resume after the loop's read of x.conn failed with err
// (when not nil): the goroutine meets err after the bytes the loop read.
func (l *evLoop) resumeAfter(c *serverConn, err error) {
	x := c.ev
	l.ungrace(c)
	if conn := x.conn; conn != nil {
		e := loopState(conn)
		e.owner.Store(nil)
		conn.Preload(e.raw, err, false)
		e.raw = nil
	}
	x.own()
	x.owned, x.busy, x.pending = false, false, true
	c.rd.pre, x.in = x.in, nil // c.lane goes with the request under way
	c.takeBuffers()
	l.release(c)
	go c.serve()
}

// close closes c, which the loop owns.
func (l *evLoop) close(c *serverConn) {
	x := c.ev
	delete(l.ents, x.id)
	x.owned = false
	x.in, x.out, x.shared = nil, nil, false
	c.release()
}

// abandon ends c after a panic on the loop.
func (l *evLoop) abandon(c *serverConn) {
	x := c.ev
	l.ungrace(c)
	if x.busy {
		x.busy = false
		if x.conn != nil {
			loopState(x.conn).owner.Store(nil)
			x.p.fastClientOf().Release(x.conn, c.base, false)
		}
		x.t.inflight.Add(-1)
		x.p.leave()
	}
	if x.owned {
		l.close(c)
	}
}

// resumeLane continues the lane request the loop handed over (serve
// calls it first), as serveLane would have from the request's sending.
func (c *serverConn) resumeLane() (res laneResult) {
	defer c.lanePanic(&res)
	x := c.ev
	p, ctr, t, conn, strip, start := x.p, x.ctr, x.t, x.conn, x.strip, x.start
	x.p, x.ctr, x.t, x.conn = nil, nil, nil, nil
	c.laneWatch(start)
	res = p.laneRun(c, c.lane, ctr, t, 0, strip, start, conn)
	return c.laneEnd(res)
}

// handBack gives the idle connection back to its loop; false when the
// loop does not take it (the caller keeps serving it).
func (c *serverConn) handBack() bool {
	if c.srv.closed.Load() {
		return false
	}
	c.clearDeadline()
	return c.ev.loop.adopt(c)
}
