package upstream

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

func copyOf(t *testing.T, body string, rh wire.ResponseHead, h http.Header) (*httptest.ResponseRecorder, int64, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	var n int64
	var scratch []byte
	_, err := CopyBody(rec, bufio.NewReader(strings.NewReader(body)), &scratch, h, rh, 1<<20, &n)
	return rec, n, err
}

func TestCopyBody_Framings(t *testing.T) {
	rh := wire.NewResponseHead(200, false)
	rh.Kind, rh.Length = wire.BodyLength, 5
	if rec, n, err := copyOf(t, "hello, and more", rh, http.Header{}); err != nil || rec.Body.String() != "hello" || n != 5 {
		t.Errorf("length: %q %d %v", rec.Body.String(), n, err)
	}
	rh.Kind = wire.BodyClose
	if rec, n, err := copyOf(t, "until close", rh, http.Header{}); err != nil || rec.Body.String() != "until close" || n != 11 {
		t.Errorf("close: %q %d %v", rec.Body.String(), n, err)
	}
	rh.Kind, rh.Trailers = wire.BodyChunked, true
	h := http.Header{"Trailer": {"X-Sum"}}
	rec, n, err := copyOf(t, "5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-Sum: 6\r\nX-Other: o\r\n\r\n", rh, h)
	if err != nil || rec.Body.String() != "hello!" || n != 6 {
		t.Errorf("chunked: %q %d %v", rec.Body.String(), n, err)
	}
	want := http.Header{"Trailer": {"X-Sum"}, "X-Sum": {"6"}, http.TrailerPrefix + "X-Other": {"o"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("trailers: %v, want %v", h, want)
	}
	rh.Kind = wire.BodyNone
	if rec, _, err := copyOf(t, "ignored", rh, http.Header{}); err != nil || rec.Body.Len() != 0 {
		t.Errorf("none: %q %v", rec.Body.String(), err)
	}
}

func TestCopyBody_CutAndMalformed(t *testing.T) {
	rh := wire.NewResponseHead(200, false)
	rh.Kind, rh.Length = wire.BodyLength, 10
	if _, _, err := copyOf(t, "short", rh, http.Header{}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a length body cut short: %v", err)
	}
	rh.Kind = wire.BodyChunked
	if _, _, err := copyOf(t, "5\r\nhel", rh, http.Header{}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a chunk cut short: %v", err)
	}
	for _, body := range []string{"zz\r\n", "5\r\nhelloXX0\r\n\r\n"} {
		if _, _, err := copyOf(t, body, rh, http.Header{}); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", body, err)
		}
	}
}
