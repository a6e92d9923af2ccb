package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/proxy/upstream"
	"github.com/berth-dev/berth/internal/proxy/wire"
)

// maxRetries is how many other targets a request tries when it cannot
// connect to the one it picked.
const maxRetries = 2

// nilTLSNextProto, non-nil and empty, keeps HTTP/2 off a Transport.
var nilTLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}

// bufferPool is shared by all pools for copying bodies.
var bufferPool httputil.BufferPool = &bytePool{}

// bytePool keeps 32 KiB buffers; a second pool recycles the *[]byte boxes
// so that Put does not allocate.
type bytePool struct{ bufs, boxes sync.Pool }

func (b *bytePool) Get() []byte {
	if v, ok := b.bufs.Get().(*[]byte); ok {
		buf := *v
		*v = nil
		b.boxes.Put(v)
		return buf
	}
	return make([]byte, 32<<10)
}

func (b *bytePool) Put(buf []byte) {
	v, ok := b.boxes.Get().(*[]byte)
	if !ok {
		v = new([]byte)
	}
	*v = buf
	b.bufs.Put(v)
}

func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 512,
		// Shorter than the usual keep-alive timeouts of app servers
		// (Node.js: 5s) so the proxy, not the app, closes an idle
		// connection: a request never races the app's close.
		IdleConnTimeout:       4 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		TLSNextProto:          nilTLSNextProto,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// reqState is the context of one proxied request: it carries the request's
// cancellation (client gone, or pool cut at a drain timeout) and the state
// the ReverseProxy callbacks share. One allocation per request.
type reqState struct {
	context.Context                 // child of the client request's context
	client          context.Context // the client request's own context
	pool            *Pool
	ctr             *counters
	t               *target
	tried           [maxRetries + 1]*target
	ntried          int
	failed          bool // the proxy wrote an error page
	aborted         bool // the client went away before a response
	counted         bool // the failure was counted against st.t (recordRequestFailure)
	status          int  // sent to the client (0: none yet)
	ids             []string
	prefix          string // stripped from the path (Pool.serve)
	cw              countingWriter
	// timer cancels the request when the target has not started its
	// response within the route's response timeout (nil: none).
	timer    *time.Timer
	timedOut atomic.Bool
	// phase is phaseWaiting until the target's response head arrived
	// (phaseAnswer) or the target left rotation unreachable (phaseCut,
	// set by cut through stopCut's registration on t.reach).
	phase   atomic.Uint32
	cancel  context.CancelFunc
	stopCut func() bool
	// body is the request's body (nil when none): when reading it failed
	// on the client's side, the exchange's failure is the client's.
	body *clientBody
}

// clientFault returns how the request's body failed on the client's
// side (bodyOK when it did not).
func (st *reqState) clientFault() (bodyFault, error) {
	if st.body == nil {
		return bodyOK, nil
	}
	return st.body.failure()
}

// watch registers st to be cut when t leaves rotation unreachable while
// st waits for t's response head.
func (st *reqState) watch(t *target) {
	if st.stopCut != nil {
		st.stopCut()
	}
	st.stopCut = context.AfterFunc(t.reach.Load().ctx, st.cut)
}

func (st *reqState) cut() {
	if st.phase.CompareAndSwap(phaseWaiting, phaseCut) {
		st.cancel()
	}
}

// answered records that the response head arrived; false when the
// request was cut first.
func (st *reqState) answered() bool {
	if st.timer != nil {
		st.timer.Stop() // the response started in time
	}
	return st.phase.CompareAndSwap(phaseWaiting, phaseAnswer)
}

type stateKey struct{}

func (s *reqState) Value(key any) any {
	if key == (stateKey{}) {
		return s
	}
	return s.Context.Value(key)
}

func stateOf(ctx context.Context) *reqState {
	if s, ok := ctx.(*reqState); ok {
		return s
	}
	s, _ := ctx.Value(stateKey{}).(*reqState)
	return s
}

