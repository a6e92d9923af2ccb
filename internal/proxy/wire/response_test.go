package wire

import (
	"bufio"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// readHead parses a whole response head as the fast client does.
func readHead(head, method string) (ResponseHead, http.Header, error) {
	br := bufio.NewReader(strings.NewReader(head))
	line, err := ReadLine(br, 1<<20)
	if err != nil {
		return ResponseHead{}, nil, err
	}
	status, http10, err := ParseStatusLine(line)
	if err != nil {
		return ResponseHead{}, nil, err
	}
	scratch, fs, err := ReadFields(br, nil, nil, 1<<20)
	if err != nil {
		return ResponseHead{}, nil, err
	}
	rh := NewResponseHead(status, http10)
	h := http.Header{}
	if err := rh.Fill(h, scratch, fs); err != nil {
		return ResponseHead{}, nil, err
	}
	rh.Finish(h, method)
	return rh, h, nil
}

func TestResponseHead_Framing(t *testing.T) {
	for _, tc := range []struct {
		head, method string
		kind         Framing
		length       int64
		keep         bool
		header       http.Header
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-type: text/plain\r\n\r\n", "GET", BodyLength, 5, true,
			http.Header{"Content-Length": {"5"}, "Content-Type": {"text/plain"}}},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nTrailer: X-Sum\r\n\r\n", "GET", BodyChunked, 5, true,
			http.Header{"Trailer": {"X-Sum"}}},
		{"HTTP/1.0 200 OK\r\n\r\n", "GET", BodyClose, -1, false, http.Header{}},
		{"HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nContent-Length: 0\r\n\r\n", "GET", BodyLength, 0, false,
			http.Header{"Content-Length": {"0"}}},
		{"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", "GET", BodyNone, 9, true, http.Header{"Content-Length": {"9"}}},
		{"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD", BodyNone, 9, true, http.Header{"Content-Length": {"9"}}},
		{"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nContent-Length: 9\r\n\r\n", "GET", BodyLength, 9, true, http.Header{"Content-Length": {"9"}}},
	} {
		rh, h, err := readHead(tc.head, tc.method)
		if err != nil {
			t.Errorf("%q: %v", tc.head, err)
			continue
		}
		if rh.Kind != tc.kind || rh.Length != tc.length || rh.KeepAlive != tc.keep || !reflect.DeepEqual(h, tc.header) {
			t.Errorf("%q: %+v %v", tc.head, rh, h)
		}
	}
	for _, head := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nContent-Length: 8\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/2 200 OK\r\n\r\n",
	} {
		if _, _, err := readHead(head, "GET"); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", head, err)
		}
	}
}

// FuzzTake holds the two instantiations of the field rule to one
// result.
func FuzzTake(f *testing.F) {
	f.Add(uint8(FieldConnection), "close, X-A")
	f.Add(uint8(FieldContentLength), "12")
	f.Add(uint8(FieldTransferEncoding), "Chunked")
	f.Fuzz(func(t *testing.T, fl uint8, v string) {
		a, b := NewResponseHead(200, false), NewResponseHead(200, false)
		ka, ea := a.Take(Field(fl), v)
		kb, eb := b.TakeBytes(Field(fl), []byte(v))
		if ka != kb || (ea == nil) != (eb == nil) || !reflect.DeepEqual(a, b) {
			t.Fatalf("%d %q: %v %v %+v / %v %v %+v", fl, v, ka, ea, a, kb, eb, b)
		}
	})
}
