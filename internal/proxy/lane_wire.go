package proxy

import (
	"bufio"
	"strings"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// The lane's request head: what parseLaneHead accepts, and how the head
// goes to a target. The lane reads the head with the line rules of
// wire.FillRequest (wire.ParseRequestLine, wire.OriginForm,
// wire.SplitFieldLine, wire.ValidHost), takes only heads whose meaning is
// plain, and leaves every other head to wire.FillRequest, which also
// refuses the malformed ones: so a head either means the same on both
// paths or never reaches the lane (FuzzLaneHead).

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
	method, target, _, _, minor, err := wire.ParseRequestLine(head[:i-1])
	if err != nil || (method != "GET" && method != "HEAD") || minor > 1 {
		return false
	}
	path, _, _, ok := wire.OriginForm(target)
	if !ok {
		return false
	}
	q.path = path
	q.http10 = minor == 0
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

// field takes one header line (ln, without its CRLF, at start in the
// head); false when the lane leaves the request to the full parser.
func (q *laneReq) field(ln string, start int) bool {
	colon, v0, v1, err := wire.SplitFieldLine(ln, false)
	if err != nil {
		return false
	}
	name := ln[:colon]
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
		if q.host != "" || v == "" || !wire.ValidHost(v) {
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

// laneField classifies the header name (any case): the fields that
// ask for more than passing on go to the full parser, wire drops the
// rest it drops (wire.Field.Dropped).
func laneField(name string) int {
	switch f := wire.Lookup(name); f {
	case wire.FieldTE, wire.FieldUpgrade, wire.FieldTrailer, wire.FieldTransferEncoding,
		wire.FieldContentLength, wire.FieldExpect, wire.FieldPragma:
		return laneDecline
	case wire.FieldConnection:
		return laneConnection
	case wire.FieldHost:
		return laneHost
	case wire.FieldXForwardedFor:
		return laneForwardedFor
	case wire.FieldXRequestID:
		return laneRequestID
	case wire.FieldUserAgent:
		return laneAgent
	case wire.FieldXForwardedPrefix:
		return laneForwardedPrefix
	default:
		if f.Dropped() {
			return laneDrop
		}
		return laneForward
	}
}

// writeHead writes q's head for a target to bw, as
// upstream.Conn.WriteRequestHead writes the
// head of the same request: the fields laneField drops left out, then the
// proxy's own (wire.Forwarded: X-Forwarded-For with prior values kept and
// clientIP appended, -Host, -Proto, the request id ids). With strip (a
// route's prefix to strip, as stripPrefix does) the path loses it and
// X-Forwarded-Prefix names it.
func (q *laneReq) writeHead(bw *bufio.Writer, clientIP string, ids []string, strip string) {
	bw.WriteString(q.method)
	bw.WriteByte(' ')
	if strip == "" {
		bw.WriteString(q.target)
	} else {
		bw.WriteString(wire.StripPrefix(q.path, strip))
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
	fw := wire.Forwarded{Prior: q.xff[:q.nxff], ClientIP: clientIP, Host: q.host, RequestID: ids, Prefix: strip}
	fw.Write(bw)
	bw.WriteString("\r\n")
}
