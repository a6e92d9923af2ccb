package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// HTTP/1.1 wire format of the fast path: the request head written to a
// target, the response head parsed from it straight into the client's
// response header map, and body framing.

// errMalformed is a response that is not HTTP/1.x.
var errMalformed = errors.New("malformed response from the app")

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

// bodyKind is how a response body is framed.
type bodyKind uint8

const (
	bodyNone    bodyKind = iota // HEAD, 1xx, 204, 304
	bodyLength                  // Content-Length
	bodyChunked                 // Transfer-Encoding: chunked
	bodyClose                   // until the target closes the connection
)

// respHead is what the fast path needs of a parsed response head; the
// header fields themselves went into the client's header map.
type respHead struct {
	status    int
	kind      bodyKind
	length    int64
	keepAlive bool
	trailers  bool     // the response declared trailers
	connDrop  []string // more header names listed in Connection
}

// field locates one header line in fconn.scratch.
type field struct{ k0, k1, v0, v1 int32 }

// commonKeys are canonical header names: a name found here costs no
// allocation.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Age", "Alt-Svc", "Cache-Control", "Connection", "Content-Disposition", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Security-Policy", "Content-Type", "Date",
		"Etag", "Expires", "Keep-Alive", "Last-Modified", "Link", "Location", "Pragma",
		"Proxy-Authenticate", "Proxy-Connection", "Referrer-Policy", "Retry-After", "Server",
		"Set-Cookie", "Strict-Transport-Security", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Vary", "Via", "Www-Authenticate", "X-Content-Type-Options", "X-Frame-Options",
		"X-Powered-By", "X-Request-Id", "X-Xss-Protection",
	} {
		m[k] = k
	}
	return m
}()

// isTokenByte reports whether b may appear in a header name.
func isTokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// appendCanonicalKey appends k in canonical form (as
// textproto.CanonicalMIMEHeaderKey), or an error for an invalid name.
func appendCanonicalKey(dst, k []byte) ([]byte, error) {
	if len(k) == 0 {
		return dst, errMalformed
	}
	upper := true
	for _, b := range k {
		if !isTokenByte(b) {
			return dst, errMalformed
		}
		switch {
		case upper && 'a' <= b && b <= 'z':
			b -= 'a' - 'A'
		case !upper && 'A' <= b && b <= 'Z':
			b += 'a' - 'A'
		}
		dst = append(dst, b)
		upper = b == '-'
	}
	return dst, nil
}

// validFieldValue reports whether v may be a header field value: no
// control character but HTAB, no DEL (RFC 9110 5.5 has a recipient
// refuse NUL, CR and LF; net/http refuses every CTL, as this does). It
// looks at eight bytes at a time: a response head is a few hundred
// bytes, most of them values.
func validFieldValue(v []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		// Some byte is below 0x20, or is 0x7f (zero once XORed with
		// 0x7f): the classic "has less than" and "has zero" word tests,
		// which never miss one (and the bytes are then looked at one by
		// one).
		y := x ^ 0x7f*ones
		if (x-0x20*ones)&^x&highs|(y-ones)&^y&highs != 0 {
			return validFieldBytes(v[:8]) && validFieldValue(v[8:])
		}
		v = v[8:]
	}
	return validFieldBytes(v)
}

