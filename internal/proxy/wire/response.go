package wire

import (
	"fmt"
	"net/http"
	"strings"
)

// Framing is how a response body is delimited.
type Framing uint8

// The framings of a response body.
const (
	BodyNone    Framing = iota // HEAD, 1xx, 204, 304
	BodyLength                 // Content-Length
	BodyChunked                // Transfer-Encoding: chunked
	BodyClose                  // until the target closes the connection
)

// ResponseHead is what a proxy needs of a response head besides its
// fields: the status and how the body is framed. Fill it with
// NewResponseHead, Take (every field, in order) and Frame.
type ResponseHead struct {
	Status    int
	Kind      Framing
	Length    int64 // Content-Length, -1 when none
	KeepAlive bool  // the target keeps the connection open after it
	Trailers  bool  // the response declared trailers
	// ConnDrop are more header names the response's Connection lists
	// (canonical): they do not reach the client either.
	ConnDrop []string
}

// NewResponseHead starts the head of a response with status (from
// ParseStatusLine) before its fields.
func NewResponseHead(status int, http10 bool) ResponseHead {
	return ResponseHead{Status: status, KeepAlive: !http10, Length: -1}
}

// ParseStatusLine parses "HTTP/1.x NNN reason" (the reason may be
// missing) without its line end.
func ParseStatusLine(line []byte) (status int, http10 bool, err error) {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return 0, false, fmt.Errorf("%w: status line %q", ErrMalformed, line)
	}
	for _, b := range line[9:12] {
		if b < '0' || b > '9' {
			return 0, false, fmt.Errorf("%w: status line %q", ErrMalformed, line)
		}
		status = status*10 + int(b-'0')
	}
	if status < 100 {
		return 0, false, fmt.Errorf("%w: status %d", ErrMalformed, status)
	}
	return status, line[7] == '0', nil
}

// Take applies the response header field f with value v to rh and
// reports whether the field goes to the client: hop-by-hop fields
// (Field.ResponseHop) and the framing of the target's connection
// (Connection, Transfer-Encoding) do not; a repeated equal
// Content-Length goes once. A Transfer-Encoding but chunked, or a
// Content-Length that is not a length or disagrees with an earlier one,
// is ErrMalformed.
//
// (Not inlined, here and in TakeBytes: a caller in another package then
// sees that rh does not escape, and keeps its ResponseHead on its stack.)
//
//go:noinline
func (rh *ResponseHead) Take(f Field, v string) (bool, error) { return take(rh, f, v) }

// TakeBytes is Take for a value still in its buffer.
//
//go:noinline
func (rh *ResponseHead) TakeBytes(f Field, v []byte) (bool, error) { return take(rh, f, v) }

func take[T string | []byte](rh *ResponseHead, f Field, v T) (bool, error) {
	switch f {
	case FieldConnection:
		for len(v) > 0 {
			i := 0
			for i < len(v) && v[i] != ',' {
				i++
			}
			tok := v[:i]
			if i < len(v) {
				v = v[i+1:]
			} else {
				v = v[:0]
			}
			s := strings.TrimSpace(string(tok))
			switch {
			case strings.EqualFold(s, "close"):
				rh.KeepAlive = false
			case strings.EqualFold(s, "keep-alive"), s == "":
			default:
				rh.ConnDrop = append(rh.ConnDrop, http.CanonicalHeaderKey(s))
			}
		}
		return false, nil
	case FieldTransferEncoding:
		if !foldEqual(v, "chunked") {
			return false, fmt.Errorf("%w: unsupported transfer encoding %q", ErrMalformed, v)
		}
		rh.Kind = BodyChunked
		return false, nil
	case FieldTrailer:
		rh.Trailers = true
	case FieldContentLength:
		n, ok := ParseLength(v)
		if !ok || (rh.Length >= 0 && n != rh.Length) {
			return false, fmt.Errorf("%w: Content-Length %q", ErrMalformed, v)
		}
		if rh.Length >= 0 {
			return false, nil // a repeated, equal value
		}
		rh.Length = n
	default:
		if f.ResponseHop() {
			return false, nil
		}
	}
	return true, nil
}

// Frame sets how the body of a final response to a request of method is
// framed, once every field was taken; true when the response's
// Content-Length must not reach the client (the body is chunked).
func (rh *ResponseHead) Frame(method string) (dropLength bool) {
	switch {
	case method == http.MethodHead || rh.Status == http.StatusNoContent || rh.Status == http.StatusNotModified:
		rh.Kind = BodyNone
		return false
	case rh.Kind == BodyChunked:
		return true
	case rh.Length >= 0:
		rh.Kind = BodyLength
	default:
		rh.Kind, rh.KeepAlive = BodyClose, false
	}
	return false
}
