package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/proxy/upstream"
	"github.com/berth-dev/berth/internal/proxy/wire"
)

// The lane: the lean server hands the proxy the requests that need nothing
// but passing on (lane_wire.go says which) without making an
// *http.Request, a header map or a ResponseWriter for them. The head goes
// to the target with its header lines as they came (values trimmed as the
// parser trims them), and the response head comes back to the client with
// its fields as the handler path writes them (same hop-by-hop rules,
// request id, Date). Per request the lane allocates the head string, the
// response fields' string and a new request id.
//
// The lane keeps serveFast's behaviour: target choice, retries on a fresh
// connection or another target, failures counted against the target,
// statistics and the access log line. What it does not write itself goes
// through the handler path's ResponseWriter, for which the head is parsed
// as the handler path parses it: a body the target did not frame with
// Content-Length (chunked, or until the target closes: the writer frames
// it as it would have), and the error page when no target answered.
//
// Everything else stays on the handler path: a route with a canary, a
// redirect, maintenance, an
// unknown host, a pool being swapped, no healthy target, ACME challenges.

// laneResult is what came of a request offered to the lane.
type laneResult uint8

const (
	laneDeclined    laneResult = iota // not served: the handler path serves it
	laneServed                        // answered; the connection may serve more
	laneServedClose                   // answered; the connection closes once the answer is out
	laneClosed                        // the connection must close now (client gone, body cut)
)

// acmeChallengePrefix is the path of ACME http-01 challenges, which the
// handler in front of the proxy answers.
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// serveLane serves the request with head on the lane when it can. A
// panic (a bug: the lane calls no handler) closes the connection and is
// logged, as a handler's panic is.
func (c *serverConn) serveLane(px *Proxy, head string) (res laneResult) {
	defer c.lanePanic(&res)
	rt, strip, ok := c.laneRoute(px, head)
	if !ok {
		return laneDeclined
	}
	c.wto = rt.limits.writeTimeout
	p := rt.pool
	if !p.enter() {
		return laneDeclined
	}
	t, _ := p.pick()
	if t == nil {
		p.leave()
		return laneDeclined // the handler path answers 503
	}
	start := c.laneBegin(p, t)
	c.laneWatch(start)
	res = p.laneRun(c, c.lane, rt.ctr, t, rt.timeout, strip, start, nil)
	return c.laneEnd(res)
}

// lanePanic recovers a panic on the lane into laneClosed, logged.
func (c *serverConn) lanePanic(res *laneResult) {
	if v := recover(); v != nil {
		c.logLanePanic(v)
		*res = laneClosed
	}
}

// logLanePanic logs v, a panic on the lane, with the stack.
func (c *serverConn) logLanePanic(v any) {
	buf := make([]byte, 16<<10)
	buf = buf[:runtime.Stack(buf, false)]
	c.srv.log.Error("panic serving request", "remote", c.remote, "lane", true, "panic", v, "stack", string(buf))
}

// laneRoute parses head into c.lane and finds its route: ok when the lane
// takes the request (strip is the prefix to strip, if any).
func (c *serverConn) laneRoute(px *Proxy, head string) (rt *route, strip string, ok bool) {
	if c.lane == nil {
		c.lane = new(laneReq)
	}
	q := c.lane
	if c.srv.closed.Load() || !parseLaneHead(head, q) || strings.HasPrefix(q.path, acmeChallengePrefix) {
		return nil, "", false
	}
	rt, prefix, _ := px.table.Load().lookup(normalizeHost(q.host), q.path)
	if rt == nil || rt.canary != nil || rt.ctr.maint.Load() != nil || (rt.opts != nil && rt.opts.RedirectHTTPS) {
		return nil, "", false
	}
	if rt.opts != nil && rt.opts.StripPrefix && prefix != "" {
		if q.xfp {
			return nil, "", false // the client's X-Forwarded-Prefix is replaced: rare, left to the handler path
		}
		strip = prefix
	}
	if c.remoteIP == "" {
		if ip, _, err := net.SplitHostPort(c.remote); err == nil {
			c.remoteIP = ip
		}
	}
	return rt, strip, true
}

