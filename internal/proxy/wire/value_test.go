package wire

import (
	"strings"
	"testing"
)

func TestValidFieldValue_AsByteByByte(t *testing.T) {
	t.Parallel()
	for b := range 256 {
		for _, at := range []int{0, 3, 7, 8, 13, 16} {
			v := []byte(strings.Repeat("a", 17))
			v[at] = byte(b)
			if got, want := ValidFieldValue(v), validFieldBytes(v); got != want {
				t.Fatalf("byte %#x at %d: %v, want %v", b, at, got, want)
			}
			if want := (b >= 0x20 && b != 0x7f) || b == '\t'; validFieldBytes(v) != want {
				t.Fatalf("byte %#x: valid %v, want %v", b, !want, want)
			}
		}
	}
}

func FuzzValidFieldValue(f *testing.F) {
	f.Add([]byte("sid=1\x00; Domain=evil.example"))
	f.Add([]byte("text/html; charset=utf-8"))
	f.Fuzz(func(t *testing.T, v []byte) {
		if ValidFieldValue(v) != validFieldBytes(v) {
			t.Fatalf("%q: word test and byte test disagree", v)
		}
	})
}

func TestParseHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"content-type": "Content-Type", "ETAG": "Etag", "x-request-id": "X-Request-Id", "a": "A",
	} {
		got, err := AppendCanonicalKey(nil, []byte(in))
		if err != nil || string(got) != want {
			t.Errorf("canonical(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := AppendCanonicalKey(nil, []byte("bad key")); err == nil {
		t.Error("a header name with a space was accepted")
	}
	for in, want := range map[string]int64{"0": 0, "1a": 26, "FF;ext=1": 255, " 10 ": 16} {
		if got, err := ParseChunkSize([]byte(in)); err != nil || got != want {
			t.Errorf("chunk size %q = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "xyz", "1234567890abcdef0"} {
		if _, err := ParseChunkSize([]byte(in)); err == nil {
			t.Errorf("chunk size %q accepted", in)
		}
	}
	for _, tc := range []struct {
		line   string
		status int
		ok     bool
	}{
		{"HTTP/1.1 200 OK", 200, true}, {"HTTP/1.0 404", 404, true}, {"HTTP/1.1 20 OK", 0, false},
		{"HTTP/2 200 OK", 0, false}, {"HTTP/1.1 099 x", 0, false}, {"HTTP/1.1 200OK", 0, false},
	} {
		status, _, err := ParseStatusLine([]byte(tc.line))
		if (err == nil) != tc.ok || status != tc.status {
			t.Errorf("status line %q = %d, %v", tc.line, status, err)
		}
	}
}
