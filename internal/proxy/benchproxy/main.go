// Command benchproxy runs berth's proxy alone in front of one backend, for
// scripts/bench-proxy: proxy.New and proxy.NewPool with the backend as the
// only target, wait until it is healthy, route a host to it and serve on a
// loopback port. Only the proxy is measured: no store, no engine, no API.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on -pprof
	"os"
	"runtime"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve the proxy on")
	backend := flag.String("backend", "", "backend address host:port")
	host := flag.String("host", "bench.test", "host routed to the backend (any host is accepted when empty)")
	addrFile := flag.String("addr-file", "", "write the bound address to this file")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address")
	accessLog := flag.String("access-log", "", "write the access log to this file (- for stdout; default: none)")
	server := flag.String("http-server", "lean", "HTTP server in front of the proxy: lean (proxy.Server) or std (net/http)")
	lane := flag.Bool("lane", true, "with -http-server lean: serve plain requests on the proxy's lane")
	loops := flag.Int("event-loops", runtime.GOMAXPROCS(0), "with -lane: event loops serving idle connections and plain lane requests (0: goroutine per connection)")
	flag.Parse()
	if *backend == "" {
		log.Fatal("-backend is required")
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var al *proxy.AccessLog
	if *accessLog != "" {
		var err error
		if al, err = proxy.OpenAccessLog(proxy.AccessLogOptions{Path: *accessLog, Logger: logger}); err != nil {
			log.Fatal(err)
		}
		defer al.Close()
	}
	px := proxy.New(proxy.Options{Logger: logger, AccessLog: al})
	key := proxy.RouteKey{App: "bench", Env: "production", Service: "web"}
	pool := proxy.NewPool(key, "r1", []proxy.Target{{ID: "backend", Name: "backend", Addr: *backend}},
		proxy.HealthConfig{Path: "/up"}, logger)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pool.WaitHealthy(ctx, 1); err != nil {
		log.Fatal(err)
	}
	if _, err := px.SetRoute(key, []string{*host}, pool); err != nil {
		log.Fatal(err)
	}
	if *pprofAddr != "" {
		go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Fprintln(os.Stderr, "benchproxy listening on", ln.Addr())
	switch *server {
	case "lean":
		opts := proxy.ServerOptions{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, Logger: logger}
		if *lane {
			opts.Lane = px
			opts.EventLoops = *loops
		}
		srv := proxy.NewServer(px, opts)
		log.Fatal(srv.Serve(ln))
	case "std":
		srv := &http.Server{Handler: px, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		log.Fatal(srv.Serve(ln))
	default:
		log.Fatalf("-http-server %q: want lean or std", *server)
	}
}