// laneBegin starts the lane's answer to c.lane on t: its request id, t's
// in-flight count (laneRun ends it); it returns the request's start.
func (c *serverConn) laneBegin(p *Pool, t *target) int64 {
	if o := c.srv.opts.Observer; o != nil {
		o.LaneAnswered() // the lane answers from here on (tests read it once answered)
	}
	q := c.lane
	id := q.id
	if id == "" {
		id = p.ids.next()
	}
	c.laneID[0] = id
	t.inflight.Add(1)
	return nanotime()
}

// laneWatch marks the request under way for the watch, which notices a
// client that hangs up during a long one.
func (c *serverConn) laneWatch(start int64) {
	c.mu.Lock()
	c.watchable = true
	c.mu.Unlock()
	c.reqStart.Store(start)
	c.srv.watchRequest()
}

// laneEnd ends the watch and sends what is buffered for the client.
func (c *serverConn) laneEnd(res laneResult) laneResult {
	c.reqStart.Store(0)
	c.endWatch()
	c.watchTried.Store(false)
	if res == laneServed || res == laneServedClose {
		if c.bw.Flush() != nil || c.clientGone.Load() {
			return laneClosed
		}
	}
	return res
}

// laneRun is Pool.serve and serveFast for a lane request to t (entered
// and counted in flight by the caller; laneRun ends both): the same
// retries (a lane request is always safe to retry) and statistics. When
// no target answers, the request is parsed as the handler path would
// have parsed it, for the error page (laneFail). sent, when not nil, is a
// connection to t the event loop sent the request on.
func (p *Pool) laneRun(c *serverConn, q *laneReq, ctr *counters, t *target, timeout time.Duration, strip string, start int64, sent *upstream.Conn) laneResult {
	defer p.leave()
	fc := p.fastClientOf()
	res := outcome{start: start, ids: c.laneID[:]}
	defer func() { t.inflight.Add(-1) }() // t follows the retries
	result := laneServed
	last, err, aborted := p.retryLoop(c.ctx, fc, &t, true, sent, func(conn *upstream.Conn, t *target) (bool, error) {
		r, stale, err := p.laneExchange(c, q, ctr, fc, conn, t, timeout, strip, &res, conn == sent)
		result = r
		return stale, err
	})
	switch {
	case aborted:
		res.status, result = statusClientClosed, laneClosed
	case err != nil:
		result = c.laneFail(p, q, ctr, last, err, &res)
	}
	p.laneDone(c, q, ctr, t, strip, &res)
	return result
}

// laneDone counts and logs a lane request answered by t (or not
// answered: res says).
func (p *Pool) laneDone(c *serverConn, q *laneReq, ctr *counters, t *target, strip string, res *outcome) {
	if res.status != statusClientClosed && !res.failed {
		ctr.served.Add(1)
		t.served.Add(1)
	}
	res.t = t
	d := p.observe(res)
	if al := ctr.alog; al != nil {
		path := q.path // as the app got it, as the handler path logs it
		if strip != "" {
			if path = path[len(strip):]; path == "" {
				path = "/"
			}
		}
		p.logAccess(al, res, d, q.method, q.host, path, c.remote, q.agent)
	}
}

// laneFail answers a lane request no target answered, through the
// handler path's error page: the head is parsed into the connection's
// request as for any request, and the page goes through its
// ResponseWriter (after any informational response already sent).
func (c *serverConn) laneFail(p *Pool, q *laneReq, ctr *counters, t *target, err error, res *outcome) laneResult {
	r, perr := c.parseRequest(q.head)
	if perr != nil { // cannot happen: the lane takes only heads the parser accepts
		p.log.Error("lane request refused by the parser", "error", perr)
		return laneClosed
	}
	w := &c.w
	w.reset(r)
	res.failed = true
	if p.fastFail(w, r, ctr, t, err, res) == fastAborted {
		return laneClosed
	}
	w.finish()
	if w.closeAfter {
		return laneServedClose
	}
	return laneServed
}

