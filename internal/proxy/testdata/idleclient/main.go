// idleclient holds idle keep-alive connections to a proxy, for
// scripts/bench-idle: it opens -n connections one after another, sends
// each one GET and reads its response, prints "ready" once all are open
// and idle, and keeps them until its standard input closes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"syscall"
)

func main() {
	addr := flag.String("addr", "", "proxy address host:port")
	host := flag.String("host", "bench.test", "Host header")
	n := flag.Int("n", 5000, "connections")
	flag.Parse()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(*n)+100 {
		lim.Cur = min(lim.Max, uint64(*n)+100)
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	conns := make([]net.Conn, 0, *n)
	req := "GET / HTTP/1.1\r\nHost: " + *host + "\r\n\r\n"
	for i := range *n {
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		if _, err := io.WriteString(c, req); err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil || r.StatusCode != http.StatusOK {
			log.Fatalf("connection %d: %s %v", i, r.Status, err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}
