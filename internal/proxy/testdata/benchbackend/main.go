// Command benchbackend is the app behind every candidate of
// scripts/bench-proxy: a plain net/http server answering a short body on
// every path (and 200 on /up for health checks).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on")
	addrFile := flag.String("addr-file", "", "write the bound address to this file")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	body := []byte("hello from the bench backend\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		_, _ = w.Write(body)
	})
	fmt.Fprintln(os.Stderr, "benchbackend listening on", ln.Addr())
	log.Fatal(http.Serve(ln, h))
}
