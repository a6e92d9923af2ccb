package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// Connection states, for Shutdown: only an idle connection (waiting for a
// request) may be closed under a client's feet, and a new one (no request
// yet) only after newConnGrace: its client may have sent its first
// request already (a connection the listener had queued when Shutdown
// began), which it would lose. net/http waits 5 s as well.
const (
	connIdle int32 = iota
	connActive
	connClosed
	connNew
)

// newConnGrace is how long Shutdown leaves a new connection to send its
// first request.
const newConnGrace = 5 * time.Second

// activate marks c active for a request: false when Shutdown closed it.
func (c *serverConn) activate() bool {
	return c.state.CompareAndSwap(connIdle, connActive) || c.state.CompareAndSwap(connNew, connActive)
}

// idleClosable reports whether a shutting-down server may close c, which
// waits for a request, at now: once ShutdownAfter's grace is over, and
// for a new connection once newConnGrace is too.
func (s *Server) idleClosable(c *serverConn, now int64) bool {
	return now >= s.closeIdleAt.Load() && (c.state.Load() != connNew || now-c.accepted >= int64(newConnGrace))
}

// closable reports whether Shutdown may close c now: idle, or new for
// longer than newConnGrace; it marks it closed then.
func (c *serverConn) closable(now int64) bool {
	return c.state.CompareAndSwap(connIdle, connClosed) ||
		now-c.accepted >= int64(newConnGrace) && c.state.CompareAndSwap(connNew, connClosed)
}

// aLongTimeAgo is a deadline in the past: it wakes a blocked Read.
var aLongTimeAgo = time.Unix(1, 0)

// serverConn is one client connection and everything its requests reuse:
// the *http.Request, its URL and Header map, the ResponseWriter, buffers.
type serverConn struct {
	srv    *Server
	rwc    net.Conn
	rd     connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	ctx    context.Context // the requests' context: cancelled when the client goes
	cancel context.CancelFunc
	remote string

	state      atomic.Int32
	reqStart   atomic.Int64 // nanotime when the handler started; 0 outside it
	watchTried atomic.Bool  // the watch loop looked at the current request

	base   *http.Request // carries ctx; copied into req for every request
	req    http.Request
	url    url.URL
	header http.Header
	vals   []string // backing array of header values
	w      respWriter
	body   *bodyReader // the current request's body, nil when none
	big    []byte      // head bytes of heads larger than the read buffer
	rdl    time.Time   // the read deadline set last
	// wto is the write timeout of the current request (the route's), and
	// wdl the write deadline armWrite set last.
	wto time.Duration
	wdl slidingDeadline
	// armedAt is when armWait set rdl (monotonic ns; 0 when anything
	// else set it since), for a wait of armedFor.
	armedAt  int64
	armedFor time.Duration
	first    bool  // no request served yet
	accepted int64 // nanotime when it was accepted

	// The watch: a background read while a long request runs, to notice
	// a client that hangs up. mu orders it with the end of the request.
	mu         sync.Mutex
	watchable  bool // the handler runs and the body was read: the conn may be read
	watching   bool
	aborting   bool
	watchDone  chan struct{}
	clientGone atomic.Bool
	hijacked   bool

	// The lane (lane.go): its request, the client's address without
	// port (set on first use) and the request id's header value.
	lane     *laneReq
	remoteIP string
	laneID   [1]string

	// ev is the connection's state in an event loop (evloop_linux.go),
	// nil when it never was in one. A loop swaps rwc (an h1.Fd while the
	// loop owns the connection) under rwcMu; goroutines other than the
	// owner read it under rwcMu (closeIdle, Close).
	ev    *evConn
	rwcMu sync.Mutex
}

// connReader hands the bufio.Reader the byte a background read took, or
// the bytes an event loop read before it handed the connection over.
type connReader struct {
	c       *serverConn
	hasByte bool
	one     [1]byte
	pre     []byte
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.hasByte && len(p) > 0 {
		p[0] = r.one[0]
		r.hasByte = false
		return 1, nil
	}
	if len(r.pre) > 0 {
		n := copy(p, r.pre)
		r.pre = r.pre[n:]
		return n, nil
	}
	return r.c.rwc.Read(p)
}

