package proxy

import (
	"net/http"
	"time"
)

// statusClientClosed is what the statistics and the access log record for
// a request whose client went away before it was answered (as nginx's 499).
const statusClientClosed = 499

// outcome is what serving one request came to, for the pool's statistics
// and the access log. It lives on the stack of Pool.serve.
type outcome struct {
	start  int64    // nanotime when routed
	ids    []string // the request id, as a header value
	status int      // sent to the client
	bytes  int64    // response body bytes written
	t      *target  // the target that answered (nil: none was picked)
	broken bool     // the response was cut after it had started
	failed bool     // the proxy answered with an error page (counted as failed)
}

// finish records a served request: status class, latency, the target's
// rate window and the access log line. It runs deferred, also when the
// handler aborts a response with a panic.
func (p *Pool) finish(r *http.Request, ctr *counters, res *outcome) {
	d := p.observe(res)
	if al := ctr.alog; al != nil {
		p.logAccess(al, res, d, r.Method, r.Host, r.URL.Path, r.RemoteAddr, r.Header.Get("User-Agent"))
	}
}

// observe counts a served request in the pool's statistics and its
// target's rate window, and returns how long it took.
func (p *Pool) observe(res *outcome) time.Duration { return p.stats.record(res) }

// logAccess writes the access log line of a served request.
func (p *Pool) logAccess(al *AccessLog, res *outcome, d time.Duration, method, host, path, client, agent string) {
	e := accessEntry{end: time.Now(), id: res.ids[0], method: method, host: host, path: path,
		status: res.status, bytes: res.bytes, duration: d, key: p.key, release: p.release,
		client: client, agent: agent}
	if res.t != nil {
		e.target = res.t.Name
	}
	al.write(&e)
}

// writeError writes an error page of the proxy for a request that got no
// answer from a target, with the request id.
func (p *Pool) writeError(w http.ResponseWriter, r *http.Request, ctr *counters, res *outcome, status int, title, msg string) {
	w.Header()[requestIDHeader] = res.ids
	cw := &countingWriter{ResponseWriter: w}
	writeAppPage(cw, r, ctr, status, title, msg)
	res.status, res.bytes = status, cw.n
}

// countingWriter counts the body bytes written through it. Unwrap lets
// http.ResponseController reach the connection (flush, hijack, deadlines).
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// Flush flushes the underlying writer when it can.
func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// answerOwn runs answer, a response the proxy gives without a pool (no
// route: 404; maintenance: 503), with a request id in the response and a
// line in the access log (alog, or the proxy's when the route has none).
func (p *Proxy) answerOwn(w http.ResponseWriter, r *http.Request, key RouteKey, alog *AccessLog, answer func(http.ResponseWriter)) {
	p.answerOwnStatus(w, r, key, alog, 0, answer)
}

// answerOwnStatus is answerOwn logging status when answer wrote none (a
// client that left: 499).
func (p *Proxy) answerOwnStatus(w http.ResponseWriter, r *http.Request, key RouteKey, alog *AccessLog, status int, answer func(http.ResponseWriter)) {
	start := nanotime()
	ids := clientRequestID(r)
	if ids == nil {
		ids = []string{p.ids.next()}
	}
	w.Header()[requestIDHeader] = ids
	if alog == nil {
		alog = p.alog
	}
	if alog == nil {
		answer(w)
		return
	}
	cw := &statusWriter{countingWriter: countingWriter{ResponseWriter: w}}
	answer(cw)
	if cw.status == 0 {
		cw.status = status
	}
	alog.write(&accessEntry{end: time.Now(), id: ids[0], method: r.Method, host: r.Host, path: r.URL.Path,
		status: cw.status, bytes: cw.n, duration: time.Duration(nanotime() - start), key: key,
		client: r.RemoteAddr, agent: r.Header.Get("User-Agent")})
}

// statusWriter is a countingWriter that also keeps the status written.
type statusWriter struct {
	countingWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.countingWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.countingWriter.Write(b)
}
