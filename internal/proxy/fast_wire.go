package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// HTTP/1.1 wire format of the fast path: the request head written to a
// target, the response head parsed from it straight into the client's
// response header map, and body framing.

// errMalformed is a response that is not HTTP/1.x.
var errMalformed = wire.ErrMalformed

// writeRequestHead writes r's request line and headers for a target:
// the fields wire.Field.Dropped says and those Connection lists left
// out, Host kept, the proxy's own (wire.Forwarded) after the client's.
func writeRequestHead(bw *bufio.Writer, r *http.Request, addr string) {
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
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		// Host and Content-Length: the head's own, written here.
		if f := wire.Lookup(k); f.Dropped() || f == wire.FieldHost || f == wire.FieldContentLength ||
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
	fw := wire.Forwarded{Prior: wire.PriorFor(r.Header), Host: r.Host, TLS: r.TLS != nil,
		RequestID: r.Header[requestIDHeader]} // one: Pool.requestID
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

// respHead is what the fast path needs of a parsed response head; the
// header fields themselves went into the client's response header map.
type respHead = wire.ResponseHead

// readLine returns the next line of br without its CRLF (or LF), valid
// until the next read of br.
func readLine(br *bufio.Reader) ([]byte, error) { return wire.ReadLine(br, fastMaxHeaderLen) }

// readHeaderFields reads header lines up to the empty line into
// c.scratch and fs (fs reused from the caller's stack array).
func readHeaderFields(c *fconn, fs []wire.FieldPos) ([]wire.FieldPos, error) {
	var err error
	c.scratch, fs, err = wire.ReadFields(c.br, c.scratch, fs, fastMaxHeaderLen)
	return fs, err
}

// readResponseHead reads the response to a request of method into h
// (the client's response header map), hop-by-hop headers left out. 1xx
// responses other than 101 are passed to w as they come.
func readResponseHead(c *fconn, w http.ResponseWriter, h http.Header, method string) (respHead, error) {
	var arr [48]wire.FieldPos
	for {
		line, err := readLine(c.br)
		if err != nil {
			return respHead{}, err
		}
		status, http10, err := wire.ParseStatusLine(line)
		if err != nil {
			return respHead{}, err
		}
		fs, err := readHeaderFields(c, arr[:0])
		if err != nil {
			return respHead{}, err
		}
		if status == http.StatusSwitchingProtocols {
			return respHead{}, fmt.Errorf("%w: 101 Switching Protocols to a request without Upgrade", errMalformed)
		}
		rh := wire.NewResponseHead(status, http10)
		if err := rh.Fill(h, c.scratch, fs); err != nil {
			return respHead{}, err
		}
		if status < 200 {
			if status != http.StatusContinue {
				c.sent1xx = true // the client has bytes: no retry from here
				w.WriteHeader(status)
			}
			clear(h)
			continue
		}
		rh.Finish(h, method)
		return rh, nil
	}
}
