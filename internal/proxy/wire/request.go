package wire

import (
	"bytes"
	"net/http"
	"strings"
)

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

// HeadEnd returns the length of the head at the start of b (through the
// empty line), or 0 when b does not hold a whole head yet.
func HeadEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
		if i+1 >= len(b) {
			return 0
		}
	}
}

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

// FillRequest parses head (a whole request head, through its empty line)
// into r, whose Header is an empty map and URL a zero url.URL. Header
// values are slices of vals (returned grown), strings of head. It accepts
// what net/http's server accepts but the forms request smuggling is made
// of (HeadError.Strict): obs-fold, a space in a header name,
// Content-Length with Transfer-Encoding, a repeated Content-Length, and
// Transfer-Encoding in HTTP/1.0. The error is a *HeadError.
func FillRequest(head string, r *http.Request, vals []string) ([]string, error) {
	line, rest := nextLine(head)
	method, uri, proto, major, minor, herr := ParseRequestLine(line)
	if herr != nil {
		return vals, herr
	}
	r.Method, r.RequestURI, r.Proto, r.ProtoMajor, r.ProtoMinor = method, uri, proto, major, minor
	if err := ParseTarget(r.URL, uri, method); err != nil {
		return vals, badHead("malformed request target")
	}
	h := r.Header
	for first := true; ; first = false {
		line, rest = nextLine(rest)
		if line == "" {
			break
		}
		colon, v0, v1, herr := SplitFieldLine(line, first)
		if herr != nil {
			return vals, herr
		}
		key := canonKey(line[:colon])
		v := line[v0:v1]
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
	case len(hosts) == 1 && !ValidHost(hosts[0]):
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
		r.Close = TokenListed(conn, "close") || !TokenListed(conn, "keep-alive")
	} else {
		r.Close = TokenListed(conn, "close")
	}

	te, chunked := h["Transfer-Encoding"]
	if chunked {
		delete(h, "Transfer-Encoding")
		switch {
		case r.ProtoMinor == 0:
			return vals, strictHead("Transfer-Encoding in an HTTP/1.0 request")
		case len(te) != 1:
			return vals, &HeadError{Status: http.StatusNotImplemented, Msg: "too many transfer encodings"}
		case !strings.EqualFold(te[0], "chunked"):
			return vals, &HeadError{Status: http.StatusNotImplemented, Msg: "unsupported transfer encoding"}
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
		if n, ok = ParseContentLength(first); !ok {
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

// CanonicalKey returns k in canonical form; ok is false when k is not a
// token (spaced: because of a space, which net/http lets through).
func CanonicalKey(k string) (key string, ok, spaced bool) {
	if k == "" {
		return "", false, false
	}
	for i := 0; i < len(k); i++ {
		if b := k[i]; !tokenTable[b] {
			return "", false, b == ' '
		}
	}
	return canonKey(k), true, false
}

// canonKey returns the token k in canonical form, without allocating
// when k is canonical or a common request header name.
func canonKey(k string) string {
	canon, upper := true, true
	for i := 0; i < len(k); i++ {
		b := k[i]
		if upper && 'a' <= b && b <= 'z' || !upper && 'A' <= b && b <= 'Z' {
			canon = false
			break
		}
		upper = b == '-'
	}
	if canon {
		return k
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
		return s
	}
	return string(buf)
}
