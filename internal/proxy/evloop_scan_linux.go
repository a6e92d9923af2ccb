//go:build linux

package proxy

import (
	"bytes"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// Verdicts of evScan.
const (
	evWhole    = iota // the answer is whole and the loop answers it
	evMore            // the answer's head is not whole yet
	evBody            // the head is whole, the rest of the answer is not
	evUnsuited        // a goroutine answers it
)

// evScan tells what b, the start of a target's answer to a request of
// method, is for the loop: whole (its length is total), not whole yet
// (evMore before the end of the head, evBody after it), or not for the
// loop. The loop takes a final status with the head's lines
// ending in CRLF and a body framed by one Content-Length or by
// Transfer-Encoding: chunked (none for HEAD, 204 and 304); the lane's
// parser reads the answer after it.
func evScan(b []byte, method string) (total int, verdict int) {
	n := wire.HeadEnd(b)
	if n == 0 {
		return evShort(b)
	}
	h := b[:n]
	// The status line and the field lines, each ending in CRLF, up to
	// the empty line (CRLF too): the framing as wire reads it for the
	// lane, which parses the head again after the loop.
	i := bytes.IndexByte(h, '\n')
	if i < 1 || h[i-1] != '\r' {
		return 0, evUnsuited
	}
	status, http10, err := wire.ParseStatusLine(h[:i-1])
	if err != nil || status < 200 {
		return 0, evUnsuited
	}
	rh := wire.NewResponseHead(status, http10)
	lengths, encodings := 0, 0
	pos := i + 1
	for pos < n-2 {
		i := bytes.IndexByte(h[pos:], '\n')
		if i < 1 || h[pos+i-1] != '\r' {
			return 0, evUnsuited
		}
		line := h[pos : pos+i-1]
		pos += i + 1
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, evUnsuited // not a field: the lane's parser decides
		}
		switch f := wire.Lookup(line[:colon]); f {
		case wire.FieldContentLength, wire.FieldTransferEncoding:
			if f == wire.FieldContentLength {
				lengths++
			} else {
				encodings++
			}
			if _, err := rh.TakeBytes(f, wire.TrimOWS(line[colon+1:])); err != nil {
				return 0, evUnsuited
			}
		}
	}
	if pos != n-2 || h[pos] != '\r' || lengths > 1 || encodings > 1 {
		return 0, evUnsuited
	}
	rh.Frame(method)
	switch rh.Kind {
	case wire.BodyNone:
		return n, evWhole
	case wire.BodyChunked:
		if lengths > 0 || http10 {
			return 0, evUnsuited // both framings, or chunked HTTP/1.0: a goroutine's lane decides
		}
		end, verdict := evChunked(b[n:])
		switch verdict {
		case evWhole:
			return n + end, evWhole
		case evMore:
			return 0, evBody
		}
		return 0, verdict
	case wire.BodyLength:
		if int64(n)+rh.Length > evMaxInline {
			return 0, evUnsuited
		}
		if int64(len(b)) < int64(n)+rh.Length {
			return 0, evBody
		}
		return n + int(rh.Length), evWhole
	}
	return 0, evUnsuited // until the target closes: a goroutine streams it
}

// evChunked tells whether b holds a whole chunked body (and its length
// with the trailer section): the chunk-size lines are read as
// wire.ParseChunkSize reads them.
func evChunked(b []byte) (int, int) {
	pos := 0
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return evShort(b)
		}
		if i == 0 || b[pos+i-1] != '\r' {
			return 0, evUnsuited
		}
		size, err := wire.ParseChunkSize(b[pos : pos+i-1])
		if err != nil {
			return 0, evUnsuited
		}
		pos += i + 1
		if size == 0 {
			break
		}
		if int64(pos)+size+2 > evMaxInline {
			return 0, evUnsuited
		}
		pos += int(size)
		if len(b) < pos+2 {
			return 0, evMore
		}
		if b[pos] != '\r' || b[pos+1] != '\n' {
			return 0, evUnsuited
		}
		pos += 2
	}
	for { // the trailer section, up to its empty line
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return evShort(b)
		}
		line := b[pos : pos+i]
		pos += i + 1
		if len(line) == 0 || line[len(line)-1] != '\r' {
			return 0, evUnsuited
		}
		if len(line) == 1 {
			return pos, evWhole
		}
		if bytes.IndexByte(line, ':') <= 0 {
			return 0, evUnsuited // not a field: the lane's parser decides
		}
	}
}

// evShort is the verdict on an answer that stops short in b: more to
// come, or not for the loop once it outgrew evMaxInline.
func evShort(b []byte) (int, int) {
	if len(b) >= evMaxInline {
		return 0, evUnsuited
	}
	return 0, evMore
}
