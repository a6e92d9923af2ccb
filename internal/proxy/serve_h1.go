package proxy

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The lean HTTP/1.1 server of the plain-HTTP listener. net/http's server
// allocates about twenty objects per request (the Request, its Header
// and URL, the response and its chunk writer, a context, a goroutine for
// the background read) and makes three or four deadline calls; this one
// reuses one set per connection. Files: serve_h1.go (listener, shutdown,
// the watch for clients that go away), serve_h1_conn.go (the request
// loop; the head parser is wire.FillRequest), serve_h1_body.go
// (request bodies), serve_h1_writer.go (the ResponseWriter),
// serve_h1_observer.go (what tests are told of the paths that answer).

// ServerOptions are the protections of a Server; zero values as noted.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request head, from its first
	// byte (0: none).
	ReadHeaderTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request (0: none).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request head (request line and the empty
	// line included; 431 beyond it). 0: 1 MiB.
	MaxHeaderBytes int
	// Logger receives panics of handlers (nil: slog.Default()).
	Logger *slog.Logger
	// Lane, when set, is the proxy behind the handler: the requests that
	// need nothing but passing on go to it directly, without an
	// *http.Request (lane.go), and the handler gets the others. The
	// handler must route as Lane does, but for ACME http-01 challenges
	// (/.well-known/acme-challenge/), which never take the lane.
	Lane *Proxy
	// EventLoops, with Lane, is how many event loops (epoll, Linux only)
	// wait on idle connections and serve the lane's requests whose
	// answers are small and framed (evloop_linux.go); every other request
	// goes to a goroutine per connection as without them. 0: none.
	EventLoops int
	// Observer, when set, is told which path answered each request the
	// lane took (tests count them). nil: nothing is told, as in
	// production, and the request path touches no shared counter.
	Observer ServerObserver
}

// Server serves HTTP/1.x on plain listeners with a lean request loop
// (one goroutine per connection, pooled buffers and request structures).
// It implements what the proxy needs of http.Server: keep-alive and
// HTTP/1.0 rules, request bodies (Content-Length and chunked), 100-continue,
// Flusher and Hijacker, head and idle timeouts, header size limits and the
// request smuggling rules, graceful Shutdown.
type Server struct {
	handler http.Handler
	opts    ServerOptions
	log     *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	drained   chan struct{} // closed when shutting down and no conn is left
	closed    atomic.Bool   // Shutdown or Close was called
	// closeIdleAt is when Shutdown closes idle connections (nanotime;
	// ShutdownAfter sets it before closed).
	closeIdleAt atomic.Int64
	watcher     sync.WaitGroup
	watching    bool // the watch loop was started
	stopWatch   chan struct{}
	// The watch loop sleeps while no request is under way (an idle
	// server wakes for nothing): watchIdle says it sleeps, a request
	// that starts then wakes it through wakeWatch (watchRequest).
	watchIdle atomic.Bool
	wakeWatch chan struct{}
	loops     []*evLoop // started by the first Serve (under mu)
	nextLoop  atomic.Uint32
}

// NewServer returns a Server that passes requests to h.
func NewServer(h http.Handler, opts ServerOptions) *Server {
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		handler:   h,
		opts:      opts,
		log:       log.With("component", "proxy_server"),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*serverConn]struct{}{},
		stopWatch: make(chan struct{}),
		wakeWatch: make(chan struct{}, 1),
	}
}

// Serve accepts connections on ln until Shutdown or Close, and returns
// http.ErrServerClosed then (or the listener's error).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	if !s.watching {
		s.watching = true
		s.watcher.Add(1)
		go s.watchLoop()
		if s.opts.Lane != nil && s.opts.EventLoops > 0 {
			s.loops = s.startLoops(s.opts.EventLoops)
		}
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closed.Load() {
				return http.ErrServerClosed
			}
			if isTimeout(err) {
				// Out of file descriptors and the like: back off as
				// net/http does, up to a second.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := newServerConn(s, nc)
		// Accepted as Shutdown began: its client has sent its request
		// already, maybe; it is served once, with Connection: close.
		if !s.track(c) || !s.toLoop(c) {
			go c.serve()
		}
	}
}

// closeRWC closes c's connection from a goroutine other than c's owner.
func (c *serverConn) closeRWC() {
	c.rwcMu.Lock()
	rwc := c.rwc
	c.rwcMu.Unlock()
	rwc.Close()
}

// toLoop hands c to the next event loop; false when there is none or it
// would not take c.
func (s *Server) toLoop(c *serverConn) bool {
	if len(s.loops) == 0 {
		return false
	}
	return s.loops[int(s.nextLoop.Add(1))%len(s.loops)].adopt(c)
}

// track registers c; false when the server is shutting down (c is
// registered all the same: Shutdown waits for it).
func (s *Server) track(c *serverConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained != nil {
		select {
		case <-s.drained: // Shutdown saw no connection left: a new drain
			s.drained = make(chan struct{})
		default:
		}
	}
	s.conns[c] = struct{}{}
	return !s.closed.Load()
}

