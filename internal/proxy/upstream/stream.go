package upstream

import (
	"errors"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// ErrStreamEnded is CopyBody's answer when the client's cut ended an
// event stream (text/event-stream, or JSON lines) between two events: what
// reached the client is whole events only, so the caller ends the
// response as it ends any other (with its terminating chunk) and discards
// the connection. The client sees a stream that ended, not one that broke,
// and reconnects.
var ErrStreamEnded = errors.New("event stream ended by the proxy between two events")

// StreamGrace is how long an event stream cut in the middle of an event
// may take to finish that event before its connection is closed (and the
// response aborted, as any other cut).
const StreamGrace = time.Second

// eventKind is how an event stream's events end.
type eventKind uint8

const (
	notStream  eventKind = iota
	sseStream            // text/event-stream: an event ends with a blank line
	lineStream           // JSON lines: a record ends with its line
)

// streamKind returns the kind of event stream a response with header h
// carries (notStream for any other body, or a malformed Content-Type).
// It runs for every chunked answer, so the allocating
// mime.ParseMediaType only checks a header whose type is a stream's.
func streamKind(h http.Header) eventKind {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return notStream
	}
	mt, _, _ := strings.Cut(ct[0], ";")
	mt = strings.TrimSpace(mt)
	kind := notStream
	if strings.EqualFold(mt, "text/event-stream") {
		kind = sseStream
	}
	for _, l := range lineTypes {
		if strings.EqualFold(mt, l) {
			kind = lineStream
		}
	}
	if kind != notStream {
		if _, _, err := mime.ParseMediaType(ct[0]); err != nil {
			return notStream
		}
	}
	return kind
}

// lineTypes are the media types of JSON-lines streams.
var lineTypes = [...]string{"application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines", "application/stream+json"}

// EventStream reports whether a response with header h, framed as rh,
// is an event stream, which CopyBody ends between two events when the
// client is cut.
func EventStream(h http.Header, rh wire.ResponseHead) bool {
	return eventKindOf(h, rh) != notStream
}

// eventKindOf is the kind of event stream of a response framed as rh
// (notStream unless its body runs until a last chunk or the close).
func eventKindOf(h http.Header, rh wire.ResponseHead) eventKind {
	if rh.Kind != wire.BodyChunked && rh.Kind != wire.BodyClose {
		return notStream
	}
	return streamKind(h)
}

// eventEdge follows where the bytes of an event stream written so far
// end: ends counts the line terminators (LF, CR or CRLF) in a row at the
// end, cr says the last byte was a CR (a LF after it ends the same line).
type eventEdge struct {
	kind eventKind
	ends int
	cr   bool
}

// newEventEdge is the edge of a stream of kind before its first byte: a
// boundary.
func newEventEdge(kind eventKind) eventEdge { return eventEdge{kind: kind, ends: 2} }

func (e *eventEdge) feedByte(b byte) {
	switch b {
	case '\n':
		if e.cr {
			e.cr = false // CRLF: the line end counted at its CR
			return
		}
		e.ends++
	case '\r':
		e.ends++
		e.cr = true
	default:
		e.ends, e.cr = 0, false
	}
}

func (e *eventEdge) feed(b []byte) {
	for _, c := range b {
		e.feedByte(c)
	}
}

// boundary reports whether the bytes so far end an event.
func (e eventEdge) boundary() bool {
	if e.kind == sseStream {
		return e.ends >= 2
	}
	return e.ends >= 1
}

// cutAt returns the length of the shortest prefix of b that ends an event
// (a CR that ends it takes its LF along when b holds it), or -1.
func (e eventEdge) cutAt(b []byte) int {
	for i, c := range b {
		e.feedByte(c)
		if e.boundary() {
			if c == '\r' && i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			return i + 1
		}
	}
	return -1
}

// streamState is what a connection carrying an event stream's body shares
// between the request copying it and a cut (Client.closeAll). The copier
// clears between before it looks at cut, and a cut sets cut before it
// looks at between, so that either the copier sees the cut (and stops at
// the next boundary) or the cut sees that the stream is between events
// (and closes the connection, which the copier takes as the end).
type streamState struct {
	on      atomic.Bool // an event stream's body is being copied
	between atomic.Bool // what went to the client ends an event
	cut     atomic.Bool // the client was cut: end at the next boundary
}

// cutStream is the cut of c: false when c is to be closed now, true when
// c carries an event stream in the middle of an event, which the copier
// ends at its boundary; c is closed after StreamGrace either way.
func (c *Conn) cutStream() bool {
	if !c.stream.on.Load() {
		return false
	}
	c.stream.cut.Store(true)
	if c.stream.between.Load() {
		return false
	}
	time.AfterFunc(StreamGrace, c.close)
	return true
}

// streamCopy is a bodyCopier's part for an event stream.
type streamCopy struct {
	st   *streamState
	dead *atomic.Bool // the connection was closed by the proxy
	edge eventEdge
}

// take returns how much of b, the next body bytes, to write, and whether
// the stream ends after them (the client was cut).
func (s *streamCopy) take(b []byte) (int, bool) {
	s.st.between.Store(false)
	if !s.st.cut.Load() {
		return len(b), false
	}
	if s.edge.boundary() {
		return 0, true
	}
	if i := s.edge.cutAt(b); i >= 0 {
		return i, true
	}
	return len(b), false
}

// wrote notes b, written to the client.
func (s *streamCopy) wrote(b []byte) {
	s.edge.feed(b)
	s.st.between.Store(s.edge.boundary())
}

// ended reports whether a failed read of the stream is its end by the
// proxy between two events: the connection was cut or closed by the proxy
// and what went to the client ends an event.
func (s *streamCopy) ended() bool {
	return (s.st.cut.Load() || s.dead.Load()) && s.edge.boundary()
}