// serve proxies r to a healthy target. It returns false, having done
// nothing, when the pool is retired: the caller routes again. Ordinary
// requests (no body, no upgrade) take the fast path (fast_serve.go); the
// others go through httputil.ReverseProxy.
// timeout, when positive, is how long the target may take to start its
// response (504 after it). prefix, when not "", is the path prefix the
// route stripped from r's path (stripPrefix): the target is told it in
// X-Forwarded-Prefix, by wire.Forwarded as every path tells it.
//
// Every request gets a request id (reqid.go), is counted in the pool's
// statistics (stats.go) and, when the proxy has one, written to the access
// log (accesslog.go).
func (p *Pool) serve(w http.ResponseWriter, r *http.Request, ctr *counters, timeout time.Duration, prefix string) bool {
	if !p.enter() {
		return false
	}
	defer p.leave()
	res := outcome{start: nanotime(), ids: p.requestID(r)}
	defer p.finish(r, ctr, &res)
	t, n := p.pick()
	if t == nil {
		ctr.failed.Add(1)
		p.writeError(w, r, ctr, &res, http.StatusServiceUnavailable, "Service unavailable",
			"No healthy container for "+p.key.String()+".")
		return true
	}
	if fastEligible(r) {
		p.serveFast(w, r, ctr, t, timeout, prefix, &res)
		return true
	}
	p.serveProxy(w, r, ctr, t, n, timeout, prefix, &res)
	return true
}

// serveProxy proxies r to t through httputil.ReverseProxy (prefix as
// serve says).
func (p *Pool) serveProxy(w http.ResponseWriter, r *http.Request, ctr *counters, t *target, n uint64, timeout time.Duration, prefix string, res *outcome) {
	t.inflight.Add(1)
	st := &reqState{client: r.Context(), pool: p, ctr: ctr, t: t, ids: res.ids, prefix: prefix}
	st.cw.ResponseWriter = w
	st.tried[0], st.ntried = t, 1
	st.body, _ = r.Body.(*clientBody)
	ctx, cancel := context.WithCancel(r.Context())
	st.Context, st.cancel = ctx, cancel
	st.phase.Store(phaseWaiting)
	st.watch(t)
	stop := context.AfterFunc(p.shards[n%ctxShards], cancel)
	if timeout > 0 {
		st.timer = time.AfterFunc(timeout, func() {
			st.timedOut.Store(true)
			cancel()
		})
	}
	defer func() {
		if st.timer != nil {
			st.timer.Stop()
		}
		stop()
		st.stopCut()
		cancel()
		st.t.inflight.Add(-1)
		if !st.failed && !st.aborted {
			ctr.served.Add(1)
			st.t.served.Add(1)
		}
		res.t, res.status, res.bytes = st.t, st.status, st.cw.n
		if res.status == 0 && st.aborted {
			res.status = statusClientClosed
		}
	}()
	if r.ContentLength != 0 {
		// Let apps stream responses while still reading the request body.
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	p.rp.ServeHTTP(&st.cw, r.WithContext(st))
}

// modifyResponse notes the target's status and gives the client the
// request id.
func (p *Pool) modifyResponse(resp *http.Response) error {
	if st := stateOf(resp.Request.Context()); st != nil {
		st.status = resp.StatusCode
		resp.Header[requestIDHeader] = st.ids
	}
	if isWebSocket(resp) {
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			p.long.begin()
			resp.Body = newWSConn(rwc, p.long.end)
		}
	}
	return nil
}

func (p *Pool) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		ModifyResponse: p.modifyResponse,
		Transport:      &poolTransport{pool: p, fast: newFastClient(p.targets, p.reqCtx)},
		BufferPool:     bufferPool,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
}

func (p *Pool) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = st.t.Addr
	// pr.Out.Host keeps the client's Host header. ReverseProxy removed
	// the hop-by-hop headers before Rewrite: the proxy's own go in after.
	fw := wire.Forwarded{Prior: wire.PriorFor(pr.In.Header), Host: pr.In.Host, TLS: pr.In.TLS != nil,
		RequestID: st.ids, Prefix: st.prefix}
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		fw.ClientIP = ip
	}
	fw.Set(pr.Out.Header)
}

