package l4

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// flow is one UDP client's association with a target: datagrams from
// the client go to up; what up answers goes back to the client.
type flow struct {
	client net.Addr
	up     net.Conn
	pool   *Pool
	last   atomic.Int64 // unix nanoseconds of the last datagram either way
	ended  atomic.Bool
}

func (f *flow) Close() error {
	f.ended.Store(true) // the client's next datagram starts a new flow
	return f.up.Close()
}

func (f *flow) touch() { f.last.Store(time.Now().UnixNano()) }

func (l *Listener) serveUDP() {
	defer l.wg.Done()
	var mu sync.Mutex
	flows := map[string]*flow{}
	buf := make([]byte, 64<<10)
	for {
		n, addr, err := l.udp.ReadFrom(buf)
		if err != nil {
			if l.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		key := addr.String()
		mu.Lock()
		f := flows[key]
		if f != nil && f.ended.Load() {
			f = nil
		}
		if f == nil {
			f = l.newFlow(addr)
			if f != nil {
				flows[key] = f
				l.wg.Add(1)
				go func() {
					defer l.wg.Done()
					l.back(f)
					mu.Lock()
					if flows[key] == f {
						delete(flows, key)
					}
					mu.Unlock()
				}()
			}
		}
		mu.Unlock()
		if f == nil {
			continue // no target: the datagram is dropped, as UDP allows
		}
		f.touch()
		f.up.Write(buf[:n])
	}
}

// newFlow opens a flow for client on the current pool; nil when the pool
// has no target.
func (l *Listener) newFlow(client net.Addr) *flow {
	for range 3 {
		p := l.cur.Load()
		up, _, ok := p.dial("udp")
		if !ok {
			p.count(failed, 1)
			return nil
		}
		f := &flow{client: client, up: up, pool: p}
		if !p.track(f) {
			up.Close()
			continue
		}
		p.count(served, 1)
		f.touch()
		return f
	}
	return nil
}

// back forwards a target's answers to the client until the flow has
// been idle for the idle timeout or is closed (a drain), then ends it.
func (l *Listener) back(f *flow) {
	defer func() {
		f.ended.Store(true)
		f.up.Close()
		f.pool.untrack(f)
	}()
	buf := make([]byte, 64<<10)
	for {
		idleFor := time.Since(time.Unix(0, f.last.Load()))
		if idleFor >= l.idle {
			return
		}
		f.up.SetReadDeadline(time.Now().Add(l.idle - idleFor))
		n, err := f.up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // re-check: the client may have sent meanwhile
			}
			return // closed, or the target refused (ICMP)
		}
		f.touch()
		if _, err := l.udp.WriteTo(buf[:n], f.client); err != nil && l.closing() {
			return
		}
	}
}
