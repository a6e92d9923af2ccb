package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed is a response that is not HTTP/1.x as a proxy takes it.
var ErrMalformed = errors.New("malformed response from the app")

// IsTokenByte reports whether b may appear in a token (RFC 9110 5.6.2):
// a method or a header name.
func IsTokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// AppendCanonicalKey appends k in canonical form (as
// textproto.CanonicalMIMEHeaderKey), or ErrMalformed for a name that is
// not a token.
func AppendCanonicalKey(dst, k []byte) ([]byte, error) {
	if len(k) == 0 {
		return dst, ErrMalformed
	}
	upper := true
	for _, b := range k {
		if !IsTokenByte(b) {
			return dst, ErrMalformed
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

// ValidFieldValue reports whether v may be a header field value: no
// control character but HTAB, no DEL (RFC 9110 5.5 has a recipient
// refuse NUL, CR and LF; net/http refuses every CTL, as this does). It
// looks at eight bytes at a time: a response head is a few hundred
// bytes, most of them values. FuzzValidFieldValue holds it to
// validFieldBytes.
func ValidFieldValue(v []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		// Some byte is below 0x20, or is 0x7f (zero once XORed with
		// 0x7f): the classic "has less than" and "has zero" word tests,
		// which never miss one (and the bytes are then looked at one by
		// one).
		y := x ^ 0x7f*ones
		if (x-0x20*ones)&^x&highs|(y-ones)&^y&highs != 0 {
			return validFieldBytes(v[:8]) && ValidFieldValue(v[8:])
		}
		v = v[8:]
	}
	return validFieldBytes(v)
}

// validFieldBytes is ValidFieldValue a byte at a time.
func validFieldBytes(v []byte) bool {
	for _, b := range v {
		if (b < 0x20 && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// TrimOWS returns b without the spaces and tabs around it.
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// ParseLength parses a response's Content-Length: decimal digits only,
// at most 18 of them.
func ParseLength[T string | []byte](v T) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
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

// ParseChunkSize parses a chunk-size line without its CRLF (extensions
// ignored): at most 15 hex digits, spaces around them allowed.
func ParseChunkSize(line []byte) (int64, error) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = TrimOWS(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, fmt.Errorf("%w: chunk size %q", ErrMalformed, line)
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
			return 0, fmt.Errorf("%w: chunk size %q", ErrMalformed, line)
		}
		n = n<<4 | int64(b)
	}
	return n, nil
}
