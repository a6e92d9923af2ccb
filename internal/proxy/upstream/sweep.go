package upstream

import (
	"net/http"
	"time"
)

// killedReq marks a connection whose request the sweep cut because its
// client went away.
var killedReq = new(http.Request)

// startSweep schedules the sweep unless it is scheduled already.
func (fc *Client) startSweep() {
	if !fc.sweeping.Load() && fc.sweeping.CompareAndSwap(false, true) {
		time.AfterFunc(sweepInterval, fc.sweep)
	}
}

// sweep runs every sweepInterval while the client has connections: it
// closes the connection of a request whose client went away (so a target
// does not work for nobody, and a long poll ends), and idle connections
// older than the idle timeout. This replaces a context.AfterFunc per
// request (six allocations) by two atomic stores.
func (fc *Client) sweep() {
	fc.mu.Lock()
	for c := range fc.conns {
		if r := c.busy.Load(); r != nil && r != killedReq && gone(c.done.Load()) &&
			c.busy.CompareAndSwap(r, killedReq) {
			c.close() // the request's goroutine discards c
		}
	}
	fc.mu.Unlock()

	now := nanotime()
	var stale []*Conn
	for _, hc := range fc.hosts {
		hc.mu.Lock()
		for i := range hc.idle {
			st := &hc.idle[i]
			keep := (*st)[:0]
			for _, c := range *st {
				if time.Duration(now-c.idleAt) >= fc.IdleTimeout {
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
		fc.Discard(c)
	}

	fc.mu.Lock()
	more := len(fc.conns) > 0 && !fc.closed.Load()
	if !more {
		fc.sweeping.Store(false)
	}
	fc.mu.Unlock()
	if more {
		time.AfterFunc(sweepInterval, fc.sweep)
	}
}

// closeAll closes every connection, idle or in use, and refuses new ones:
// requests in flight fail their I/O and end, but an event stream in the
// middle of an event first finishes it (Conn.cutStream).
func (fc *Client) closeAll() {
	fc.mu.Lock()
	fc.closed.Store(true)
	conns := fc.conns
	fc.conns = map[*Conn]struct{}{}
	fc.mu.Unlock()
	for c := range conns {
		if !c.cutStream() {
			c.close()
		}
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
