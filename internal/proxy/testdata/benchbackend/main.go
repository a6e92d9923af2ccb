// Command benchbackend is the app behind every candidate of
// scripts/bench-proxy: a plain net/http server answering a short body on
// every path (and 200 on /up for health checks). With -split it writes
// the head and then the body apart (flushing the head first), framed
// with Content-Length (-split length) or chunked (-split chunked), as
// apps that flush early do.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on")
	addrFile := flag.String("addr-file", "", "write the bound address to this file")
	split := flag.String("split", "", "write the head, then the body: length or chunked (default: one write)")
	flag.Parse()
	if *split != "" && *split != "length" && *split != "chunked" {
		log.Fatalf("-split %q: want length or chunked", *split)
	}
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
	length := []string{strconv.Itoa(len(body))}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		if *split != "" && r.URL.Path != "/up" {
			if *split == "length" {
				w.Header()["Content-Length"] = length
			}
			w.(http.Flusher).Flush() // the head goes now, the body when the handler returns
		}
		_, _ = w.Write(body)
	})
	fmt.Fprintln(os.Stderr, "benchbackend listening on", ln.Addr())
	log.Fatal(http.Serve(ln, h))
}