// forget unregisters c (closed or hijacked).
func (s *Server) forget(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.drained != nil && len(s.conns) == 0 {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
	s.mu.Unlock()
}

// Shutdown stops accepting, closes idle connections, lets requests in
// flight finish (their connections close after the response) and returns
// when no connection is left, or ctx's error when it ends first.
// Hijacked connections are not tracked.
func (s *Server) Shutdown(ctx context.Context) error { return s.ShutdownAfter(ctx, 0) }

// ShutdownAfter is Shutdown that leaves idle connections open for grace
// first: a client that sends its next request meanwhile gets its answer
// with Connection: close, and reconnects (to a successor holding the same
// socket, in a hand-off) without the race of a connection closed under a
// request it is sending.
func (s *Server) ShutdownAfter(ctx context.Context, grace time.Duration) error {
	idleAt := nanotime() + int64(grace)
	s.closeIdleAt.Store(idleAt)
	drained := s.beginClose()
	for {
		if nanotime() >= idleAt {
			s.closeIdle()
		}
		select {
		case <-drained:
			return s.waitLoops(ctx)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
			// Connections that were active may be idle now.
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.beginClose()
	s.mu.Lock()
	for c := range s.conns {
		c.state.Store(connClosed)
		c.closeRWC()
	}
	s.mu.Unlock()
	return s.waitLoops(context.Background())
}

// waitLoops waits until the event loops ended (they end within a tick of
// the server closing once they own no connection), or ctx's end.
func (s *Server) waitLoops(ctx context.Context) error {
	s.mu.Lock()
	loops := s.loops
	s.mu.Unlock()
	for _, l := range loops {
		select {
		case <-l.loopDone():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// beginClose marks the server closed, closes its listeners and stops the
// watch loop; it returns the channel closed once no connection is left.
func (s *Server) beginClose() <-chan struct{} {
	s.mu.Lock()
	first := !s.closed.Swap(true)
	if s.drained == nil {
		s.drained = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.drained)
		}
	}
	for ln := range s.listeners {
		ln.Close()
	}
	drained := s.drained
	loops := s.loops
	s.mu.Unlock()
	for _, l := range loops {
		l.wake() // an idle loop sleeps: it ends once it sees the close
	}
	if first {
		close(s.stopWatch)
		s.watcher.Wait()
	}
	return drained
}

// closeIdle closes the connections that wait for a request.
func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := nanotime()
	for c := range s.conns {
		if c.closable(now) {
			c.closeRWC()
		}
	}
}

// Clients that go away: net/http starts a background read (a goroutine)
// for every request to notice a client hanging up. Most proxied requests
// last a millisecond, so the watch loop starts that read only for
// requests that run longer than watchAfter; their context is cancelled
// when the client's connection ends.
const (
	watchAfter    = 50 * time.Millisecond
	watchInterval = 25 * time.Millisecond
)

// watchLoop starts the background read of connections whose request runs
// longer than watchAfter. It runs from the first Serve until the server
// closes.
// While no request is under way it sleeps until one starts
// (watchRequest), so that an idle server does not wake every tick.
func (s *Server) watchLoop() {
	defer s.watcher.Done()
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stopWatch:
			return
		case <-tick.C:
		}
		if s.watch() > 0 {
			continue
		}
		// Nothing under way: sleep. A request that starts after the
		// flag is set sees it and wakes the loop; one that started
		// before is seen by the second look.
		s.watchIdle.Store(true)
		if s.watch() > 0 {
			s.watchIdle.Store(false)
			continue
		}
		tick.Stop()
		select {
		case <-s.stopWatch:
			return
		case <-s.wakeWatch:
		}
		tick.Reset(watchInterval)
	}
}

// watch starts the background read of the connections whose request ran
// past watchAfter, and returns how many requests are under way.
func (s *Server) watch() int {
	limit := nanotime() - int64(watchAfter)
	n := 0
	s.mu.Lock()
	for c := range s.conns {
		st := c.reqStart.Load()
		if st == 0 {
			continue
		}
		n++
		if st < limit && !c.watchTried.Load() {
			c.startWatch()
		}
	}
	s.mu.Unlock()
	return n
}

// watchRequest is told that a request started (reqStart is set): it
// wakes the watch loop when it sleeps.
func (s *Server) watchRequest() {
	if s.watchIdle.Load() && s.watchIdle.CompareAndSwap(true, false) {
		select {
		case s.wakeWatch <- struct{}{}:
		default:
		}
	}
}

// bufio pools shared by connections of every Server.
var (
	h1ReaderPool sync.Pool
	h1WriterPool sync.Pool
)

const h1BufSize = 4 << 10

func getReader(r *connReader) *bufio.Reader {
	if br, ok := h1ReaderPool.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, h1BufSize)
}

func getWriter(w *serverConn) *bufio.Writer {
	if bw, ok := h1WriterPool.Get().(*bufio.Writer); ok {
		bw.Reset(connWriter{w})
		return bw
	}
	return bufio.NewWriterSize(connWriter{w}, h1BufSize)
}
