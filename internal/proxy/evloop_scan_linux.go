//go:build linux

package proxy

import "bytes"

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
	n := headEnd(b)
	if n == 0 {
		return evShort(b)
	}
	h := b[:n]
	if len(h) < 16 || string(h[:7]) != "HTTP/1." || (h[7] != '1' && h[7] != '0') || h[8] != ' ' {
		return 0, evUnsuited
	}
	status := 0
	for _, d := range h[9:12] {
		if d < '0' || d > '9' {
			return 0, evUnsuited
		}
		status = status*10 + int(d-'0')
	}
	if status < 200 || (h[12] != ' ' && (h[12] != '\r' || h[13] != '\n')) {
		return 0, evUnsuited
	}
	length := int64(-1)
	chunked := false
	// The field lines, after the status line, each ending in CRLF, up to
	// the empty line (CRLF too).
	pos := bytes.IndexByte(h, '\n') + 1
	if h[pos-2] != '\r' {
		return 0, evUnsuited
	}
	for pos < n-2 {
		i := bytes.IndexByte(h[pos:], '\n')
		if i < 1 || h[pos+i-1] != '\r' {
			return 0, evUnsuited
		}
		line := h[pos : pos+i-1]
		pos += i + 1
		switch {
		case len(line) > 15 && line[14] == ':' && equalFoldASCII(line[:14], "content-length"):
			if length >= 0 {
				return 0, evUnsuited
			}
			v, ok := parseLength(string(trimOWS(line[15:])))
			if !ok {
				return 0, evUnsuited
			}
			length = v
		case len(line) > 18 && line[17] == ':' && equalFoldASCII(line[:17], "transfer-encoding"):
			if chunked || !equalFoldASCII(trimOWS(line[18:]), "chunked") {
				return 0, evUnsuited
			}
			chunked = true
		}
	}
	if pos != n-2 || h[pos] != '\r' {
		return 0, evUnsuited
	}
	if method == "HEAD" || status == 204 || status == 304 {
		return n, evWhole
	}
	if chunked {
		if length >= 0 || h[7] == '0' {
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
	}
	if length < 0 || int64(n)+length > evMaxInline {
		return 0, evUnsuited
	}
	if int64(len(b)) < int64(n)+length {
		return 0, evBody
	}
	return n + int(length), evWhole
}

// evChunked tells whether b holds a whole chunked body (and its length
// with the trailer section): the chunk-size lines are read as
// parseChunkSize reads them.
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
		size, err := parseChunkSize(b[pos : pos+i-1])
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

// equalFoldASCII reports whether b equals lower (lower case) but for the
// case of ASCII letters.
func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
