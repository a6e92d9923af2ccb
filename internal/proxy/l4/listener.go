package l4

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultUDPIdle is how long a UDP flow lives without a datagram either
// way before it is forgotten (the next datagram of that client starts a
// new flow, on the pool current then).
const DefaultUDPIdle = 30 * time.Second

// Options configure a Listener.
type Options struct {
	// UDPIdle is the idle timeout of a UDP flow (default DefaultUDPIdle).
	UDPIdle time.Duration
	Logger  *slog.Logger
}

// Listener holds one host address ("tcp" or "udp") and forwards what
// arrives there to its current pool. It serves from the first Swap on;
// until then connections wait in the kernel's backlog (TCP) or buffer
// (UDP).
type Listener struct {
	network string
	tcp     net.Listener
	udp     net.PacketConn
	idle    time.Duration
	log     *slog.Logger

	cur    atomic.Pointer[Pool]
	totals counts
	start  sync.Once
	wg     sync.WaitGroup
	done   chan struct{}
	close  sync.Once
}

// Listen binds addr (host:port; port 0 picks a free one) for network
// "tcp" or "udp".
func Listen(network, addr string, o Options) (*Listener, error) {
	if o.UDPIdle <= 0 {
		o.UDPIdle = DefaultUDPIdle
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	l := &Listener{network: network, idle: o.UDPIdle, log: o.Logger, done: make(chan struct{})}
	var err error
	switch network {
	case "tcp":
		l.tcp, err = net.Listen("tcp", addr)
	case "udp":
		l.udp, err = net.ListenPacket("udp", addr)
	default:
		return nil, fmt.Errorf("listen %s: network must be tcp or udp", network)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Network is "tcp" or "udp".
func (l *Listener) Network() string { return l.network }

// Addr is the bound address.
func (l *Listener) Addr() net.Addr {
	if l.tcp != nil {
		return l.tcp.Addr()
	}
	return l.udp.LocalAddr()
}

// Port is the bound port.
func (l *Listener) Port() int {
	switch a := l.Addr().(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	return 0
}

// Current is the pool new connections go to (nil before the first Swap).
func (l *Listener) Current() *Pool { return l.cur.Load() }

// Counters are the listener's counts over all its pools.
func (l *Listener) Counters() Counters { return l.totals.get() }

// Swap makes p the pool new connections and flows go to, in one atomic
// step, and returns the pool it replaces (nil at first) for the caller to
// Drain. Connections of the old pool go on until they end or are drained.
func (l *Listener) Swap(p *Pool) *Pool {
	p.parent = &l.totals
	old := l.cur.Swap(p)
	l.start.Do(func() {
		l.wg.Add(1)
		if l.tcp != nil {
			go l.serveTCP()
		} else {
			go l.serveUDP()
		}
	})
	return old
}

// Close unbinds the address and closes every connection of the current
// pool (drain it first for a graceful end), then waits for the
// listener's goroutines.
func (l *Listener) Close() error {
	var err error
	l.close.Do(func() {
		close(l.done)
		if l.tcp != nil {
			err = l.tcp.Close()
		} else {
			err = l.udp.Close()
		}
		if p := l.cur.Load(); p != nil {
			p.Drain(0)
		}
		l.wg.Wait()
	})
	return err
}

func (l *Listener) closing() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *Listener) serveTCP() {
	defer l.wg.Done()
	for {
		c, err := l.tcp.Accept()
		if err != nil {
			if l.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: the connection stays
			// in the backlog; try again shortly.
			l.log.Warn("l4 accept", "addr", l.Addr().String(), "error", err)
			select {
			case <-l.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.handleTCP(c)
		}()
	}
}

// tcpPair is a client connection and its upstream, closed together.
type tcpPair struct{ client, up net.Conn }

func (t *tcpPair) Close() error {
	t.up.Close()
	return t.client.Close()
}

func (l *Listener) handleTCP(c net.Conn) {
	// The pool may be drained between loading it and tracking the
	// connection (a swap and a drain timeout of zero): then the
	// connection goes to the pool current after it.
	for range 3 {
		p := l.cur.Load()
		up, _, ok := p.dial("tcp")
		if !ok {
			p.count(failed, 1)
			c.Close()
			return
		}
		pair := &tcpPair{client: c, up: up}
		if !p.track(pair) {
			up.Close()
			continue
		}
		p.count(served, 1)
		splice(c, up)
		pair.Close()
		p.untrack(pair)
		return
	}
	c.Close()
}

// splice copies both ways until both directions are done, passing a
// half-close on: when one side ends its stream, the other's write side
// is shut so it sees EOF and may still answer.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); copyHalf(b, a) }()
	go func() { defer wg.Done(); copyHalf(a, b) }()
	wg.Wait()
}

func copyHalf(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		cw.CloseWrite()
		return
	}
	// An error (a reset, a cut): end both ways at once.
	dst.Close()
	src.Close()
}
