package dto

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"strings"
	"testing"
)

// Frames come back as they were written, one after another; a frame
// announcing more than 1 MiB is refused before anything is allocated.
func TestFrames_RoundTrip(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	frames := []struct {
		typ byte
		p   []byte
	}{{FrameData, []byte("ls -l\n")}, {FrameResize, []byte{0, 24, 0, 80}}, {FrameEOF, nil}, {FrameExit, []byte{0, 0, 0, 3}}}
	for _, f := range frames {
		if err := WriteFrame(&buf, f.typ, f.p); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range frames {
		typ, p, err := ReadFrame(&buf)
		if err != nil || typ != f.typ || !bytes.Equal(p, f.p) {
			t.Errorf("read %q %q (%v), want %q %q", typ, p, err, f.typ, f.p)
		}
	}
	var h [5]byte
	h[0] = FrameData
	binary.BigEndian.PutUint32(h[1:], 1<<20+1)
	if _, _, err := ReadFrame(bytes.NewReader(h[:])); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("a frame over 1 MiB: %v", err)
	}
}

// Build secrets travel in their header and come back whole; no secrets
// is no header; too many are refused with what to do; a damaged header
// is an error naming it.
func TestBuildSecrets_Header(t *testing.T) {
	t.Parallel()
	secrets := map[string][]byte{"npmrc": []byte("//registry/:_authToken=x\n"), "key": {0, 1, 2, 255}}
	h, err := EncodeBuildSecrets(secrets)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeBuildSecrets(h)
	if err != nil || len(got) != 2 || !bytes.Equal(got["npmrc"], secrets["npmrc"]) || !bytes.Equal(got["key"], secrets["key"]) {
		t.Errorf("decoded %q (%v), want %q", got, err, secrets)
	}
	if h, err := EncodeBuildSecrets(nil); h != nil || err != nil {
		t.Errorf("no secrets: header %v (%v)", h, err)
	}
	if got, err := DecodeBuildSecrets(http.Header{}); got != nil || err != nil {
		t.Errorf("no header: %v (%v)", got, err)
	}
	if _, err := EncodeBuildSecrets(map[string][]byte{"big": bytes.Repeat([]byte{'x'}, maxBuildSecrets)}); err == nil || !strings.Contains(err.Error(), "build context instead") {
		t.Errorf("secrets over the limit: %v", err)
	}
	if _, err := DecodeBuildSecrets(http.Header{BuildSecretsHeader: {"%%%"}}); err == nil || !strings.Contains(err.Error(), BuildSecretsHeader) {
		t.Errorf("a damaged header: %v", err)
	}
}
