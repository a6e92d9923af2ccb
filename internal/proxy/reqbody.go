package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Request bodies between the client and the app (the handler path: the
// lane takes no bodies). A body is read through a clientBody, which
//
//   - bounds the wait for its next bytes by the route's body timeout
//     (a read deadline on the client's connection, moved as bytes come);
//   - cuts it at the route's size limit;
//   - reads a small body of known length (Content-Length up to
//     bufferedBodyMax: forms, JSON) whole before a target is picked, so
//     that a stalled or cut small upload never holds a connection to the
//     app nor reaches it; chunked bodies stream as they come (a client
//     and an app may talk both ways on one request), as larger ones do;
//   - remembers how reading it failed. A body that fails on the client's
//     side (malformed chunks, a client that resets or stalls, a body
//     over the limit) is the client's fault: the request never counts as
//     a failure of the target, the client gets 400, 408 or 413, and a
//     client that left is logged as 499. Nothing else changes.

// bufferedBodyMax is the largest request body read whole before the
// request goes to a target.
const bufferedBodyMax = 64 << 10

// bodyFault is how reading a request body failed on the client's side.
type bodyFault uint8

const (
	bodyOK        bodyFault = iota
	bodyMalformed           // bad framing (chunk sizes): 400
	bodyShort               // the body ended before its length: 400
	bodyTimedOut            // no bytes within the body timeout: 408
	bodyTooLarge            // over the route's limit: 413
	bodyGone                // the client reset or closed the connection: 499
)

// clientBody is a request body as the proxy passes it on: first the bytes
// it buffered, then the rest from the client.
type clientBody struct {
	mu      sync.Mutex
	src     io.Reader // the client's body; nil once read whole
	buf     []byte    // buffered bytes not read yet
	limit   int64     // bytes allowed in all (0: no limit)
	n       int64     // bytes taken from src so far
	timeout time.Duration
	dl      deadliner // sets the client connection's read deadline (nil: none)
	armed   slidingDeadline
	fault   bodyFault
	err     error // the read error behind fault
	closed  bool
}

// deadliner sets a connection's read deadline: the lean server's
// ResponseWriter, or an http.ResponseController.
type deadliner interface{ SetReadDeadline(time.Time) error }

// errBodyTooLarge is the read error of a body past its route's limit.
type errBodyTooLarge struct{ limit int64 }

func (e errBodyTooLarge) Error() string {
	return "request body larger than the route's limit of " + strconv.FormatInt(e.limit, 10) + " bytes"
}

// newClientBody wraps r's body with the limits lim; w is r's writer (for
// the read deadline).
func newClientBody(w http.ResponseWriter, r *http.Request, lim limits) *clientBody {
	b := &clientBody{src: r.Body, limit: lim.maxBody, timeout: lim.bodyTimeout}
	if b.timeout > 0 {
		if d, ok := w.(deadliner); ok {
			b.dl = d
		} else {
			b.dl = http.NewResponseController(w)
		}
	}
	return b
}

// Read reads the buffered bytes, then the client's.
func (b *clientBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if len(b.buf) > 0 {
		n := copy(p, b.buf)
		b.buf = b.buf[n:]
		return n, nil
	}
	if b.src == nil {
		return 0, io.EOF
	}
	return b.readSrc(p)
}

// readSrc reads from the client with the body timeout and the limit,
// recording a failure; b.mu is held.
func (b *clientBody) readSrc(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.limit > 0 && int64(len(p)) > b.limit-b.n+1 {
		p = p[:b.limit-b.n+1] // one byte past the limit tells it is passed
	}
	b.arm()
	n, err := b.src.Read(p)
	b.n += int64(n)
	if b.limit > 0 && b.n > b.limit {
		n -= int(b.n - b.limit)
		b.n = b.limit
		b.fail(bodyTooLarge, errBodyTooLarge{b.limit})
		return n, b.err
	}
	if err == io.EOF {
		b.src = nil
		b.disarm()
		return n, err
	}
	if err != nil {
		b.fail(classifyBodyError(err), err)
		return n, err
	}
	return n, nil
}

// arm slides the read deadline with the body timeout.
func (b *clientBody) arm() {
	if b.dl != nil && b.armed.due(nanotime(), b.timeout) && b.dl.SetReadDeadline(time.Now().Add(b.timeout)) != nil {
		b.dl = nil // the server cannot: no timeout
	}
}

// disarm lifts the read deadline once the body was read whole (the
// server's own timeouts take the connection back).
func (b *clientBody) disarm() {
	if b.dl != nil && b.armed.at != 0 {
		_ = b.dl.SetReadDeadline(time.Time{})
		b.armed = slidingDeadline{}
	}
}

func (b *clientBody) fail(f bodyFault, err error) {
	if b.fault == bodyOK {
		b.fault, b.err = f, err
	}
}

// classifyBodyError tells what a failed read of a client's body means.
func classifyBodyError(err error) bodyFault {
	var op *net.OpError
	switch {
	case isTimeout(err):
		return bodyTimedOut
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bodyShort
	case errors.As(err, &op), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe):
		return bodyGone
	}
	return bodyMalformed // the server's chunked reader refused the framing
}

