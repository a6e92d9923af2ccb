package proxy

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// respWriter is the lean server's http.ResponseWriter, one per connection,
// reused by its requests. It writes the head and the body straight into the
// connection's bufio.Writer. The head waits for the first body byte that
// does not fit pendingMax, a Flush, or the end of the handler: a small body
// of a handler that set no Content-Length still gets one.
type respWriter struct {
	c           *serverConn
	req         *http.Request
	header      http.Header
	status      int
	wroteHeader bool  // the final status is chosen
	headDone    bool  // the head is in the buffer
	chunked     bool  // the body goes out in chunks
	closeAfter  bool  // close the connection after this response
	noBody      bool  // HEAD, 1xx, 204, 304: body bytes are not sent
	declared    int64 // the handler's Content-Length; -1: none
	written     int64
	pending     []byte // body bytes held before the head

	canContinue atomic.Bool // the body reader may still send 100 Continue
	contMu      sync.Mutex
}

// pendingMax is how much body a response holds back to compute its
// Content-Length.
const pendingMax = 4 << 10

var (
	_ http.ResponseWriter = (*respWriter)(nil)
	_ http.Flusher        = (*respWriter)(nil)
	_ http.Hijacker       = (*respWriter)(nil)
)

func (w *respWriter) reset(r *http.Request) {
	if w.header == nil || len(w.header) > 64 {
		w.header = make(http.Header, 16)
	} else {
		clear(w.header)
	}
	if cap(w.pending) > pendingMax {
		w.pending = nil
	}
	*w = respWriter{c: w.c, req: r, header: w.header, pending: w.pending[:0], declared: -1,
		closeAfter: r.Close}
}

// Header returns the response header map.
func (w *respWriter) Header() http.Header { return w.header }

// WriteHeader sends an informational status (1xx but 101) at once and
// records any other; the head goes out with the first body bytes.
func (w *respWriter) WriteHeader(code int) {
	if w.c.hijacked || w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.stopContinue()
		bw := w.c.bw
		_, _ = bw.WriteString(statusLine(w.req.ProtoMinor == 0, code))
		w.writeFields(true)
		_, _ = bw.WriteString("\r\n")
		_ = bw.Flush()
		return
	}
	w.wroteHeader, w.status = true, code
	if cl := w.header["Content-Length"]; len(cl) > 0 {
		if n, ok := wire.ParseContentLength(strings.Trim(cl[0], " \t")); ok {
			w.declared = n
		} else {
			delete(w.header, "Content-Length")
		}
	}
	w.noBody = w.req.Method == http.MethodHead || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
}

// Write writes body bytes.
func (w *respWriter) Write(p []byte) (int, error) { return w.write(p, "") }

// WriteString writes body bytes without converting s.
func (w *respWriter) WriteString(s string) (int, error) { return w.write(nil, s) }

func (w *respWriter) write(p []byte, s string) (int, error) {
	n := len(p) + len(s)
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if n == 0 {
		return 0, nil
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			w.written += int64(n)
			return n, nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(n) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(n)
	if !w.headDone {
		if w.declared < 0 && len(w.pending)+n <= pendingMax {
			w.pending = append(w.pending, p...)
			w.pending = append(w.pending, s...)
			return n, nil
		}
		w.writeHead(false)
	}
	bw := w.c.bw
	if w.chunked {
		writeChunkSize(bw, n)
	}
	var err error
	if p != nil {
		_, err = bw.Write(p)
	} else {
		_, err = bw.WriteString(s)
	}
	if w.chunked && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		w.closeAfter = true
		return 0, err
	}
	return n, nil
}

func writeChunkSize(bw *bufio.Writer, n int) {
	var arr [20]byte
	b := strconv.AppendUint(arr[:0], uint64(n), 16)
	b = append(b, '\r', '\n')
	_, _ = bw.Write(b)
}

