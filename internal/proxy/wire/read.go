package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
)

// FieldPos locates one header field in a buffer: its canonical name at
// [K0:K1], its value at [V0:V1].
type FieldPos struct{ K0, K1, V0, V1 int32 }

// ReadLine returns the next line from br without its CRLF (or LF). The
// slice is valid until the next read of br. A line longer than br's
// buffer is gathered (it allocates), up to max bytes.
func ReadLine(br *bufio.Reader, max int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A line longer than the buffer (a big cookie or policy): rare,
		// so it may allocate.
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull && len(long) <= max {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		if err == bufio.ErrBufferFull {
			return nil, fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, max)
		}
		line = long
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// ReadFields reads header lines from br up to the empty line, appending
// each field's canonical name and value to scratch (reset first) and its
// place to fs: obs-fold, a name that is not a token and a value with a
// control character (ValidFieldValue) are ErrMalformed, and so are more
// than max bytes of fields.
func ReadFields(br *bufio.Reader, scratch []byte, fs []FieldPos, max int) ([]byte, []FieldPos, error) {
	scratch = scratch[:0]
	for {
		line, err := ReadLine(br, max)
		if err != nil {
			return scratch, fs, err
		}
		if len(line) == 0 {
			return scratch, fs, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return scratch, fs, fmt.Errorf("%w: folded header line", ErrMalformed)
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return scratch, fs, fmt.Errorf("%w: header line %q", ErrMalformed, line)
		}
		var f FieldPos
		f.K0 = int32(len(scratch))
		if scratch, err = AppendCanonicalKey(scratch, line[:i]); err != nil {
			return scratch, fs, fmt.Errorf("%w: header name %q", ErrMalformed, line[:i])
		}
		f.K1 = int32(len(scratch))
		v := TrimOWS(line[i+1:])
		if !ValidFieldValue(v) {
			return scratch, fs, fmt.Errorf("%w: a control character (NUL, CR, LF…) in the value of %q", ErrMalformed, line[:i])
		}
		scratch = append(scratch, v...)
		f.V1 = int32(len(scratch))
		f.V0 = f.K1
		if len(scratch) > max {
			return scratch, fs, fmt.Errorf("%w: header larger than %d bytes", ErrMalformed, max)
		}
		fs = append(fs, f)
	}
}

// commonKeys are canonical header names: a name found here costs no
// allocation.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Age", "Alt-Svc", "Cache-Control", "Connection", "Content-Disposition", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Security-Policy", "Content-Type", "Date",
		"Etag", "Expires", "Keep-Alive", "Last-Modified", "Link", "Location", "Pragma",
		"Proxy-Authenticate", "Proxy-Connection", "Referrer-Policy", "Retry-After", "Server",
		"Set-Cookie", "Strict-Transport-Security", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Vary", "Via", "Www-Authenticate", "X-Content-Type-Options", "X-Frame-Options",
		"X-Powered-By", "X-Request-Id", "X-Xss-Protection",
	} {
		m[k] = k
	}
	return m
}()

// Fill takes the fields of a response head (read by ReadFields into
// scratch and fs) into rh and puts those that go to the client into h:
// one string and one []string allocation for all of them.
func (rh *ResponseHead) Fill(h http.Header, scratch []byte, fs []FieldPos) error {
	if len(fs) == 0 {
		return nil
	}
	s := string(scratch)
	vals := make([]string, len(fs))
	for i, f := range fs {
		k := s[f.K0:f.K1]
		if ck, ok := commonKeys[k]; ok {
			k = ck
		}
		v := s[f.V0:f.V1]
		if keep, err := rh.Take(Lookup(k), v); err != nil || !keep {
			if err != nil {
				return err
			}
			continue
		}
		vals[i] = v
		if prev, ok := h[k]; ok {
			h[k] = append(prev, v)
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	return nil
}

// Finish applies the rules of a final response head to h (filled by
// Fill) for a request of method: the Content-Length of a chunked body
// and the fields Connection named do not reach the client.
func (rh *ResponseHead) Finish(h http.Header, method string) {
	if rh.Frame(method) {
		delete(h, "Content-Length")
	}
	for _, k := range rh.ConnDrop {
		delete(h, k)
	}
}
