package proxy

import (
	"strings"
)

// The lane's request head: what parseLaneHead accepts, and how the head
// goes to a target. The lane takes only heads whose meaning is plain, and
// leaves every other head to the full parser (parseRequestHead), which
// also refuses the malformed ones: so a head either means the same on both
// paths or never reaches the lane.

// laneMaxFields bounds the header lines of a lane request.
const laneMaxFields = 48

// laneMaxForwardedFor bounds the X-Forwarded-For lines of a lane request.
const laneMaxForwardedFor = 4

// laneReq is a request head the lane serves, as slices of its text.
type laneReq struct {
	head   string
	method string // GET or HEAD
	target string // origin-form request target
	path   string // target up to '?'
	host   string // the Host header
	agent  string // the User-Agent header (first)
	id     string // the client's X-Request-Id when it sent exactly one sane value
	ids    int    // X-Request-Id lines seen
	xfp    bool   // the client sent an X-Forwarded-Prefix
	http10 bool   // HTTP/1.0
	close  bool   // the connection closes after the response (Connection, or HTTP/1.0 without keep-alive)
	conns  int    // Connection lines seen

	xff  [laneMaxForwardedFor]string // X-Forwarded-For values, in order
	nxff int
	// fwd are the header lines passed on to the target, as offsets in
	// head: the line's start, its colon, and its value without the
	// spaces around it.
	fwd  [laneMaxFields][4]int32
	nfwd int
}

// parseLaneHead fills q from head (a whole request head, as readHead
// returns it) and reports whether the lane takes it: GET or HEAD over
// HTTP/1.1 or 1.0, an origin-form target that url.Parse keeps as it is,
// one Host, CRLF line ends, and no header that asks for more than passing
// the request on: no body (Content-Length, Transfer-Encoding), no Expect,
// Upgrade, TE, Trailer or Pragma, at most one Connection, "keep-alive" or
// "close".
func parseLaneHead(head string, q *laneReq) bool {
	q.head, q.host, q.agent, q.id, q.ids, q.nxff, q.nfwd, q.xfp = head, "", "", "", 0, 0, 0, false
	q.http10, q.close, q.conns = false, false, 0
	i := strings.IndexByte(head, '\n')
	if i < 1 || head[i-1] != '\r' {
		return false
	}
	line := head[:i-1]
	method, rest, ok := strings.Cut(line, " ")
	if !ok || (method != "GET" && method != "HEAD") {
		return false
	}
	target, proto, ok := strings.Cut(rest, " ")
	if !ok || (proto != "HTTP/1.1" && proto != "HTTP/1.0") || !laneTarget(target, q) {
		return false
	}
	q.http10 = proto == "HTTP/1.0"
	q.close = q.http10 // unless it asks for keep-alive
	q.method, q.target = method, target
	for pos := i + 1; ; {
		j := strings.IndexByte(head[pos:], '\n')
		if j < 1 || head[pos+j-1] != '\r' {
			return false
		}
		end := pos + j + 1 // after the LF
		ln := head[pos : end-2]
		if ln == "" {
			return q.host != ""
		}
		if !q.field(ln, pos) {
			return false
		}
		pos = end
	}
}

// laneTarget checks target as parseTarget's fast path does and sets
// q.path.
func laneTarget(target string, q *laneReq) bool {
	if target == "" || target[0] != '/' {
		return false
	}
	path := target
	for i := 0; i < len(target); i++ {
		b := target[i]
		if b == '?' {
			path = target[:i]
			for _, b := range []byte(target[i+1:]) {
				if b < 0x20 || b == 0x7f {
					return false
				}
			}
			break
		}
		if !pathTable[b] {
			return false
		}
	}
	q.path = path
	return true
}

// field takes one header line (ln, without its CRLF, at start in the
// head); false when the lane leaves the request to the full parser.
func (q *laneReq) field(ln string, start int) bool {
	if ln[0] == ' ' || ln[0] == '\t' {
		return false
	}
	colon := strings.IndexByte(ln, ':')
	if colon <= 0 {
		return false
	}
	name := ln[:colon]
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return false
		}
	}
	v0, v1 := colon+1, len(ln)
	for i := v0; i < v1; i++ {
		if !valueTable[ln[i]] {
			return false
		}
	}
	for v0 < v1 && (ln[v0] == ' ' || ln[v0] == '\t') {
		v0++
	}
	for v1 > v0 && (ln[v1-1] == ' ' || ln[v1-1] == '\t') {
		v1--
	}
	v := ln[v0:v1]
	switch laneField(name) {
	case laneDecline:
		return false
	case laneDrop:
		return true
	case laneConnection:
		// One Connection line naming keep-alive or close, as
		// finishHead reads it; a list goes to the full parser.
		q.conns++
		switch {
		case q.conns > 1:
			return false
		case strings.EqualFold(v, "keep-alive"):
			q.close = false
		case strings.EqualFold(v, "close"):
			q.close = true
		default:
			return false
		}
		return true
	case laneHost:
		if q.host != "" || v == "" || !validHost(v) {
			return false
		}
		q.host = v
		return true
	case laneForwardedFor:
		if q.nxff == laneMaxForwardedFor {
			return false
		}
		q.xff[q.nxff] = v
		q.nxff++
		return true
	case laneRequestID:
		q.ids++
		if q.ids == 1 && saneRequestID(v) {
			q.id = v
		} else {
			q.id = ""
		}
		return true
	case laneAgent:
		if q.agent == "" {
			q.agent = v
		}
	case laneForwardedPrefix:
		q.xfp = true
	}
	if q.nfwd == laneMaxFields {
		return false
	}
	q.fwd[q.nfwd] = [4]int32{int32(start), int32(start + colon), int32(start + v0), int32(start + v1)}
	q.nfwd++
	return true
}

