package proxy

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
)

// testServerKind is the HTTP server the proxy tests run behind: "lean"
// (Server), "lane" (Server with the proxy's lane, when the handler is a
// *Proxy), "loop" (the lane and two event loops) or "std" (net/http).
// TestMain runs every test of the package once behind each;
// BERTH_TEST_HTTP_SERVER=lean|lane|loop|std picks one.
var testServerKind = "lean"

func TestMain(m *testing.M) {
	flag.Parse()
	kinds := []string{"lean", "lane", "loop", "std"}
	if k := os.Getenv("BERTH_TEST_HTTP_SERVER"); k != "" {
		kinds = []string{k}
	}
	for _, name := range []string{"test.fuzz", "test.bench"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			kinds = kinds[:1] // fuzzing and benchmarks: the lean server only
		}
	}
	code := 0
	for _, k := range kinds {
		testServerKind = k
		if len(kinds) > 1 && testing.Verbose() {
			fmt.Printf("=== proxy tests behind the %s HTTP server\n", k)
		}
		if c := m.Run(); c != 0 {
			fmt.Printf("FAIL: proxy tests behind the %s HTTP server\n", k)
			code = c
		}
	}
	os.Exit(code)
}

// testServerOptions are the server protections of test servers.
func testServerOptions() ServerOptions {
	return ServerOptions{ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second, Logger: discardLog}
}

// newTestServer starts h behind the server testServerKind names, as an
// *httptest.Server (its URL, Client and Close work for both).
func newTestServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	return newTestServerOpts(tb, h, testServerOptions())
}

// newTestServerOpts is newTestServer with the server's protections.
func newTestServerOpts(tb testing.TB, h http.Handler, o ServerOptions) *httptest.Server {
	tb.Helper()
	hs := httptest.NewUnstartedServer(h)
	hs.Config.ReadHeaderTimeout = o.ReadHeaderTimeout
	hs.Config.IdleTimeout = o.IdleTimeout
	hs.Config.MaxHeaderBytes = o.MaxHeaderBytes
	if testServerKind != "std" {
		if px, ok := h.(*Proxy); ok && testServerKind != "lean" {
			o.Lane = px
			if testServerKind == "loop" {
				o.EventLoops = 2
			}
		}
		ln := hs.Listener
		srv := NewServer(h, o)
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		// httptest serves nothing on this listener: it only gives the
		// server's address, client and Close to the tests.
		hs.Listener = &leanListener{Listener: ln, srv: srv, served: served, done: make(chan struct{})}
	}
	hs.Start()
	tb.Cleanup(hs.Close)
	return hs
}

// leanListener stands for a lean Server in an httptest.Server: Accept
// blocks until Close, which closes the lean server and waits for it.
type leanListener struct {
	net.Listener
	srv    *Server
	served chan error
	done   chan struct{}
	once   sync.Once
}

func (l *leanListener) Accept() (net.Conn, error) {
	<-l.done
	return nil, net.ErrClosed
}

func (l *leanListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.srv.Close()
		if err := <-l.served; !errors.Is(err, http.ErrServerClosed) {
			panic(fmt.Sprintf("lean server: %v", err))
		}
	})
	return nil
}
