package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// The lean server's request head parser. It accepts what net/http's
// server accepts, except the forms request smuggling is made of, which it
// refuses where net/http is lenient (headError.strict): obs-fold
// continuation lines, header names with spaces, Content-Length together
// with Transfer-Encoding, repeated Content-Length headers, and
// Transfer-Encoding in HTTP/1.0. FuzzParseRequestHead holds it to that.

// headError is a request the server refuses before any handler runs.
type headError struct {
	status int
	msg    string
	// strict: net/http's server would accept the request; berth refuses
	// it on purpose.
	strict bool
}

func (e *headError) Error() string { return e.msg }

var errHeadTooLarge = &headError{status: http.StatusRequestHeaderFieldsTooLarge, msg: "request header too large"}

func badHead(msg string) *headError { return &headError{status: http.StatusBadRequest, msg: msg} }

func strictHead(msg string) *headError {
	return &headError{status: http.StatusBadRequest, msg: msg, strict: true}
}

// tokenTable marks the bytes of an RFC 9110 token (method, header name).
var tokenTable = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c < 0x80 && wire.IsTokenByte(byte(c))
	}
	return t
}()

// valueTable marks the bytes allowed in a header value: VCHAR, SP, HTAB
// and obs-text, as net/textproto.
var valueTable = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c == '\t' || (c >= 0x20 && c != 0x7f)
	}
	return t
}()

// hostTable marks the bytes net/http allows in a Host header.
var hostTable = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.IndexByte("!$%&()*+,-.:;=['_]~", b) >= 0 && c < 0x80
	}
	return t
}()

// pathTable marks the bytes of a path that url.Parse keeps as they are
// (no unescaping, no RawPath): the fast path of parseTarget.
var pathTable = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.IndexByte("-_.~$&+,/:;=@", b) >= 0 && c < 0x80
	}
	return t
}()

// requestKeys are canonical request header names, so that a client
// sending them in lower case costs no allocation.
var requestKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Length", "Content-Type", "Cookie", "Dnt", "Expect",
		"Forwarded", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range",
		"Idempotency-Key", "Keep-Alive", "Origin", "Pragma", "Priority", "Range", "Referer",
		"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User",
		"Sec-Websocket-Extensions", "Sec-Websocket-Key", "Sec-Websocket-Protocol",
		"Sec-Websocket-Version", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Upgrade-Insecure-Requests", "User-Agent", "Via", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id", "X-Requested-With",
	} {
		m[k] = k
	}
	return m
}()

// chunkedTE is Request.TransferEncoding of a chunked request.
var chunkedTE = []string{"chunked"}

// nextLine splits s after its first LF; line has no LF and at most one
// CR removed, as bufio.Reader.ReadLine.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseRequestHead parses head (a whole request head, through its empty
// line) into r, whose Header is an empty map and URL a zero url.URL.
// Header values are slices of vals (returned grown), strings of head.
func parseRequestHead(head string, r *http.Request, vals []string) ([]string, error) {
	line, rest := nextLine(head)
	method, rest1, ok1 := strings.Cut(line, " ")
	uri, proto, ok2 := strings.Cut(rest1, " ")
	if !ok1 || !ok2 {
		return vals, badHead("malformed HTTP request")
	}
	if !isToken(method) {
		return vals, badHead("invalid method")
	}
	major, minor, ok := parseVersion(proto)
	if !ok {
		return vals, badHead("malformed HTTP version")
	}
	if major != 1 {
		return vals, &headError{status: http.StatusHTTPVersionNotSupported, msg: "unsupported protocol version",
			strict: major == 2 && minor == 0 && method == "PRI" && uri == "*"}
	}
	r.Method, r.RequestURI, r.Proto, r.ProtoMajor, r.ProtoMinor = method, uri, proto, major, minor
	if err := parseTarget(r.URL, uri, method); err != nil {
		return vals, badHead("malformed request target")
	}
	h := r.Header
	for first := true; ; first = false {
		line, rest = nextLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if first {
				return vals, badHead("malformed header initial line")
			}
			return vals, strictHead("obsolete line folding")
		}
		line = strings.TrimRight(line, " \t")
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return vals, badHead("malformed header line")
		}
		key, ok, spaced := canonicalKey(k)
		if !ok {
			if spaced {
				return vals, strictHead("space in header name")
			}
			return vals, badHead("invalid header name")
		}
		v = strings.TrimLeft(v, " \t")
		for i := 0; i < len(v); i++ {
			if !valueTable[v[i]] {
				return vals, badHead("invalid header value")
			}
		}
		vals = append(vals, v)
		if prev, ok := h[key]; ok {
			h[key] = append(prev, v)
		} else {
			n := len(vals)
			h[key] = vals[n-1 : n : n]
		}
	}
	return finishHead(r, vals)
}