// buffered reports whether bytes of the client wait in the connection's
// buffers.
func (c *serverConn) buffered() bool {
	return c.br.Buffered() > 0 || c.rd.hasByte || len(c.rd.pre) > 0
}

// connWriter is what the connection's bufio.Writer writes to: the
// connection, or the event loop's non-blocking writes while the loop
// serves it.
type connWriter struct{ c *serverConn }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	if ev := c.ev; ev != nil && ev.owned {
		return ev.write(p)
	}
	if c.wto > 0 || c.wdl.at != 0 {
		c.armWrite()
	}
	return c.rwc.Write(p)
}

// armWrite slides the write deadline with the write timeout (none, once
// the last deadline was lifted, without a timeout).
func (c *serverConn) armWrite() {
	if c.wto <= 0 {
		_ = c.rwc.SetWriteDeadline(time.Time{})
		c.wdl = slidingDeadline{}
		return
	}
	if c.wdl.due(nanotime(), c.wto) {
		_ = c.rwc.SetWriteDeadline(time.Now().Add(c.wto))
	}
}

func newServerConn(s *Server, nc net.Conn) *serverConn {
	c := &serverConn{srv: s, rwc: nc, first: true, watchDone: make(chan struct{}, 1), accepted: nanotime()}
	c.state.Store(connNew)
	c.rd.c = c
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.base = (&http.Request{}).WithContext(c.ctx)
	c.remote = nc.RemoteAddr().String()
	c.w.c = c
	return c // serve takes the buffers: a connection for an event loop needs none
}

// serve runs the connection's request loop, from a lane request under
// way when an event loop handed it over so. It hands the connection back
// to its event loop when it waits for a request after one the lane
// served.
func (c *serverConn) serve() {
	c.takeBuffers()
	handed := false
	defer func() {
		if !c.hijacked && !handed {
			c.release()
		}
	}()
	if c.ev != nil && c.ev.pending {
		c.ev.pending = false
		if !c.afterLane(c.resumeLane()) {
			return
		}
		if !c.buffered() && c.handBack() {
			handed = true
			return
		}
	}
	for {
		if !c.buffered() {
			c.armWait()
			if _, err := c.br.Peek(1); err != nil {
				return
			}
		}
		if !c.activate() {
			return // Shutdown closed it
		}
		head, err := c.readHead()
		var r *http.Request
		if err == nil {
			c.first = false
			if px := c.srv.opts.Lane; px != nil {
				if res := c.serveLane(px, head); res != laneDeclined {
					if !c.afterLane(res) {
						return
					}
					if c.ev != nil && !c.buffered() && c.handBack() {
						handed = true
						return
					}
					continue
				}
			}
			r, err = c.parseRequest(head)
		}
		if err != nil {
			var he *wire.HeadError
			if errors.As(err, &he) {
				c.refuse(he.Status, he.Msg)
			}
			return
		}
		if !c.serveRequest(r) { // a response that said Connection: close
			return
		}
		c.state.Store(connIdle)
		if c.closing() {
			return
		}
	}
}

// afterLane reports whether the connection serves another request after
// one the lane answered with res (and marks it idle then).
func (c *serverConn) afterLane(res laneResult) bool {
	if res != laneServed {
		return false
	}
	c.state.Store(connIdle)
	return !c.closing()
}

// closing reports whether c, idle after a response, closes now: the
// server shuts down and its grace for idle connections is over. Within
// the grace the next request is answered with Connection: close, so that
// a response written as the shutdown began (without that header) is not
// followed by a close under the client's next request.
func (c *serverConn) closing() bool {
	return c.srv.closed.Load() && c.srv.idleClosable(c, nanotime())
}

// armWait sets the deadline for the wait for the next request: the idle
// timeout (the read header timeout for a connection's first request). The
// idle deadline moves at most every 1/16 of the timeout (1s at most), so
// a busy connection makes no deadline call per request.
func (c *serverConn) armWait() {
	o := &c.srv.opts
	d := o.IdleTimeout
	if c.first && o.ReadHeaderTimeout > 0 {
		d = o.ReadHeaderTimeout
	}
	if d <= 0 {
		if !c.rdl.IsZero() {
			_ = c.rwc.SetReadDeadline(time.Time{})
			c.rdl, c.armedAt = time.Time{}, 0
		}
		return
	}
	now := nanotime()
	if c.armedAt != 0 && c.armedFor == d && now-c.armedAt < int64(min(d/16, time.Second)) {
		return
	}
	c.rdl = time.Now().Add(d)
	_ = c.rwc.SetReadDeadline(c.rdl)
	c.armedAt, c.armedFor = now, d
}