// Flush sends the head and everything written so far.
func (w *respWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush with the connection's error.
func (w *respWriter) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headDone {
		w.writeHead(false)
	}
	return w.c.bw.Flush()
}

// EnableFullDuplex: the body can always be read while the response is
// written (for http.ResponseController).
func (w *respWriter) EnableFullDuplex() error { return nil }

// SetReadDeadline sets the connection's read deadline (for
// http.ResponseController, and a request body's timeout).
func (w *respWriter) SetReadDeadline(t time.Time) error {
	w.c.rdl, w.c.armedAt = t, 0
	return w.c.rwc.SetReadDeadline(t)
}

// setWriteTimeout sets how long the client may take to accept the next
// bytes of this response (0: no limit).
func (w *respWriter) setWriteTimeout(d time.Duration) { w.c.wto = d }

// SetWriteDeadline sets the connection's write deadline.
func (w *respWriter) SetWriteDeadline(t time.Time) error { return w.c.rwc.SetWriteDeadline(t) }

// Hijack hands the connection over, with what it buffered.
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c.endWatch()
	if w.wroteHeader && !w.headDone {
		w.writeHead(false)
	}
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	c.hijacked = true
	w.stopContinue()
	_ = c.rwc.SetDeadline(time.Time{})
	c.wto, c.wdl = 0, slidingDeadline{}
	c.state.Store(connClosed)
	c.srv.forget(c)
	var nc net.Conn = c.rwc
	if c.buffered() {
		nc = &bufferedConn{Conn: c.rwc, r: c.br}
	}
	return nc, bufio.NewReadWriter(c.br, c.bw), nil
}

// stopContinue keeps the body reader from sending 100 Continue once the
// response has begun.
func (w *respWriter) stopContinue() {
	if w.canContinue.Load() {
		w.contMu.Lock()
		w.canContinue.Store(false)
		w.contMu.Unlock()
	}
}

// writeContinue sends 100 Continue unless the response has begun; the
// body reader calls it on its first read.
func (w *respWriter) writeContinue() {
	w.contMu.Lock()
	defer w.contMu.Unlock()
	if w.canContinue.Load() {
		w.canContinue.Store(false)
		_, _ = w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		_ = w.c.bw.Flush()
	}
}

// finish completes the response when the handler returned.
func (w *respWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headDone {
		w.writeHead(true)
	}
	bw := w.c.bw
	if w.chunked {
		_, _ = bw.WriteString("0\r\n")
		w.writeTrailers()
		_, _ = bw.WriteString("\r\n")
	}
	if !w.noBody && w.declared >= 0 && w.written != w.declared {
		w.closeAfter = true // the client would wait for the rest
	}
}

// writeHead writes the status line and header, choosing the body's
// framing: the handler's Content-Length, a computed one when the handler
// finished (final) with its body held back, else chunked (HTTP/1.1) or
// until close (HTTP/1.0). Held-back body bytes follow the head.
func (w *respWriter) writeHead(final bool) {
	w.headDone = true
	w.stopContinue()
	h := w.header
	bw := w.c.bw
	http10 := w.req.ProtoMinor == 0
	if wire.TokenListed(h["Connection"], "close") || w.c.srv.closed.Load() {
		w.closeAfter = true
	}
	_, trailers := h["Trailer"]
	length := int64(-1)
	switch {
	case w.status < 200 || w.status == http.StatusNoContent:
		delete(h, "Content-Length")
		w.closeAfter = w.closeAfter || w.status == http.StatusSwitchingProtocols
	case w.noBody:
		if w.req.Method == http.MethodHead && final && w.declared < 0 && w.written > 0 {
			length = w.written
		}
	case w.declared >= 0:
	case final && !trailers:
		length = int64(len(w.pending))
	case !http10:
		w.chunked = true
	default:
		w.closeAfter = true
	}
	_, _ = bw.WriteString(statusLine(http10, w.status))
	w.writeFields(false)
	if _, ok := h["Date"]; !ok {
		_, _ = bw.WriteString(dateLine())
	}
	if length >= 0 {
		var arr [40]byte
		b := append(arr[:0], "Content-Length: "...)
		b = strconv.AppendInt(b, length, 10)
		_, _ = bw.Write(append(b, '\r', '\n'))
	}
	if w.chunked {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.status == http.StatusSwitchingProtocols:
	case w.closeAfter:
		_, _ = bw.WriteString("Connection: close\r\n")
	case http10:
		_, _ = bw.WriteString("Connection: keep-alive\r\n")
	}
	_, _ = bw.WriteString("\r\n")
	if len(w.pending) > 0 {
		p := w.pending
		w.pending = w.pending[:0]
		if w.chunked {
			writeChunkSize(bw, len(p))
			_, _ = bw.Write(p)
			_, _ = bw.WriteString("\r\n")
		} else {
			_, _ = bw.Write(p)
		}
	}
}