// What the lane does with a request header.
const (
	laneForward         = iota // passed on as it came
	laneDecline                // the request goes to the full parser
	laneDrop                   // hop-by-hop or rewritten by the proxy: not passed on
	laneConnection             // Connection: only "keep-alive" is taken
	laneHost                   // Host
	laneForwardedFor           // X-Forwarded-For: kept, the client's address appended
	laneRequestID              // X-Request-Id: one sane value is kept, else replaced
	laneAgent                  // User-Agent: passed on, and logged
	laneForwardedPrefix        // X-Forwarded-Prefix: passed on (replaced when the route strips a prefix)
)

// laneField classifies the header name (any case).
func laneField(name string) int {
	switch len(name) {
	case 2:
		if strings.EqualFold(name, "Te") {
			return laneDecline
		}
	case 4:
		if strings.EqualFold(name, "Host") {
			return laneHost
		}
	case 6:
		switch {
		case strings.EqualFold(name, "Expect"), strings.EqualFold(name, "Pragma"):
			return laneDecline
		}
	case 7:
		switch {
		case strings.EqualFold(name, "Upgrade"), strings.EqualFold(name, "Trailer"):
			return laneDecline
		}
	case 9:
		if strings.EqualFold(name, "Forwarded") || strings.EqualFold(name, "X-Real-Ip") {
			return laneDrop
		}
	case 10:
		switch {
		case strings.EqualFold(name, "Connection"):
			return laneConnection
		case strings.EqualFold(name, "Keep-Alive"):
			return laneDrop
		case strings.EqualFold(name, "User-Agent"):
			return laneAgent
		}
	case 12:
		switch {
		case strings.EqualFold(name, "X-Request-Id"):
			return laneRequestID
		case strings.EqualFold(name, "X-Url-Scheme"):
			return laneDrop
		}
	case 14:
		if strings.EqualFold(name, "Content-Length") {
			return laneDecline
		}
	case 15:
		switch {
		case strings.EqualFold(name, "X-Forwarded-For"):
			return laneForwardedFor
		case strings.EqualFold(name, "X-Forwarded-Ssl"), strings.EqualFold(name, "Front-End-Https"):
			return laneDrop // spoofable (fast_wire.go)
		}
	case 16:
		if strings.EqualFold(name, "Proxy-Connection") || strings.EqualFold(name, "X-Forwarded-Host") ||
			strings.EqualFold(name, "X-Forwarded-Port") {
			return laneDrop
		}
	case 17:
		switch {
		case strings.EqualFold(name, "Transfer-Encoding"):
			return laneDecline
		case strings.EqualFold(name, "X-Forwarded-Proto"):
			return laneDrop
		}
	case 18:
		switch {
		case strings.EqualFold(name, "Proxy-Authenticate"):
			return laneDrop
		case strings.EqualFold(name, "X-Forwarded-Prefix"):
			return laneForwardedPrefix
		case strings.EqualFold(name, "X-Forwarded-Scheme"):
			return laneDrop
		}
	case 20:
		if strings.EqualFold(name, "X-Forwarded-Protocol") {
			return laneDrop
		}
	case 19:
		if strings.EqualFold(name, "Proxy-Authorization") {
			return laneDrop
		}
	}
	return laneForward
}

// writeHead writes q's head for a target, as writeRequestHead writes the
// head of the same request: hop-by-hop headers left out, X-Forwarded-For
// (prior values kept, clientIP appended), -Host and -Proto set, and the
// request id. With strip (a route's prefix to strip, as stripPrefix does)
// the path loses it and X-Forwarded-Prefix names it.
func (q *laneReq) writeHead(fc *fconn, clientIP, id, strip string) {
	bw := fc.bw
	bw.WriteString(q.method)
	bw.WriteByte(' ')
	if strip == "" {
		bw.WriteString(q.target)
	} else {
		rest := q.path[len(strip):]
		if rest == "" {
			rest = "/"
		}
		bw.WriteString(rest)
		bw.WriteString(q.target[len(q.path):]) // the query, with its '?'
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(q.host)
	bw.WriteString("\r\n")
	for _, f := range q.fwd[:q.nfwd] {
		if f[2] == f[1]+2 && q.head[f[1]+1] == ' ' && q.head[f[3]] == '\r' {
			bw.WriteString(q.head[f[0] : f[3]+2]) // "Name: value\r\n" as it came
			continue
		}
		bw.WriteString(q.head[f[0]:f[1]])
		bw.WriteString(": ")
		bw.WriteString(q.head[f[2]:f[3]])
		bw.WriteString("\r\n")
	}
	if clientIP != "" {
		bw.WriteString("X-Forwarded-For: ")
		for _, v := range q.xff[:q.nxff] {
			bw.WriteString(v)
			bw.WriteString(", ")
		}
		bw.WriteString(clientIP)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Host: ")
	bw.WriteString(q.host)
	bw.WriteString("\r\nX-Forwarded-Proto: http\r\nX-Request-Id: ")
	bw.WriteString(id)
	if strip != "" {
		bw.WriteString("\r\nX-Forwarded-Prefix: ")
		bw.WriteString(strip)
	}
	bw.WriteString("\r\n\r\n")
}