// clearDeadline lifts the read deadline before a handler reads the
// connection (a body, a hijack): net/http has no body timeout either.
func (c *serverConn) clearDeadline() {
	if !c.rdl.IsZero() {
		_ = c.rwc.SetReadDeadline(time.Time{})
		c.rdl, c.armedAt = time.Time{}, 0
	}
}

// readHead returns the request head, up to and including the empty line
// that ends it, reading more within the read header timeout.
func (c *serverConn) readHead() (string, error) {
	limit := c.srv.opts.MaxHeaderBytes
	br := c.br
	armed := false
	for {
		buf, _ := br.Peek(br.Buffered())
		if n := wire.HeadEnd(buf); n > 0 {
			if n > limit {
				return "", wire.ErrHeadTooLarge
			}
			s := string(buf[:n])
			_, _ = br.Discard(n)
			return s, nil
		}
		if len(buf) >= limit {
			return "", wire.ErrHeadTooLarge
		}
		if len(buf) == br.Size() {
			return c.readBigHead(limit)
		}
		if !armed {
			c.armHeader()
			armed = true
		}
		if _, err := br.Peek(len(buf) + 1); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
}

// armHeader starts the read header timeout once a head did not arrive
// in one piece.
func (c *serverConn) armHeader() {
	if d := c.srv.opts.ReadHeaderTimeout; d > 0 {
		c.rdl, c.armedAt = time.Now().Add(d), 0
		_ = c.rwc.SetReadDeadline(c.rdl)
	}
}

// readBigHead collects a head larger than the read buffer in c.big, line
// by line, so that nothing after the head is consumed.
func (c *serverConn) readBigHead(limit int) (string, error) {
	c.big = c.big[:0]
	lineStart := 0
	for {
		part, err := c.br.ReadSlice('\n')
		c.big = append(c.big, part...)
		if len(c.big) > limit {
			return "", wire.ErrHeadTooLarge
		}
		switch {
		case err == nil:
			line := c.big[lineStart:]
			if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
				s := string(c.big)
				if cap(c.big) > 64<<10 {
					c.big = nil
				}
				return s, nil
			}
			lineStart = len(c.big)
		case errors.Is(err, bufio.ErrBufferFull):
		default:
			return "", err
		}
	}
}

// parseRequest parses a request head into c.req.
func (c *serverConn) parseRequest(head string) (*http.Request, error) {
	var err error
	r := &c.req
	*r = *c.base
	if c.header == nil {
		c.header = make(http.Header, 16) // the first request the handler path parses
	}
	clear(c.header)
	c.url = url.URL{}
	r.URL = &c.url
	r.Header = c.header
	r.RemoteAddr = c.remote
	if c.vals, err = wire.FillRequest(head, r, c.vals[:0]); err != nil {
		return nil, err
	}
	c.body = nil
	r.Body = http.NoBody
	if r.ContentLength != 0 {
		c.body = newBodyReader(c, r)
		r.Body = c.body
	}
	return r, nil
}

// serveRequest runs the handler for r and finishes its response; false
// means the connection must not serve another request.
func (c *serverConn) serveRequest(r *http.Request) bool {
	w := &c.w
	w.reset(r)
	if ex, ok := r.Header["Expect"]; ok {
		if len(ex) == 1 && wire.TokenListed(ex, "100-continue") {
			if c.body != nil && r.ProtoAtLeast(1, 1) {
				c.body.needContinue = true
				w.canContinue.Store(true)
			}
		} else {
			c.refuse(http.StatusExpectationFailed, "unsupported Expect header")
			return false
		}
	}
	if c.body != nil {
		c.clearDeadline()
	} else {
		c.mu.Lock()
		c.watchable = true
		c.mu.Unlock()
	}
	c.reqStart.Store(nanotime())
	c.srv.watchRequest()
	ok := c.runHandler(w, r)
	c.reqStart.Store(0)
	c.endWatch()
	c.watchTried.Store(false)
	if c.hijacked || !ok {
		return false
	}
	w.finish()
	if c.body != nil && !c.body.finish() {
		w.closeAfter = true
	}
	if err := c.bw.Flush(); err != nil {
		return false
	}
	return !w.closeAfter && !c.clientGone.Load()
}

