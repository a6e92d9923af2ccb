package wire

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// written parses what Forwarded.Write writes into a header map.
func written(t *testing.T, f *Forwarded) http.Header {
	t.Helper()
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	f.Write(bw)
	bw.WriteString("\r\n")
	bw.Flush()
	h, err := textproto.NewReader(bufio.NewReader(&b)).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("%q: %v", b.String(), err)
	}
	return http.Header(h)
}

func TestForwarded_WriteAndSetAgree(t *testing.T) {
	for _, f := range []Forwarded{
		{ClientIP: "10.0.0.1", Host: "shop.test", RequestID: []string{"id1"}},
		{Prior: []string{"1.1.1.1", "2.2.2.2, 3.3.3.3"}, ClientIP: "10.0.0.1", Host: "shop.test:8080", TLS: true,
			RequestID: []string{"id1"}, Prefix: "/api"},
		{Host: "a", RequestID: []string{"x", "y"}},
		{},
	} {
		w := written(t, &f)
		h := http.Header{"X-Forwarded-Ssl": {"on"}, "X-Real-Ip": {"6.6.6.6"}, "Forwarded": {"for=x"},
			"X-Forwarded-For": {"9.9.9.9"}, "Accept": {"*/*"}}
		f.Set(h)
		if got := h["Accept"]; len(got) != 1 {
			t.Errorf("Set dropped Accept")
		}
		delete(h, "Accept")
		if !reflect.DeepEqual(w, h) {
			t.Errorf("%+v:\nwrite %v\nset   %v", f, w, h)
		}
	}
}

func TestForwarded_Values(t *testing.T) {
	f := Forwarded{Prior: []string{"1.1.1.1"}, ClientIP: "10.0.0.1", Host: "shop.test", RequestID: []string{"r"}, Prefix: "/p"}
	var b strings.Builder
	bw := bufio.NewWriter(&b)
	f.Write(bw)
	bw.Flush()
	want := "X-Forwarded-For: 1.1.1.1, 10.0.0.1\r\nX-Forwarded-Host: shop.test\r\nX-Forwarded-Proto: http\r\n" +
		"X-Request-Id: r\r\nX-Forwarded-Prefix: /p\r\n"
	if b.String() != want {
		t.Errorf("Write:\n%q\nwant\n%q", b.String(), want)
	}
}

func TestPriorFor_ConnectionCanNameIt(t *testing.T) {
	h := http.Header{"X-Forwarded-For": {"1.1.1.1"}}
	if got := PriorFor(h); len(got) != 1 {
		t.Errorf("PriorFor = %v", got)
	}
	h["Connection"] = []string{"x-forwarded-for"}
	if got := PriorFor(h); got != nil {
		t.Errorf("PriorFor with Connection naming it = %v", got)
	}
}

func TestStripPrefix(t *testing.T) {
	for _, tc := range [][3]string{{"/api/x", "/api", "/x"}, {"/api", "/api", "/"}, {"/api/", "/api", "/"}} {
		if got := StripPrefix(tc[0], tc[1]); got != tc[2] {
			t.Errorf("StripPrefix(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func FuzzForwarded_WriteAndSetAgree(f *testing.F) {
	f.Add("1.1.1.1", "10.0.0.1", "shop.test", "id", "/api", true)
	f.Fuzz(func(t *testing.T, prior, ip, host, id, prefix string, tls bool) {
		for _, s := range []string{prior, ip, host, id, prefix} {
			if strings.TrimSpace(s) != s || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return // values come from parsers that refuse those
			}
		}
		fw := Forwarded{ClientIP: ip, Host: host, TLS: tls, Prefix: prefix}
		if prior != "" {
			fw.Prior = []string{prior}
		}
		if id != "" {
			fw.RequestID = []string{id}
		}
		w := written(t, &fw)
		h := http.Header{}
		fw.Set(h)
		if !reflect.DeepEqual(w, h) {
			t.Errorf("%+v:\nwrite %v\nset   %v", fw, w, h)
		}
	})
}

func TestForwarded_WriteDoesNotAllocate(t *testing.T) {
	f := Forwarded{Prior: []string{"1.1.1.1"}, ClientIP: "10.0.0.1", Host: "shop.test", RequestID: []string{"r"}}
	bw := bufio.NewWriterSize(io.Discard, 4096)
	if n := testing.AllocsPerRun(100, func() { f.Write(bw); bw.Flush() }); n != 0 {
		t.Errorf("Write allocates %v times", n)
	}
}

// A stripped prefix replaces a client's X-Forwarded-Prefix, on the wire
// and in a header map alike; without one the client's passes on.
func TestForwarded_PrefixReplacesTheClients(t *testing.T) {
	with, without := Forwarded{Host: "a", Prefix: "/api"}, Forwarded{Host: "a"}
	if !with.Drops(FieldXForwardedPrefix) || without.Drops(FieldXForwardedPrefix) {
		t.Errorf("Drops(X-Forwarded-Prefix) = %v with a prefix, %v without; want true, false",
			with.Drops(FieldXForwardedPrefix), without.Drops(FieldXForwardedPrefix))
	}
	for fl := Other; fl <= FieldXForwardedPrefix; fl++ {
		if fl != FieldXForwardedPrefix && with.Drops(fl) != fl.Dropped() {
			t.Errorf("Drops(%d) = %v, Dropped %v", fl, with.Drops(fl), fl.Dropped())
		}
	}
	h := http.Header{"X-Forwarded-Prefix": {"/client"}}
	with.Set(h)
	if got := h["X-Forwarded-Prefix"]; !reflect.DeepEqual(got, []string{"/api"}) {
		t.Errorf("Set with a prefix: X-Forwarded-Prefix %q, want [/api]", got)
	}
	h = http.Header{"X-Forwarded-Prefix": {"/client"}}
	without.Set(h)
	if got := h["X-Forwarded-Prefix"]; !reflect.DeepEqual(got, []string{"/client"}) {
		t.Errorf("Set without a prefix: X-Forwarded-Prefix %q, want the client's", got)
	}
}
