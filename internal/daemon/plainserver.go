package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/berth-dev/berth/internal/proxy"
)

// plainServer serves the proxy on the plain-HTTP listener.
type plainServer interface {
	// Serve accepts connections on ln until Shutdown; it returns
	// http.ErrServerClosed then.
	Serve(ln net.Listener) error
	// Shutdown stops accepting, lets requests in flight finish and
	// closes idle connections.
	Shutdown(ctx context.Context) error
}

// checkHTTPServer validates Config.HTTPServer.
func checkHTTPServer(kind string) error {
	switch kind {
	case "", "lean", "std":
		return nil
	}
	return fmt.Errorf("--http-server %q: want lean (berth's HTTP/1.1 server) or std (net/http)", kind)
}

// newPlainServer returns the server kind names for the plain-HTTP
// listener: proxy.Server (lean, the default: fewer allocations and
// syscalls per request) with std's handler and timeouts and the head
// limit maxHeader, or std itself (whose MaxHeaderBytes is
// stdMaxHeaderBytes(maxHeader)). The lean server serves plain requests
// on px's lane (std's handler is px, or the ACME challenge handler in
// front of it, whose paths the lane leaves alone), on loops event loops.
// TLS and HTTP/2 stay on net/http either way.
func newPlainServer(kind string, loops, maxHeader int, std *http.Server, px *proxy.Proxy, log *slog.Logger) plainServer {
	if kind == "std" {
		return std
	}
	return proxy.NewServer(std.Handler, proxy.ServerOptions{
		ReadHeaderTimeout: std.ReadHeaderTimeout,
		IdleTimeout:       std.IdleTimeout,
		MaxHeaderBytes:    maxHeader,
		Logger:            log,
		Lane:              px,
		EventLoops:        loops,
	})
}

// httpHeaderSlack is what net/http's server reads beyond MaxHeaderBytes
// before it answers 431: room for its bufio reader ("bufio slop" in
// net/http's initialReadLimitSize).
const httpHeaderSlack = 4096

// stdMaxHeaderBytes is the http.Server.MaxHeaderBytes under which
// net/http's HTTP/1.1 refuses a request head (request line included)
// over n bytes, as --max-header-bytes says and the lean server does:
// net/http reads up to MaxHeaderBytes+4096, so 64 KiB would really be
// 68 KiB. At 4096 or less no value is exact (0 means 1 MB to net/http),
// and n is passed as it is. Only for a server without HTTP/2, which
// reads MaxHeaderBytes its own way (see the HTTPS listener in Run).
func stdMaxHeaderBytes(n int) int {
	if n > httpHeaderSlack {
		return n - httpHeaderSlack
	}
	return n
}

// servePlain runs s on ln; a shutdown is not an error.
func servePlain(s plainServer, ln net.Listener) error {
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