// runHandler calls the handler; false when it panicked (the connection is
// closed then: http.ErrAbortHandler is how a handler aborts a response).
func (c *serverConn) runHandler(w http.ResponseWriter, r *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.log.Error("panic serving request", "remote", c.remote, "method", r.Method,
					"path", r.URL.Path, "panic", v, "stack", string(buf))
			}
		}
	}()
	c.srv.handler.ServeHTTP(w, r)
	return true
}

// bodyDone is called by the body reader when the body was read whole: the
// watch may read the connection from now on.
func (c *serverConn) bodyDone() {
	c.mu.Lock()
	c.watchable = c.reqStart.Load() != 0 && !c.hijacked
	c.mu.Unlock()
}

// startWatch starts the background read of a long request's connection;
// the watch loop calls it.
func (c *serverConn) startWatch() {
	c.watchTried.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.watchable || c.watching || c.buffered() {
		return
	}
	c.watching = true
	_ = c.rwc.SetReadDeadline(time.Time{})
	c.rdl, c.armedAt = time.Time{}, 0
	go c.backgroundRead()
}

// backgroundRead waits for the client's next byte: a pipelined request
// (kept for the request loop) or the end of the connection (the request's
// context is cancelled).
func (c *serverConn) backgroundRead() {
	n, err := c.rwc.Read(c.rd.one[:])
	c.mu.Lock()
	if n == 1 {
		c.rd.hasByte = true
	} else if err != nil && !c.aborting {
		c.clientGone.Store(true)
		c.cancel()
	}
	c.mu.Unlock()
	c.watchDone <- struct{}{}
}

// endWatch stops the background read, if any, and waits for it.
func (c *serverConn) endWatch() {
	c.mu.Lock()
	c.watchable = false
	w := c.watching
	if w {
		c.aborting = true
		_ = c.rwc.SetReadDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
	if w {
		<-c.watchDone
		c.mu.Lock()
		c.watching, c.aborting = false, false
		c.rdl, c.armedAt = aLongTimeAgo, 0
		c.mu.Unlock()
	}
}

// refuse answers a request the server will not pass on, and closes.
func (c *serverConn) refuse(status int, msg string) {
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	_, _ = c.bw.WriteString("HTTP/1.1 " + text + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + text + ": " + msg)
	if c.bw.Flush() != nil {
		return
	}
	// Let the client read the answer: closing with unread bytes would
	// reset the connection and could destroy it.
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = c.rwc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.CopyN(io.Discard, c.rwc, 256<<10)
	}
}

// release closes the connection and returns its buffers.
func (c *serverConn) release() {
	c.state.Store(connClosed)
	c.cancel()
	c.rwc.Close()
	c.srv.forget(c)
	c.shedReader()
	c.shedWriter()
}

// shedReader and shedWriter give the connection's buffers back to their
// pools (at the end, and while an event loop holds it idle: the loop
// reads into its own buffer); takeBuffers gets them again.
func (c *serverConn) shedReader() {
	if c.br != nil {
		c.br.Reset(nil)
		h1ReaderPool.Put(c.br)
		c.br = nil
	}
}

func (c *serverConn) shedWriter() {
	if c.bw != nil {
		c.bw.Reset(nil)
		h1WriterPool.Put(c.bw)
		c.bw = nil
	}
}

// shedRequest drops what the connection's last request left behind: the
// lane's request and the handler path's request, header map and values,
// made again when next needed (an event loop holds the connection idle).
func (c *serverConn) shedRequest() {
	c.lane, c.header, c.vals = nil, nil, nil
	c.req, c.url = http.Request{}, url.URL{}
}

func (c *serverConn) takeBuffers() {
	if c.br == nil {
		c.br = getReader(&c.rd)
	}
	if c.bw == nil {
		c.bw = getWriter(c)
	}
}

// bufferedConn is a hijacked connection whose first bytes are still in
// the server's read buffer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