// validFieldBytes is validFieldValue a byte at a time.
func validFieldBytes(v []byte) bool {
	for _, b := range v {
		if (b < 0x20 && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// readLine returns the next line without its CRLF (or LF). The slice is
// valid until the next read of br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A line longer than the buffer (a big cookie or policy): rare,
		// so it may allocate.
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull && len(long) <= fastMaxHeaderLen {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		if err == bufio.ErrBufferFull {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errMalformed, fastMaxHeaderLen)
		}
		line = long
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatusLine parses "HTTP/1.x NNN reason".
func parseStatusLine(line []byte) (status int, http10 bool, err error) {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	for _, b := range line[9:12] {
		if b < '0' || b > '9' {
			return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
		}
		status = status*10 + int(b-'0')
	}
	if status < 100 {
		return 0, false, fmt.Errorf("%w: status %d", errMalformed, status)
	}
	return status, line[7] == '0', nil
}

// readHeaderFields reads header lines up to the empty line into
// c.scratch and fs (fs reused from the caller's stack array).
func readHeaderFields(c *fconn, fs []field) ([]field, error) {
	c.scratch = c.scratch[:0]
	for {
		line, err := readLine(c.br)
		if err != nil {
			return fs, err
		}
		if len(line) == 0 {
			return fs, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return fs, fmt.Errorf("%w: folded header line", errMalformed)
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return fs, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		var f field
		f.k0 = int32(len(c.scratch))
		if c.scratch, err = appendCanonicalKey(c.scratch, line[:i]); err != nil {
			return fs, fmt.Errorf("%w: header name %q", errMalformed, line[:i])
		}
		f.k1 = int32(len(c.scratch))
		v := trimOWS(line[i+1:])
		if !validFieldValue(v) {
			return fs, fmt.Errorf("%w: a control character (NUL, CR, LF…) in the value of %q", errMalformed, line[:i])
		}
		c.scratch = append(c.scratch, v...)
		f.v1 = int32(len(c.scratch))
		f.v0 = f.k1
		if len(c.scratch) > fastMaxHeaderLen {
			return fs, fmt.Errorf("%w: header larger than %d bytes", errMalformed, fastMaxHeaderLen)
		}
		fs = append(fs, f)
	}
}

// readResponseHead reads the response to a request of method into h
// (the client's response header map), hop-by-hop headers left out. 1xx
// responses other than 101 are passed to w as they come.
func readResponseHead(c *fconn, w http.ResponseWriter, h http.Header, method string) (respHead, error) {
	var arr [48]field
	for {
		line, err := readLine(c.br)
		if err != nil {
			return respHead{}, err
		}
		status, http10, err := parseStatusLine(line)
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
		rh := respHead{status: status, keepAlive: !http10, length: -1}
		if err := fillHeader(c, h, fs, &rh); err != nil {
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
		if rh.frame(method) {
			delete(h, "Content-Length")
		}
		for _, k := range rh.connDrop {
			delete(h, k)
		}
		return rh, nil
	}
}

// frame sets how the body of a final response to a request of method is
// framed, once every field was taken; true when the response's
// Content-Length must not reach the client (the body is chunked).
func (rh *respHead) frame(method string) (dropLength bool) {
	switch {
	case method == http.MethodHead || rh.status == http.StatusNoContent || rh.status == http.StatusNotModified:
		rh.kind = bodyNone
		return false
	case rh.kind == bodyChunked:
		return true
	case rh.length >= 0:
		rh.kind = bodyLength
	default:
		rh.kind, rh.keepAlive = bodyClose, false
	}
	return false
}

// fillHeader turns the fields in c.scratch into entries of h: one string
// and one []string allocation for all of them.
func fillHeader(c *fconn, h http.Header, fs []field, rh *respHead) error {
	if len(fs) == 0 {
		return nil
	}
	s := string(c.scratch)
	vals := make([]string, len(fs))
	for i, f := range fs {
		k := s[f.k0:f.k1]
		if ck, ok := commonKeys[k]; ok {
			k = ck
		}
		v := s[f.v0:f.v1]
		if keep, err := rh.take(k, v); err != nil || !keep {
			if err != nil {
				return err
			}
			continue
		}
		vals[i] = v
		if prev, ok := h[k]; ok {
			h[k] = append(prev, v)
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	return nil
}

// take applies the response header field k (canonical): v to rh and
// reports whether the field goes to the client: hop-by-hop fields and the
// framing of the target's connection (Connection, Transfer-Encoding) do
// not; a repeated equal Content-Length goes once.
func (rh *respHead) take(k, v string) (bool, error) {
	switch k {
	case "Connection":
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			switch {
			case strings.EqualFold(tok, "close"):
				rh.keepAlive = false
			case strings.EqualFold(tok, "keep-alive"), tok == "":
			default:
				rh.connDrop = append(rh.connDrop, http.CanonicalHeaderKey(tok))
			}
		}
		return false, nil
	case "Keep-Alive", "Proxy-Connection", "Upgrade", "Te", "Proxy-Authenticate":
		return false, nil
	case "Transfer-Encoding":
		if !strings.EqualFold(v, "chunked") {
			return false, fmt.Errorf("%w: unsupported transfer encoding %q", errMalformed, v)
		}
		rh.kind = bodyChunked
		return false, nil
	case "Trailer":
		rh.trailers = true
	case "Content-Length":
		n, ok := parseLength(v)
		if !ok || (rh.length >= 0 && n != rh.length) {
			return false, fmt.Errorf("%w: Content-Length %q", errMalformed, v)
		}
		if rh.length >= 0 {
			return false, nil // a repeated, equal value
		}
		rh.length = n
	}
	return true, nil
}

func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b < '0' || b > '9' {
			return 0, false
		}
		n = n*10 + int64(b-'0')
	}
	return n, true
}

// parseChunkSize parses a chunk-size line (extensions ignored).
func parseChunkSize(line []byte) (int64, error) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, fmt.Errorf("%w: chunk size %q", errMalformed, line)
	}
	var n int64
	for _, b := range line {
		switch {
		case '0' <= b && b <= '9':
			b -= '0'
		case 'a' <= b && b <= 'f':
			b -= 'a' - 10
		case 'A' <= b && b <= 'F':
			b -= 'A' - 10
		default:
			return 0, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		n = n<<4 | int64(b)
	}
	return n, nil
}