// poolTransport sends a request to its target and, when the target
// fails before a response head, retries it on another healthy target as
// retry.go says: whatever the method when the connection could not be
// opened, only retrySafe requests when it was sent. (The Transport itself
// replays replayable requests whose reused connection broke.) It also
// holds the pool's fast-path client (upstream.Client, newFastClient),
// which serves the requests that do not need ReverseProxy.
type poolTransport struct {
	pool *Pool
	fast *upstream.Client
}

func (pt *poolTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p, tr := pt.pool, pt.pool.transport
	st := stateOf(req.Context())
	if st == nil {
		return tr.RoundTrip(req)
	}
	safe := retrySafe(req)
	r2 := req
	for {
		resp, err := tr.RoundTrip(r2)
		if err == nil {
			if !st.answered() {
				resp.Body.Close()
				return nil, errTargetDown
			}
			return resp, nil
		}
		if st.phase.Load() == phaseCut {
			return nil, errTargetDown
		}
		if f, _ := st.clientFault(); f != bodyOK {
			return nil, err // the client's body failed: not the target's doing
		}
		if req.Context().Err() != nil {
			if st.timedOut.Load() && st.client.Err() == nil {
				p.recordRequestFailure(st.t, errResponseTimeout)
				st.counted = true
			}
			return nil, err
		}
		p.recordRequestFailure(st.t, err)
		st.counted = true
		if st.ntried > maxRetries || !(safe || isDialError(err)) {
			return nil, err
		}
		next := p.pickOther(st.tried[:st.ntried])
		if next == nil {
			return nil, err
		}
		p.log.Debug("retrying on another target", "target", st.t.Name, "next", next.Name, "error", err)
		p.stats.retries[retryOther].Add(1)
		st.t.inflight.Add(-1)
		next.inflight.Add(1)
		st.t = next
		st.tried[st.ntried] = next
		st.ntried++
		st.counted = false
		st.watch(next)
		r2 = new(http.Request)
		*r2 = *req
		u := *req.URL
		u.Host = next.Addr
		r2.URL = &u
	}
}

// isDialError reports whether err is a failure to connect: nothing of the
// request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (p *Pool) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r.Context())
	if st == nil {
		writePage(w, r, http.StatusBadGateway, "Bad gateway", "The app did not answer.")
		return
	}
	if f, ferr := st.clientFault(); f != bodyOK {
		// The client's body failed (malformed, stalled, too large, cut):
		// its error, not the target's. Nothing counts against the target.
		// (First: net/http cancels the request's context when the body's
		// read deadline passes.)
		status, title, msg := bodyFaultAnswer(f, ferr)
		st.aborted, st.status = true, status
		p.log.Debug("request body failed", "target", st.t.Name, "method", r.Method, "path", r.URL.Path,
			"status", status, "client_addr", r.RemoteAddr, "error", ferr)
		w.Header()[requestIDHeader] = st.ids
		writeBodyFault(w, r, status, title, msg)
		return
	}
	if st.client.Err() != nil && !st.timedOut.Load() {
		// The client went away: nobody to answer, nothing failed.
		st.aborted = true
		return
	}
	st.failed = true
	st.ctr.failed.Add(1)
	status, title, msg := http.StatusBadGateway, "Bad gateway", "The app did not answer."
	switch {
	case p.reqCtx.Err() != nil:
		msg = "The request was cut: its release was replaced and the drain timeout passed."
	case st.phase.Load() == phaseCut:
		msg = "The app's container stopped answering health checks before it answered."
	case st.timedOut.Load() || isTimeout(err):
		status, title, msg = http.StatusGatewayTimeout, "Gateway timeout", "The app did not answer in time."
	}
	if !st.counted && p.reqCtx.Err() == nil && st.phase.Load() != phaseCut {
		st.t.countUpstream(err)
	}
	p.log.Warn("proxy error", "target", st.t.Name, "addr", st.t.Addr, "method", r.Method,
		"path", r.URL.Path, "status", status, "error", err)
	st.status = status
	w.Header()[requestIDHeader] = st.ids
	writeAppPage(w, r, st.ctr, status, title, msg)
}