// laneExchange sends q on conn (unless sent: the event loop did) and
// copies the response to the client. An error means nothing of a
// response reached the client: stale tells that conn was a reused
// connection that broke before any response byte, which is not the
// target's fault (q goes again on a fresh connection).
//
// timeout, when positive, bounds the wait for the response head, as in
// exchange.
func (p *Pool) laneExchange(c *serverConn, q *laneReq, ctr *counters, fc *upstream.Client, conn *upstream.Conn, t *target, timeout time.Duration, strip string, res *outcome, sent bool) (result laneResult, stale bool, err error) {
	if !sent {
		conn.Use(c.base)
		q.writeHead(conn.Writer(), c.remoteIP, res.ids, strip)
	}
	if err = conn.SendHead(timeout); err != nil {
		fc.Release(conn, c.base, false)
		if errors.Is(err, errTargetDown) {
			return 0, false, err
		}
		stale = conn.Stale(err) && c.ctx.Err() == nil && p.reqCtx.Err() == nil
		return 0, stale, eofUnexpected(err)
	}
	result, err = p.laneAnswer(c, q, ctr, fc, conn, t, timeout, res)
	return result, false, err
}

// laneAnswer copies the response to q, whose first byte is in, from
// conn to the client, and releases conn. An error means nothing of a
// response reached the client.
func (p *Pool) laneAnswer(c *serverConn, q *laneReq, ctr *counters, fc *upstream.Client, conn *upstream.Conn, t *target, timeout time.Duration, res *outcome) (result laneResult, err error) {
	keep := false
	defer func() { fc.Release(conn, c.base, keep) }()
	rh, promoted, err := p.laneHead(c, conn, q)
	if err != nil {
		err = eofUnexpected(err)
		if !conn.Sent1xx() {
			return 0, err
		}
		// An informational response went out: too late to retry.
		if c.ctx.Err() != nil {
			res.status = statusClientClosed
			return laneClosed, nil
		}
		p.noteFailure(t, err)
		return c.laneFail(p, q, ctr, t, err, res), nil
	}
	if timeout > 0 {
		conn.ClearDeadline()
	}
	res.status = rh.Status
	var w http.ResponseWriter = laneWriter{c}
	if promoted {
		w = &c.w
	}
	if upstream.EventStream(c.w.header, rh) {
		p.long.begin()
		defer p.long.end()
	}
	clientErr, err := conn.CopyBody(w, c.w.header, rh, &res.bytes)
	ended := errors.Is(err, upstream.ErrStreamEnded) // by the drain's cut, between events: conn goes
	if ended {
		err = nil
	}
	if err != nil {
		if !clientErr && c.ctx.Err() == nil {
			p.bodyCut(t, q.method, q.path, err, res)
		}
		return laneClosed, nil
	}
	keep = rh.KeepAlive && !ended
	if promoted {
		c.w.finish()
		if c.w.closeAfter {
			return laneServedClose, nil
		}
	} else if q.close {
		return laneServedClose, nil
	}
	return laneServed, nil
}

// laneHead reads the response head from conn and writes it to the
// client, as upstream.Conn.ReadResponseHead and the lean server's
// respWriter do on the handler path: informational responses (but 100) passed on as they come,
// hop-by-hop fields left out, the request id set, a Date added when the
// target sent none. A body the target framed with Content-Length (or no
// body) is copied as it is; any other body (chunked, or until the target
// closes) goes through the handler path's ResponseWriter, which frames it
// for the client as it would have: laneHead parses the request for it and
// reports promoted.
func (p *Pool) laneHead(c *serverConn, conn *upstream.Conn, q *laneReq) (rh wire.ResponseHead, promoted bool, err error) {
	var arr [48]wire.FieldPos
	bw := c.bw
	for {
		line, err := conn.ReadLine()
		if err != nil {
			return wire.ResponseHead{}, false, err
		}
		status, http10, err := wire.ParseStatusLine(line)
		if err != nil {
			return wire.ResponseHead{}, false, err
		}
		fs, err := conn.ReadFields(arr[:0])
		if err != nil {
			return wire.ResponseHead{}, false, err
		}
		if status == http.StatusSwitchingProtocols {
			return wire.ResponseHead{}, false, errSwitching
		}
		rh := wire.NewResponseHead(status, http10)
		s := string(conn.Scratch())
		for _, f := range fs {
			k := s[f.K0:f.K1]
			if _, err := rh.Take(wire.Lookup(k), s[f.V0:f.V1]); err != nil {
				return wire.ResponseHead{}, false, err
			}
		}
		if status < 200 {
			if status != http.StatusContinue {
				conn.MarkSent1xx()
				_, _ = bw.WriteString(statusLine(q.http10, status))
				laneFields(bw, s, fs, rh, true, true)
				_, _ = bw.WriteString("\r\n")
				if err := bw.Flush(); err != nil {
					return wire.ResponseHead{}, false, err
				}
			}
			continue
		}
		dropLength := rh.Frame(q.method)
		if rh.Kind == wire.BodyChunked || rh.Kind == wire.BodyClose {
			return c.lanePromote(conn, q, fs, status, http10)
		}
		_, _ = bw.WriteString(statusLine(q.http10, status))
		if !laneFields(bw, s, fs, rh, false, dropLength || status == http.StatusNoContent) {
			_, _ = bw.WriteString(dateLine())
		}
		_, _ = bw.WriteString("X-Request-Id: ")
		_, _ = bw.WriteString(c.laneID[0])
		switch {
		case q.close:
			_, _ = bw.WriteString("\r\nConnection: close")
		case q.http10:
			_, _ = bw.WriteString("\r\nConnection: keep-alive")
		}
		_, _ = bw.WriteString("\r\n\r\n")
		return rh, false, nil
	}
}