// finishHead applies the rules that look at several headers: Host,
// framing of the body, Connection, trailers.
func finishHead(r *http.Request, vals []string) ([]string, error) {
	h := r.Header
	hosts := h["Host"]
	switch {
	case len(hosts) > 1:
		return vals, badHead("too many Host headers")
	case len(hosts) == 0 && r.ProtoMinor > 0 && r.Method != "CONNECT":
		return vals, badHead("missing required Host header")
	case len(hosts) == 1 && !validHost(hosts[0]):
		return vals, badHead("malformed Host header")
	}
	r.Host = r.URL.Host
	if r.Host == "" && len(hosts) == 1 {
		r.Host = hosts[0]
	}
	delete(h, "Host")
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			vals = append(vals, "no-cache")
			n := len(vals)
			h["Cache-Control"] = vals[n-1 : n : n]
		}
	}
	conn := h["Connection"]
	if r.ProtoMinor == 0 {
		r.Close = wire.TokenListed(conn, "close") || !wire.TokenListed(conn, "keep-alive")
	} else {
		r.Close = wire.TokenListed(conn, "close")
	}

	te, chunked := h["Transfer-Encoding"]
	if chunked {
		delete(h, "Transfer-Encoding")
		switch {
		case r.ProtoMinor == 0:
			return vals, strictHead("Transfer-Encoding in an HTTP/1.0 request")
		case len(te) != 1:
			return vals, &headError{status: http.StatusNotImplemented, msg: "too many transfer encodings"}
		case !strings.EqualFold(te[0], "chunked"):
			return vals, &headError{status: http.StatusNotImplemented, msg: "unsupported transfer encoding"}
		}
	}
	cls := h["Content-Length"]
	var n int64
	if len(cls) > 0 {
		first := strings.Trim(cls[0], " \t")
		for _, cl := range cls[1:] {
			if strings.Trim(cl, " \t") != first {
				return vals, badHead("conflicting Content-Length headers")
			}
		}
		var ok bool
		if n, ok = parseContentLength(first); !ok {
			return vals, badHead("bad Content-Length")
		}
		if len(cls) > 1 {
			return vals, strictHead("repeated Content-Length header")
		}
		if chunked {
			return vals, strictHead("Content-Length with Transfer-Encoding")
		}
	}
	if chunked {
		r.ContentLength = -1
		r.TransferEncoding = chunkedTE
		if tr, ok := h["Trailer"]; ok {
			delete(h, "Trailer")
			t, err := declaredTrailers(tr)
			if err != nil {
				return vals, err
			}
			r.Trailer = t
		}
	} else {
		r.ContentLength = n
	}
	return vals, nil
}

// declaredTrailers returns the trailer names a Trailer header declares.
func declaredTrailers(tr []string) (http.Header, error) {
	t := http.Header{}
	for _, v := range tr {
		for k := range strings.SplitSeq(v, ",") {
			k = strings.Trim(k, " \t")
			if k == "" {
				continue
			}
			k = http.CanonicalHeaderKey(k)
			switch k {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return nil, badHead("bad trailer key")
			}
			t[k] = nil
		}
	}
	if len(t) == 0 {
		return nil, nil
	}
	return t, nil
}

// canonicalKey returns k in canonical form; ok is false when k is not a
// token (spaced: because of a space, which net/http lets through).
func canonicalKey(k string) (key string, ok, spaced bool) {
	if k == "" {
		return "", false, false
	}
	canon, upper := true, true
	for i := 0; i < len(k); i++ {
		b := k[i]
		if !tokenTable[b] {
			return "", false, b == ' '
		}
		if upper && 'a' <= b && b <= 'z' || !upper && 'A' <= b && b <= 'Z' {
			canon = false
		}
		upper = b == '-'
	}
	if canon {
		return k, true, false
	}
	var arr [64]byte
	buf := append(arr[:0], k...)
	upper = true
	for i, b := range buf {
		if upper && 'a' <= b && b <= 'z' {
			buf[i] = b - ('a' - 'A')
		} else if !upper && 'A' <= b && b <= 'Z' {
			buf[i] = b + ('a' - 'A')
		}
		upper = b == '-'
	}
	if s, ok := requestKeys[string(buf)]; ok {
		return s, true, false
	}
	return string(buf), true, false
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenTable[s[i]] {
			return false
		}
	}
	return true
}

func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostTable[h[i]] {
			return false
		}
	}
	return true
}

// parseContentLength parses a decimal length up to 2^63-1, as
// strconv.ParseUint(v, 10, 63) (leading zeros allowed, no sign).
func parseContentLength(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b < '0' || b > '9' {
			return 0, false
		}
		d := uint64(b - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return int64(n), true
}

// parseVersion parses "HTTP/x.y" (one digit each), as
// http.ParseHTTPVersion.
func parseVersion(v string) (major, minor int, ok bool) {
	switch v {
	case "HTTP/1.1":
		return 1, 1, true
	case "HTTP/1.0":
		return 1, 0, true
	}
	if len(v) != 8 || v[:5] != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

// parseTarget parses a request target into u as url.ParseRequestURI
// does (authority form for CONNECT). An origin-form target of plain path
// bytes takes a path with no allocation.
func parseTarget(u *url.URL, raw, method string) error {
	if len(raw) > 0 && raw[0] == '/' {
		q, fast := -1, true
		for i := 0; i < len(raw); i++ {
			b := raw[i]
			if q < 0 {
				if b == '?' {
					q = i
				} else if !pathTable[b] {
					fast = false
					break
				}
			} else if b < 0x20 || b == 0x7f {
				fast = false
				break
			}
		}
		if fast {
			if q < 0 {
				u.Path = raw
			} else {
				u.Path, u.RawQuery = raw[:q], raw[q+1:]
				u.ForceQuery = q == len(raw)-1
			}
			return nil
		}
	}
	authority := method == "CONNECT" && !strings.HasPrefix(raw, "/")
	if authority {
		raw = "http://" + raw
	}
	pu, err := url.ParseRequestURI(raw)
	if err != nil {
		return err
	}
	if authority {
		pu.Scheme = ""
	}
	*u = *pu
	return nil
}
