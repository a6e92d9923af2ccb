package proxy

import (
	"net/http"
	"time"
)

// Client write timeouts: a client may take at most the route's write
// timeout to accept the next bytes of a response; then its connection is
// closed (the write fails, the target's connection is let go), as
// nginx's send_timeout. Without one, a client that never reads a large
// answer holds a goroutine, a buffer and the app's write forever. The
// lean server keeps the deadline itself (serverConn.armWrite, on the
// handler path and the lane; the event loops in their tick); other
// servers (net/http, HTTP/2) get a writer that moves the deadline through
// http.ResponseController.

// slidingDeadline is a deadline kept at "d from now" as bytes move,
// without a deadline call per read or write: it is moved when less than
// 7/8 of d is left (or more than d, after d shrank), so a connection that
// makes no progress for about d is cut, with a call per eighth of d.
type slidingDeadline struct{ at int64 } // nanotime; 0: none set

// due reports whether the deadline must be moved to now+d, and records
// that it is.
func (s *slidingDeadline) due(now int64, d time.Duration) bool {
	if left := s.at - now; s.at != 0 && left >= int64(d-d/8) && left <= int64(d) {
		return false
	}
	s.at = now + int64(d)
	return true
}

// writeTimeoutSetter is the lean server's ResponseWriter.
type writeTimeoutSetter interface{ setWriteTimeout(time.Duration) }

// limitWrites applies the write timeout d to the response of r on w: it
// returns w, or a writer that keeps w's write deadline.
func limitWrites(w http.ResponseWriter, r *http.Request, d time.Duration) http.ResponseWriter {
	if s, ok := w.(writeTimeoutSetter); ok {
		s.setWriteTimeout(d)
		return w
	}
	rc := http.NewResponseController(w)
	if _, up := r.Header["Upgrade"]; up || d <= 0 {
		// An upgraded connection is the app's: no deadline left over from
		// an earlier response on the connection may cut it.
		_ = rc.SetWriteDeadline(time.Time{})
		return w
	}
	return &deadlineWriter{ResponseWriter: w, rc: rc, d: d}
}

// deadlineWriter moves the write deadline of a net/http response before
// its writes: between 7/8 of the timeout and the whole of it from now,
// with a deadline call every eighth of the timeout at most.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
	dl slidingDeadline
}

func (w *deadlineWriter) arm() {
	if w.d > 0 && w.dl.due(nanotime(), w.d) && w.rc.SetWriteDeadline(time.Now().Add(w.d)) != nil {
		w.d = 0 // the server cannot
	}
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(b)
}

// Flush sends what is buffered, within the deadline.
func (w *deadlineWriter) Flush() {
	w.arm()
	_ = w.rc.Flush()
}

// Unwrap returns the underlying writer (for http.ResponseController).
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
