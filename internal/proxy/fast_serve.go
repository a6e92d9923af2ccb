package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/proxy/upstream"
	"github.com/berth-dev/berth/internal/proxy/wire"
)

// The fast path serves ordinary requests (no request body, no Upgrade):
// in the request's own goroutine it writes the request head to a pooled
// connection, parses the response head straight into the client's header
// map and copies the body out of the connection's read buffer, flushing
// to the client whenever the target has nothing more buffered. Per
// request it allocates the response header strings (two allocations); it
// makes no context: the client's going away is noticed by the client's
// sweep, a cut at the drain timeout closes the pool's connections
// (upstream.Client: its connection pool and the exchange's heads).

// errMalformed is a response that is not HTTP/1.x.
var errMalformed = wire.ErrMalformed

// newFastClient returns the fast-path client of a pool's targets: each
// target is named to it by its index (target.idx), and cut closes its
// connections.
func newFastClient(targets []*target, cut context.Context) *upstream.Client {
	addrs := make([]string, len(targets))
	for i, t := range targets {
		addrs[i] = t.Addr
	}
	return upstream.NewClient(addrs, cut)
}

// fastClientOf returns p's fast-path client.
func (p *Pool) fastClientOf() *upstream.Client { return p.rp.Transport.(*poolTransport).fast }

// fastEligible reports whether r takes the fast path. Requests with a body
// (streamed both ways, 100-continue) and upgrades go through
// httputil.ReverseProxy.
func fastEligible(r *http.Request) bool {
	if r.ContentLength != 0 {
		return false
	}
	_, up := r.Header["Upgrade"]
	return !up
}

type fastOutcome uint8

const (
	fastServed  fastOutcome = iota
	fastFailed              // the proxy wrote an error page
	fastAborted             // the client went away before a response
)

// serveFast proxies r to t (already picked and counted in the pool's
// in-flight) on the fast path, noting in res what came of it (prefix as
// Pool.serve says).
func (p *Pool) serveFast(w http.ResponseWriter, r *http.Request, ctr *counters, t *target, timeout time.Duration, prefix string, res *outcome) {
	fc := p.fastClientOf()
	ctx := r.Context()
	t.inflight.Add(1)
	outcome := fastServed
	defer func() {
		t.inflight.Add(-1)
		if outcome == fastServed {
			ctr.served.Add(1)
			t.served.Add(1)
		}
		res.t = t
		if outcome == fastAborted && res.status == 0 {
			res.status = statusClientClosed
		}
	}()

	last, err, aborted := p.retryLoop(ctx, fc, &t, retrySafe(r), nil, func(c *upstream.Conn, t *target) (bool, error) {
		o, stale, err := p.exchange(w, r, ctr, fc, c, t, timeout, prefix, res)
		outcome = o
		return stale, err
	})
	switch {
	case aborted:
		outcome = fastAborted
	case err != nil:
		outcome = p.fastFail(w, r, ctr, last, err, res)
	}
}

// noteFailure counts err, a failed exchange of a request with t, as an
// upstream error of t and, unless the app answered something malformed,
// as a failed health check of t.
func (p *Pool) noteFailure(t *target, err error) {
	if errors.Is(err, errMalformed) {
		if p.reqCtx.Err() == nil {
			t.countUpstream(err)
		}
		return
	}
	p.recordRequestFailure(t, err)
}

// exchange sends r on c and copies the response to w. When it returns an
// error, nothing was written to w: stale tells that c was a reused
// connection that broke before any response byte and that r may be sent
// again on a fresh one (replayable); otherwise the target failed (or was
// cut, errTargetDown) and the caller retries elsewhere or answers 502.
//
// timeout, when positive, bounds the wait for the response head: a read
// deadline on c, cleared once the head is read. prefix is the one the
// route stripped, for X-Forwarded-Prefix.
func (p *Pool) exchange(w http.ResponseWriter, r *http.Request, ctr *counters, fc *upstream.Client, c *upstream.Conn, t *target, timeout time.Duration, prefix string, res *outcome) (o fastOutcome, stale bool, err error) {
	ctx := r.Context()
	c.Use(r)
	ok := false // c may go back to the idle stack
	defer func() { fc.Release(c, r, ok) }()

	c.WriteRequestHead(r, prefix)
	if err = c.SendHead(timeout); err != nil {
		if errors.Is(err, errTargetDown) {
			return fastServed, false, err
		}
		stale = c.Stale(err) && ctx.Err() == nil && p.reqCtx.Err() == nil && upstream.Replayable(r)
		return fastServed, stale, eofUnexpected(err)
	}
	h := w.Header()
	rh, err := c.ReadResponseHead(w, h, r.Method)
	if err != nil {
		clear(h)
		err = eofUnexpected(err)
		if !c.Sent1xx() {
			return fastServed, false, err
		}
		// An informational response went out: too late to retry.
		if ctx.Err() != nil {
			return fastAborted, false, nil
		}
		p.noteFailure(t, err)
		return p.fastFail(w, r, ctr, t, err, res), false, nil
	}
	if timeout > 0 {
		c.ClearDeadline()
	}
	h[requestIDHeader] = res.ids
	res.status = rh.Status
	w.WriteHeader(rh.Status)
	if upstream.EventStream(h, rh) {
		p.long.begin()
		defer p.long.end()
	}
	clientErr, err := c.CopyBody(w, h, rh, &res.bytes)
	if errors.Is(err, upstream.ErrStreamEnded) {
		// The drain's cut ended an event stream between two events: the
		// response ends here, whole, and c goes (ok stays false).
		return fastServed, false, nil
	}
	if err != nil {
		if !clientErr && ctx.Err() == nil {
			p.bodyCut(t, r.Method, r.URL.Path, err, res)
		}
		// The response is under way: all that can be done is to abort it
		// (the deferred discard closes c) so the client does not take a
		// truncated body for a whole one.
		panic(http.ErrAbortHandler)
	}
	ok = rh.KeepAlive
	return fastServed, false, nil
}

// fastFail writes the error page of a request that got no response, as
// errorHandler does for the ReverseProxy path: 504 after a timeout, 502
// otherwise.
func (p *Pool) fastFail(w http.ResponseWriter, r *http.Request, ctr *counters, t *target, err error, res *outcome) fastOutcome {
	if r.Context().Err() != nil {
		return fastAborted
	}
	ctr.failed.Add(1) // the caller counted err against t (noteFailure)
	status, title, msg := http.StatusBadGateway, "Bad gateway", "The app did not answer."
	switch {
	case p.reqCtx.Err() != nil:
		msg = "The request was cut: its release was replaced and the drain timeout passed."
	case isTimeout(err):
		status, title, msg = http.StatusGatewayTimeout, "Gateway timeout", "The app did not answer in time."
	}
	p.log.Warn("proxy error", "target", t.Name, "addr", t.Addr, "method", r.Method,
		"path", r.URL.Path, "status", status, "error", err)
	p.writeError(w, r, ctr, res, status, title, msg)
	return fastFailed
}

// bodyCut records a response cut by its target after it had started
// (the caller aborts it): an upstream error of t, logged.
func (p *Pool) bodyCut(t *target, method, path string, err error, res *outcome) {
	res.broken = true
	t.countUpstream(err)
	p.log.Warn("proxy error: response body cut", "target", t.Name, "addr", t.Addr,
		"method", method, "path", path, "error", err)
}

// isTimeout reports whether err is a timeout (a deadline passed).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func eofUnexpected(err error) error { return upstream.EOFUnexpected(err) }
