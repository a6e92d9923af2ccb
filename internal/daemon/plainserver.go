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
// syscalls per request) with std's handler and limits, or std itself.
// The lean server serves plain requests on px's lane (std's handler is px,
// or the ACME challenge handler in front of it, whose paths the lane
// leaves alone), on loops event loops. TLS and HTTP/2 stay on net/http
// either way.
func newPlainServer(kind string, loops int, std *http.Server, px *proxy.Proxy, log *slog.Logger) plainServer {
	if kind == "std" {
		return std
	}
	return proxy.NewServer(std.Handler, proxy.ServerOptions{
		ReadHeaderTimeout: std.ReadHeaderTimeout,
		IdleTimeout:       std.IdleTimeout,
		MaxHeaderBytes:    std.MaxHeaderBytes,
		Logger:            log,
		Lane:              px,
		EventLoops:        loops,
	})
}

// servePlain runs s on ln; a shutdown is not an error.
func servePlain(s plainServer, ln net.Listener) error {
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
