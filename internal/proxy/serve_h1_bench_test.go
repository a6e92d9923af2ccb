package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/berth-dev/berth/internal/proxy/wire"
)

// The server benchmarks send keep-alive GETs from a raw client that
// allocates nothing, so allocs/op are the server's (and, through the
// proxy, the backend's). Each runs behind both servers.

// BenchmarkServer_Hello: a handler that writes two bytes.
func BenchmarkServer_Hello(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for _, kind := range []string{"lean", "std"} {
		b.Run(kind, func(b *testing.B) { benchRaw(b, kind, h, "a") })
	}
}

// BenchmarkServer_Proxy: through the proxy to an httptest backend.
func BenchmarkServer_Proxy(b *testing.B) {
	be := newBackendB(b)
	px := New(Options{Logger: discardLog})
	p := NewPool(keyA, "r1", []Target{{ID: "b", Name: "b", Addr: be.Listener.Addr().String()}}, fastHealth(), discardLog)
	b.Cleanup(p.Close)
	waitHealthyB(b, p)
	if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil {
		b.Fatal(err)
	}
	for _, kind := range []string{"lean", "std"} {
		b.Run(kind, func(b *testing.B) { benchRaw(b, kind, px, "shop.test") })
	}
}

func benchRaw(b *testing.B, kind string, h http.Handler, host string) {
	saved := testServerKind
	testServerKind = kind
	srv := newTestServer(b, h)
	testServerKind = saved
	addr := srv.Listener.Addr().String()
	req := []byte("GET /bench HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReaderSize(c, 4<<10)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if err := readRawResponse(br); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// readRawResponse reads one 200 response with a Content-Length.
func readRawResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200")) {
		return &wire.HeadError{Msg: "status " + string(line)}
	}
	n := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && string(k) == "Content-Length" {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return &wire.HeadError{Msg: "no Content-Length"}
	}
	_, err = br.Discard(n)
	return err
}