// Close ends the body: later reads fail.
func (b *clientBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed, b.buf = true, nil
	return nil
}

// failure returns how reading the body failed on the client's side.
func (b *clientBody) failure() (bodyFault, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fault, b.err
}

// fill reads the body, of known length n, whole into b's buffer.
func (b *clientBody) fill(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	buf := make([]byte, n+1) // a byte more: the read that meets the end
	got := 0
	for b.src != nil && got < len(buf) {
		m, err := b.readSrc(buf[got:])
		got += m
		if err != nil && err != io.EOF {
			return err
		}
	}
	b.buf = buf[:got]
	return nil
}

// takeBody wraps r's body for rt (limits, timeout, failure accounting)
// and reads a small one of known length whole. It returns false when it
// answered the request itself: the body failed on the client's side or
// is over the limit. A body read whole goes on without Expect (the
// client was answered 100 Continue).
func (p *Proxy) takeBody(w http.ResponseWriter, r *http.Request, rt *route) bool {
	lim := rt.limits
	if lim.maxBody > 0 && r.ContentLength > lim.maxBody {
		p.answerBodyFault(w, r, rt, bodyTooLarge, errBodyTooLarge{lim.maxBody})
		return false
	}
	b := newClientBody(w, r, lim)
	r.Body = b
	if r.ContentLength < 0 || r.ContentLength > bufferedBodyMax {
		// Chunked bodies stream as they come: a client and an app may
		// talk both ways at once on one request.
		return true
	}
	if err := b.fill(r.ContentLength); err != nil {
		f, err := b.failure()
		p.answerBodyFault(w, r, rt, f, err)
		return false
	}
	delete(r.Header, "Expect") // answered: the app gets the body at once
	return true
}

// bodyFaultAnswer is the status and page of a request whose body failed
// on the client's side (status 499: the client left, nothing is written).
func bodyFaultAnswer(f bodyFault, err error) (status int, title, msg string) {
	switch f {
	case bodyTimedOut:
		return http.StatusRequestTimeout, "Request timeout", "The request body stopped arriving."
	case bodyTooLarge:
		var tl errBodyTooLarge
		errors.As(err, &tl)
		return http.StatusRequestEntityTooLarge, "Request too large",
			"The request body is larger than this app accepts (" + strconv.FormatInt(tl.limit, 10) + " bytes)."
	case bodyShort:
		return http.StatusBadRequest, "Bad request", "The request body ended before its declared length."
	case bodyGone:
		return statusClientClosed, "", ""
	}
	return http.StatusBadRequest, "Bad request", "The request body is malformed (chunked encoding)."
}

// answerBodyFault answers a request whose body failed before it went to a
// target, with a line in the access log; the connection closes after it.
func (p *Proxy) answerBodyFault(w http.ResponseWriter, r *http.Request, rt *route, f bodyFault, err error) {
	status, title, msg := bodyFaultAnswer(f, err)
	p.log.Debug("request body refused", "app", rt.key.App, "env", rt.key.Env, "service", rt.key.Service,
		"status", status, "client_addr", r.RemoteAddr, "error", err)
	p.answerOwnStatus(w, r, rt.key, rt.ctr.alog, status, func(w http.ResponseWriter) {
		writeBodyFault(w, r, status, title, msg)
	})
}

// writeBodyFault answers a request whose body failed on the client's
// side, closing the connection after it (the body's framing is lost);
// a client that left (499) gets nothing.
func writeBodyFault(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	if status == statusClientClosed {
		return
	}
	w.Header().Set("Connection", "close")
	writePage(w, r, status, title, msg)
}