// lanePromote hands a response head the lane does not frame itself to
// the handler path's ResponseWriter: the request is parsed as the handler
// path parses it, the fields go into the header map as
// upstream.Conn.ReadResponseHead puts them, and WriteHeader takes the
// status.
func (c *serverConn) lanePromote(conn *upstream.Conn, q *laneReq, fs []wire.FieldPos, status int, http10 bool) (wire.ResponseHead, bool, error) {
	r, err := c.parseRequest(q.head)
	if err != nil { // cannot happen: the lane takes only heads the parser accepts
		return wire.ResponseHead{}, false, err
	}
	w := &c.w
	w.reset(r)
	h := w.header
	rh := wire.NewResponseHead(status, http10)
	if err := rh.Fill(h, conn.Scratch(), fs); err != nil {
		return wire.ResponseHead{}, false, err
	}
	rh.Finish(h, q.method)
	h[requestIDHeader] = c.laneID[:]
	w.WriteHeader(status)
	return rh, true, nil
}

// errSwitching is a 101 answer to a request that asked for no upgrade.
var errSwitching = errors.New("malformed response from the app: 101 Switching Protocols to a request without Upgrade")

// laneFields writes the fields of a response head (taken into rh) that go
// to the client: not the hop-by-hop ones, not those its Connection names;
// for a final response not the target's X-Request-Id (the proxy's goes
// instead), and for an informational one or when dropLength not its
// Content-Length. Values lose CR and LF. It reports whether a Date field
// was written.
func laneFields(bw *bufio.Writer, s string, fs []wire.FieldPos, rh wire.ResponseHead, informational, dropLength bool) (hasDate bool) {
	for _, f := range fs {
		k, v := s[f.K0:f.K1], s[f.V0:f.V1]
		switch fl := wire.Lookup(k); {
		case fl.ResponseHop():
			continue
		case fl == wire.FieldXRequestID:
			if !informational {
				continue
			}
		case fl == wire.FieldContentLength:
			if informational || dropLength {
				continue
			}
		case k == "Date":
			hasDate = true
		}
		if len(rh.ConnDrop) > 0 && containsFold(rh.ConnDrop, k) {
			continue
		}
		writeField(bw, k, v)
	}
	return hasDate
}

func containsFold(list []string, k string) bool {
	for _, x := range list {
		if strings.EqualFold(x, k) {
			return true
		}
	}
	return false
}

// laneWriter is the http.ResponseWriter upstream.CopyBody writes a lane
// response's body to (one framed with Content-Length): straight into the
// connection's buffer.
type laneWriter struct{ c *serverConn }

func (w laneWriter) Header() http.Header { return nil }
func (w laneWriter) WriteHeader(int)     {}
func (w laneWriter) Flush()              { _ = w.c.bw.Flush() }

func (w laneWriter) Write(p []byte) (int, error) { return w.c.bw.Write(p) }
