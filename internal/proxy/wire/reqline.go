package wire

import (
	"net/http"
	"net/url"
	"strings"
)

// The line rules of a request head, shared by its two readers: FillRequest
// (an *http.Request for the handler path) and a proxy's raw view of the
// head (the lane's), which takes a head only when these rules read it as
// FillRequest does.

// HeadError is a request a server refuses before any handler runs, with
// the status to answer.
type HeadError struct {
	Status int
	Msg    string
	// Strict: net/http's server would accept the request; berth refuses
	// it on purpose (a form request smuggling is made of).
	Strict bool
}

func (e *HeadError) Error() string { return e.Msg }

// ErrHeadTooLarge is a request head over the server's limit.
var ErrHeadTooLarge = &HeadError{Status: http.StatusRequestHeaderFieldsTooLarge, Msg: "request header too large"}

func badHead(msg string) *HeadError { return &HeadError{Status: http.StatusBadRequest, Msg: msg} }

func strictHead(msg string) *HeadError {
	return &HeadError{Status: http.StatusBadRequest, Msg: msg, Strict: true}
}

// tokenTable marks the bytes of an RFC 9110 token (method, header name).
var tokenTable = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c < 0x80 && IsTokenByte(byte(c))
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
// (no unescaping, no RawPath): OriginForm.
var pathTable = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.IndexByte("-_.~$&+,/:;=@", b) >= 0 && c < 0x80
	}
	return t
}()

// ParseRequestLine parses "METHOD target HTTP/x.y" (without its line
// end): a token method, single spaces, a version of one digit each; a
// major version but 1 is 505 (Strict for HTTP/2's preface, which
// net/http's server takes).
func ParseRequestLine(line string) (method, target, proto string, major, minor int, err *HeadError) {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return "", "", "", 0, 0, badHead("malformed HTTP request")
	}
	if !IsToken(method) {
		return "", "", "", 0, 0, badHead("invalid method")
	}
	major, minor, ok := parseVersion(proto)
	if !ok {
		return "", "", "", 0, 0, badHead("malformed HTTP version")
	}
	if major != 1 {
		return "", "", "", 0, 0, &HeadError{Status: http.StatusHTTPVersionNotSupported, Msg: "unsupported protocol version",
			Strict: major == 2 && minor == 0 && method == "PRI" && target == "*"}
	}
	return method, target, proto, major, minor, nil
}

// SplitFieldLine checks a header field line (without its line end; first
// when it follows the request line) and locates its name, line[:colon],
// and its value without the spaces around it, line[v0:v1]. obs-fold and
// a space in the name are Strict errors; a name that is not a token or a
// value with a control character but HTAB are errors.
func SplitFieldLine(line string, first bool) (colon, v0, v1 int, err *HeadError) {
	if line[0] == ' ' || line[0] == '\t' {
		if first {
			return 0, 0, 0, badHead("malformed header initial line")
		}
		return 0, 0, 0, strictHead("obsolete line folding")
	}
	colon = strings.IndexByte(line, ':')
	if colon < 0 {
		return 0, 0, 0, badHead("malformed header line")
	}
	if colon == 0 {
		return 0, 0, 0, badHead("invalid header name")
	}
	for i := 0; i < colon; i++ {
		if b := line[i]; !tokenTable[b] {
			if b == ' ' {
				return 0, 0, 0, strictHead("space in header name")
			}
			return 0, 0, 0, badHead("invalid header name")
		}
	}
	v0, v1 = colon+1, len(line)
	for v1 > v0 && (line[v1-1] == ' ' || line[v1-1] == '\t') {
		v1--
	}
	for v0 < v1 && (line[v0] == ' ' || line[v0] == '\t') {
		v0++
	}
	for i := v0; i < v1; i++ {
		if !valueTable[line[i]] {
			return 0, 0, 0, badHead("invalid header value")
		}
	}
	return colon, v0, v1, nil
}

// OriginForm splits an origin-form request target of plain path bytes
// (that url.Parse keeps as they are) at its '?': ok is false for any
// other target, which ParseTarget leaves to url.ParseRequestURI.
func OriginForm(raw string) (path, query string, forceQuery, ok bool) {
	if raw == "" || raw[0] != '/' {
		return "", "", false, false
	}
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		if b == '?' {
			for j := i + 1; j < len(raw); j++ {
				if c := raw[j]; c < 0x20 || c == 0x7f {
					return "", "", false, false
				}
			}
			return raw[:i], raw[i+1:], i == len(raw)-1, true
		}
		if !pathTable[b] {
			return "", "", false, false
		}
	}
	return raw, "", false, true
}

// ParseTarget parses a request target into u as url.ParseRequestURI
// does (authority form for CONNECT). An OriginForm target takes a path
// with no allocation.
func ParseTarget(u *url.URL, raw, method string) error {
	if path, query, force, ok := OriginForm(raw); ok {
		u.Path, u.RawQuery, u.ForceQuery = path, query, force
		return nil
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

// IsToken reports whether s is a non-empty token.
func IsToken(s string) bool {
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

// ValidHost reports whether h has only the bytes net/http allows in a
// Host header.
func ValidHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostTable[h[i]] {
			return false
		}
	}
	return true
}

// ParseContentLength parses a request's decimal length up to 2^63-1, as
// strconv.ParseUint(v, 10, 63) (leading zeros allowed, no sign).
func ParseContentLength(v string) (int64, bool) {
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
