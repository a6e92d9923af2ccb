// Command openloop offers HTTP/1.1 requests at a fixed rate, whatever
// the server's answers do, and prints the latency percentiles: the
// open-loop half of scripts/bench-proxy (wrk is the closed-loop half).
//
// A closed-loop client sends its next request only after an answer, so a
// stall slows the client down and hides the requests that would have
// waited (coordinated omission). Here request i is due at start + i/rate;
// its latency counts from when it was due, not from when a connection was
// free to send it. Requests are sent over -conns keep-alive connections,
// each carrying one request at a time; a request that finds every
// connection busy waits for one, and that wait is part of its latency.
//
// It sends only to a loopback address (it refuses any other).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "", "host:port to send to (loopback only)")
	host := flag.String("host", "bench.test", "Host header")
	path := flag.String("path", "/bench", "request path")
	rate := flag.Float64("rate", 1000, "requests per second offered")
	dur := flag.Duration("duration", 10*time.Second, "how long to offer load")
	warm := flag.Duration("warmup", time.Second, "load offered first and not measured")
	conns := flag.Int("conns", 64, "keep-alive connections")
	flag.Parse()
	if err := check(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(2)
	}
	req := []byte("GET " + *path + " HTTP/1.1\r\nHost: " + *host + "\r\nUser-Agent: openloop\r\n\r\n")
	if *warm > 0 {
		run(*addr, req, *rate, *warm, *conns)
	}
	lat, errs, late := run(*addr, req, *rate, *dur, *conns)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e6
	}
	fmt.Printf("rate %.0f/s offered for %s over %d connections: %d answered, %d errors, %d sent more than 1 ms late\n",
		*rate, *dur, *conns, len(lat), errs, late)
	fmt.Printf("p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
		pct(0.50), pct(0.90), pct(0.99), pct(0.999), pct(1))
}

// check refuses any address that is not on loopback.
func check(addr string) error {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %v", addr, err)
	}
	ip, err := netip.ParseAddr(h)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: only a loopback address (127.0.0.0/8, ::1) is allowed", addr)
	}
	return nil
}

// run offers rate requests per second for dur and returns each answered
// request's latency (ns, from when it was due), the number of errors and
// how many requests were sent more than 1 ms after they were due.
func run(addr string, req []byte, rate float64, dur time.Duration, conns int) (lat []int64, errs, late int64) {
	n := int(rate * dur.Seconds())
	due := make(chan time.Time, n)
	var mu sync.Mutex
	lat = make([]int64, 0, n)
	var nerr, nlate atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c net.Conn
			var br *bufio.Reader
			mine := make([]int64, 0, n/conns+16)
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
				if c != nil {
					c.Close()
				}
			}()
			for at := range due {
				if time.Since(at) > time.Millisecond {
					nlate.Add(1)
				}
				if c == nil {
					var err error
					if c, err = net.Dial("tcp", addr); err != nil {
						nerr.Add(1)
						c = nil
						continue
					}
					br = bufio.NewReaderSize(c, 16<<10)
				}
				if err := exchange(c, br, req); err != nil {
					nerr.Add(1)
					c.Close()
					c = nil
					continue
				}
				mine = append(mine, int64(time.Since(at)))
			}
		}()
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d) // pacing the offered load, not waiting for a condition
		}
		due <- at
	}
	close(due)
	wg.Wait()
	return lat, nerr.Load(), nlate.Load()
}

// exchange sends one request and reads its whole answer.
func exchange(c net.Conn, br *bufio.Reader, req []byte) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}
