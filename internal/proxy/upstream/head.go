package upstream

import (
	"bufio"
	"fmt"
	"net"
	"net/http"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// The exchange's heads: the request head written to a target, and the
// response head parsed from it straight into the client's response
// header map.

// WriteRequestHead writes r's request line and headers to c's writer,
// for SendHead: the fields wire.Forwarded.Drops says and those
// Connection lists left out, Host kept, the proxy's own (wire.Forwarded)
// after the client's; r's X-Request-Id is the one request id the proxy
// set. prefix, when not "", is the path prefix the route stripped from
// r's path: X-Forwarded-Prefix names it.
func (c *Conn) WriteRequestHead(r *http.Request, prefix string) {
	writeRequestHead(c.bw, r, c.hc.addr, prefix)
}

func writeRequestHead(bw *bufio.Writer, r *http.Request, addr, prefix string) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	uri := r.RequestURI
	if uri == "" || (uri[0] != '/' && uri != "*") {
		uri = r.URL.RequestURI() // absolute-form: send the path only
	}
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := r.Host
	if host == "" {
		host = addr
	}
	bw.WriteString(host)
	bw.WriteString("\r\n")
	fw := wire.Forwarded{Prior: wire.PriorFor(r.Header), Host: r.Host, TLS: r.TLS != nil,
		RequestID: r.Header["X-Request-Id"], Prefix: prefix}
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		// Host and Content-Length: the head's own, written here.
		if f := wire.Lookup(k); fw.Drops(f) || f == wire.FieldHost || f == wire.FieldContentLength ||
			(len(conn) > 0 && wire.TokenListed(conn, k)) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if te := r.Header["Te"]; len(te) > 0 && wire.TokenListed(te, "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		fw.ClientIP = ip
	}
	fw.Write(bw)
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		bw.WriteString("Content-Length: 0\r\n")
	default:
		if _, ok := r.Header["Content-Length"]; ok {
			bw.WriteString("Content-Length: 0\r\n")
		}
	}
	bw.WriteString("\r\n")
}

// ReadLine returns the next line of c's response without its CRLF (or
// LF), valid until the next read of c.
func (c *Conn) ReadLine() ([]byte, error) { return wire.ReadLine(c.br, MaxHeaderLen) }

// ReadFields reads header lines up to the empty line into c's scratch
// (Scratch) and fs (reused from the caller's stack array).
func (c *Conn) ReadFields(fs []wire.FieldPos) ([]wire.FieldPos, error) {
	var err error
	c.scratch, fs, err = wire.ReadFields(c.br, c.scratch, fs, MaxHeaderLen)
	return fs, err
}

// ReadResponseHead reads the response to a request of method into h
// (the client's response header map), hop-by-hop headers left out. 1xx
// responses other than 101 are passed to w as they come (Sent1xx).
func (c *Conn) ReadResponseHead(w http.ResponseWriter, h http.Header, method string) (wire.ResponseHead, error) {
	rh, sent, err := ReadResponseHead(c.br, &c.scratch, w, h, method)
	if sent {
		c.sent1xx = true
	}
	return rh, err
}

// ReadResponseHead is Conn.ReadResponseHead on br, with scratch for the
// fields' bytes; sent1xx tells that an informational response went to w.
func ReadResponseHead(br *bufio.Reader, scratch *[]byte, w http.ResponseWriter, h http.Header, method string) (rh wire.ResponseHead, sent1xx bool, err error) {
	var arr [48]wire.FieldPos
	for {
		line, err := wire.ReadLine(br, MaxHeaderLen)
		if err != nil {
			return wire.ResponseHead{}, sent1xx, err
		}
		status, http10, err := wire.ParseStatusLine(line)
		if err != nil {
			return wire.ResponseHead{}, sent1xx, err
		}
		var fs []wire.FieldPos
		*scratch, fs, err = wire.ReadFields(br, *scratch, arr[:0], MaxHeaderLen)
		if err != nil {
			return wire.ResponseHead{}, sent1xx, err
		}
		if status == http.StatusSwitchingProtocols {
			return wire.ResponseHead{}, sent1xx, fmt.Errorf("%w: 101 Switching Protocols to a request without Upgrade", wire.ErrMalformed)
		}
		rh := wire.NewResponseHead(status, http10)
		if err := rh.Fill(h, *scratch, fs); err != nil {
			return wire.ResponseHead{}, sent1xx, err
		}
		if status < 200 {
			if status != http.StatusContinue {
				sent1xx = true // the client has bytes: no retry from here
				w.WriteHeader(status)
			}
			clear(h)
			continue
		}
		rh.Finish(h, method)
		return rh, sent1xx, nil
	}
}

// CopyBody copies the response body framed as rh from c to w (CopyBody),
// trailers into h.
//
// An event stream's body (text/event-stream, or JSON lines, chunked or
// until the target closes) cut by the client's cut context ends at the
// next boundary between two events, at most StreamGrace later, with
// ErrStreamEnded: what reached the client is whole events.
func (c *Conn) CopyBody(w http.ResponseWriter, h http.Header, rh wire.ResponseHead, n *int64) (clientErr bool, err error) {
	kind := eventKindOf(h, rh)
	if kind == notStream {
		return CopyBody(w, c.br, &c.scratch, h, rh, MaxHeaderLen, n)
	}
	s := &streamCopy{st: &c.stream, dead: &c.dead, edge: newEventEdge(kind)}
	c.stream.between.Store(true)
	c.stream.on.Store(true)
	defer func() {
		c.stream.on.Store(false)
		c.stream.cut.Store(false)
	}()
	return copyBody(w, c.br, &c.scratch, h, rh, MaxHeaderLen, n, s)
}

// Replayable reports whether r may be sent again after a reused
// connection failed before any byte of a response came back (the target
// may have closed it as idle just as the request was written), as
// net/http's Transport replays requests.
func Replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, ok := r.Header["Idempotency-Key"]
	if !ok {
		_, ok = r.Header["X-Idempotency-Key"]
	}
	return ok
}