// writeFields writes the header fields the handler set, but those the
// server writes itself (framing, Connection) and trailers. Values lose CR
// and LF (no response splitting); invalid names are left out.
func (w *respWriter) writeFields(informational bool) {
	bw := w.c.bw
	for k, vv := range w.header {
		switch k {
		case "Transfer-Encoding":
			continue
		case "Connection":
			if w.status != http.StatusSwitchingProtocols || informational {
				continue
			}
		case "Content-Length":
			if informational {
				continue
			}
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || !wire.IsToken(k) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
}

// writeField writes the header line "k: v"; v loses its CR and LF (no
// response splitting).
func writeField(bw *bufio.Writer, k, v string) {
	if hasCRLF(v) {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	_, _ = bw.WriteString(k)
	_, _ = bw.WriteString(": ")
	_, _ = bw.WriteString(v)
	_, _ = bw.WriteString("\r\n")
}

// hasCRLF reports whether v holds a CR or LF.
func hasCRLF(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] <= '\r' && (v[i] == '\r' || v[i] == '\n') {
			return true
		}
	}
	return false
}

// writeTrailers writes the declared trailers and those named with
// http.TrailerPrefix after the last chunk.
func (w *respWriter) writeTrailers() { writeTrailerFields(w.c.bw, w.header) }

// writeTrailerFields writes the trailers of h: the fields its Trailer
// header declares and those named with http.TrailerPrefix.
func writeTrailerFields(bw *bufio.Writer, h http.Header) {
	write := func(k string, vv []string) {
		if !wire.IsToken(k) {
			return
		}
		switch k {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return
		}
		for _, v := range vv {
			if hasCRLF(v) {
				continue
			}
			_, _ = bw.WriteString(k + ": " + v + "\r\n")
		}
	}
	for _, decl := range h["Trailer"] {
		for k := range strings.SplitSeq(decl, ",") {
			if k = strings.Trim(k, " \t"); k != "" {
				k = http.CanonicalHeaderKey(k)
				write(k, h[k])
			}
		}
	}
	for k, vv := range h {
		if after, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			write(http.CanonicalHeaderKey(after), vv)
		}
	}
}

// statusLines caches "HTTP/1.x NNN Text\r\n" of the known statuses.
var statusLines = func() (t [2][600]string) {
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			t[0][code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
			t[1][code] = "HTTP/1.0 " + strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
	return t
}()

func statusLine(http10 bool, code int) string {
	v := 0
	if http10 {
		v = 1
	}
	if code < 600 && statusLines[v][code] != "" {
		return statusLines[v][code]
	}
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	return "HTTP/1." + strconv.Itoa(1-v) + " " + strconv.Itoa(code) + " " + text + "\r\n"
}

// dateLine returns the Date header line of the current second.
func dateLine() string {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.line
	}
	d := &dateEntry{sec: sec, line: "Date: " + now.UTC().Format(http.TimeFormat) + "\r\n"}
	dateCache.Store(d)
	return d.line
}

type dateEntry struct {
	sec  int64
	line string
}

var dateCache atomic.Pointer[dateEntry]
