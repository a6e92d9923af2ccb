// Command standin takes the place of a real-world image (postgres:16,
// nginx, an app's own build) in the corpus deploy test, where no public
// registry answers. As a container's main process (PID 1, or the child
// of an init) it serves HTTP on every TCP port of $STANDIN_TCP and
// echoes datagrams on every port of $STANDIN_UDP (comma lists), whatever
// arguments the Compose file gives it, until SIGTERM; given the
// arguments of a job ($STANDIN_JOBS), it exits 0 at once. Run any other way
// (a health check, an exec) it exits 0 at once, so that a file's
// `pg_isready` or `curl -f` check passes.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

func main() {
	if os.Getpid() != 1 && os.Getppid() != 1 {
		return // a health check or an exec in the container
	}
	name := os.Getenv("STANDIN_NAME")
	if isJob(os.Args[1:]) {
		fmt.Printf("standin for %s: job %q done\n", name, os.Args[1:])
		return
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "standin for %s\n", name)
	})
	for _, p := range ports("STANDIN_TCP") {
		l, err := net.Listen("tcp", ":"+p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "standin: tcp %s: %v\n", p, err)
			continue
		}
		go http.Serve(l, h)
	}
	for _, p := range ports("STANDIN_UDP") {
		c, err := net.ListenPacket("udp", ":"+p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "standin: udp %s: %v\n", p, err)
			continue
		}
		go echo(c)
	}
	fmt.Printf("standin for %s serving tcp %s udp %s (args %q)\n", name, os.Getenv("STANDIN_TCP"), os.Getenv("STANDIN_UDP"), os.Args[1:])
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	<-stop
}

// isJob reports whether args are those of a job ($STANDIN_JOBS: base64
// of a JSON list of argument lists joined by 0x1f), which exits 0.
func isJob(args []string) bool {
	b, err := base64.StdEncoding.DecodeString(os.Getenv("STANDIN_JOBS"))
	if err != nil {
		return false
	}
	var jobs []string
	_ = json.Unmarshal(b, &jobs)
	return slices.Contains(jobs, strings.Join(args, "\x1f"))
}

func ports(env string) []string {
	var out []string
	for _, p := range strings.Split(os.Getenv(env), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func echo(c net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		c.WriteTo(buf[:n], from)
	}
}
