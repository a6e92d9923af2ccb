package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// A client that breaks its own request body (a malformed chunk size, a
// reset mid-upload) is that client's failure, not the app's: it gets 400
// (or is logged 499 when it left), the app's containers stay in rotation,
// and nobody else notices.
//
// The subtests run one after the other, each with its own daemon: no e2e
// test runs in parallel, and two daemons with two loads under -race on a
// small machine would measure the machine rather than the proxy.
func TestProxy_BrokenUploadsDoNotTakeTheAppOffline(t *testing.T) {
	eng := requireDocker(t)
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d replicas", replicas), func(t *testing.T) {
			dir := t.TempDir()
			s := startServer(t, dir) // access log in the data dir (the default)
			name, host := newApp(t, eng)
			if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: replicas})); err != nil {
				t.Fatalf("deploy: %v", err)
			}
			if code, body := postBody(t, s.addrs.HTTP, host, "/upload", "hello"); code != 200 || body != "5" {
				t.Fatalf("POST /upload with 5 bytes: %d %q (want 200 \"5\": is the test image current?)", code, body)
			}
			failedBefore, upstreamBefore := proxyFailureCounters(t, s, name)
			logMark := len(s.logs.String())

			l := startPacedLoad(s.addrs.HTTP, host, 8, 200)
			testutil.Eventually(t, 10*time.Second, "load running", func() bool { return l.count("v1") > 50 })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			f := startClientFaults(ctx, s.addrs.HTTP, host, 5)
			h := watchHealth(ctx, s, name, replicas)
			<-ctx.Done()
			f.wait()
			h.wait()
			l.stop()

			failedAfter, upstreamAfter := proxyFailureCounters(t, s, name)
			unhealthyLogs := strings.Count(s.logs.String()[logMark:], "target unhealthy")
			t.Logf("ordinary load: %d requests, %d failed", l.total.Load(), l.failed.Load())
			t.Logf("broken chunked uploads: %d sent, answers %v", f.brokenSent(), f.brokenAnswers())
			t.Logf("aborted uploads: %d sent (%d could not be sent: %q)", f.aborted, f.abortErrs, f.abortErr)
			t.Logf("health: %d polls, %d saw a container out of rotation, first %q; %d \"target unhealthy\" log lines",
				h.polls, h.bad, h.first, unhealthyLogs)
			t.Logf("berth_proxy_failed_requests_total %d -> %d, berth_proxy_upstream_errors_total %d -> %d",
				failedBefore, failedAfter, upstreamBefore, upstreamAfter)

			if n := l.failed.Load(); n != 0 {
				t.Errorf("ordinary requests: %d of %d failed while clients broke their uploads; of the first %d: %s", n, l.total.Load(), min(n, 20), l.firstFailures())
			}
			if f.brokenSent() == 0 || f.aborted == 0 {
				t.Errorf("the faults did not run: %d broken chunked uploads, %d aborted uploads sent", f.brokenSent(), f.aborted)
			}
			if got := f.brokenAnswers(); got["400"] != f.brokenSent() {
				t.Errorf("broken chunked uploads: %d of %d answered 400; answers seen: %v", got["400"], f.brokenSent(), got)
			}
			if h.bad != 0 || unhealthyLogs != 0 {
				t.Errorf("containers left rotation: %d of %d status polls saw one out (first: %s); the daemon logged \"target unhealthy\" %d times",
					h.bad, h.polls, h.first, unhealthyLogs)
			}
			if h.polls == 0 {
				t.Errorf("health was never polled: last status error %v", h.err)
			}
			if failedAfter != failedBefore {
				t.Errorf("berth_proxy_failed_requests_total moved from %d to %d: clients' broken bodies were counted as the proxy's or the app's failures", failedBefore, failedAfter)
			}
			if upstreamAfter != upstreamBefore {
				t.Errorf("berth_proxy_upstream_errors_total moved from %d to %d: clients' broken bodies were counted as the app's failures", upstreamBefore, upstreamAfter)
			}
			st, err := s.client.Status(context.Background(), name, spec.DefaultEnv)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Services) != 1 || len(st.Services[0].Containers) != replicas {
				t.Fatalf("status after the run: %+v", st.Services)
			}
			for _, c := range st.Services[0].Containers {
				if c.Health != "healthy" || c.ErrorRate != 0 {
					t.Errorf("container %s after the run: health %q (%s), error rate %.3f", c.Name, c.Health, c.HealthError, c.ErrorRate)
				}
			}

			// The access log has every upload: broken ones 400, aborted
			// ones 499 (or 400), never a 5xx.
			s.stop()
			byPath := accessStatuses(t, filepath.Join(dir, daemon.AccessLogFile), name)
			t.Logf("access log statuses by path: %v", byPath)
			if got := byPath["/upload/broken"]; got["400"] != f.brokenSent() {
				t.Errorf("access log of broken chunked uploads: %d of %d logged 400; statuses %v", got["400"], f.brokenSent(), got)
			}
			aborted := byPath["/upload/aborted"]
			if n := aborted["499"] + aborted["400"]; n != f.aborted {
				t.Errorf("access log of aborted uploads: %d of %d logged 499 or 400; statuses %v", n, f.aborted, aborted)
			}
		})
	}
}

// clientFaults sends, rate times a second each, chunked uploads with a
// malformed chunk size (recording each answer's status) and uploads that
// send part of their body and then reset the connection.
type clientFaults struct {
	wg sync.WaitGroup

	mu     sync.Mutex
	broken map[string]int // answer status, or the error reading it

	// Owned by the aborting goroutine until wait returns.
	aborted, abortErrs int
	abortErr           string
}

func startClientFaults(ctx context.Context, addr, host string, rate int) *clientFaults {
	f := &clientFaults{broken: map[string]int{}}
	every := time.Second / time.Duration(rate)
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				got := brokenChunkedUpload(addr, host)
				f.mu.Lock()
				f.broken[got]++
				f.mu.Unlock()
			}()
		}
	}()
	go func() {
		defer f.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		// Each upload is reset on the tick after it was sent: by then
		// the proxy has read its head and started forwarding it.
		var pending net.Conn
		defer func() {
			if pending != nil {
				resetConn(pending)
				f.aborted++
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if pending != nil {
				resetConn(pending)
				f.aborted++
				pending = nil
			}
			c, err := startAbortedUpload(addr, host)
			if err != nil {
				f.abortErrs++
				f.abortErr = err.Error()
				continue
			}
			pending = c
		}
	}()
	return f
}

func (f *clientFaults) wait() { f.wg.Wait() }

func (f *clientFaults) brokenSent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.broken {
		n += c
	}
	return n
}

func (f *clientFaults) brokenAnswers() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.broken))
	for k, v := range f.broken {
		m[k] = v
	}
	return m
}

// brokenChunkedUpload sends a chunked POST whose chunk size is -5 and
// returns the answer's status code, or what went wrong reading it.
func brokenChunkedUpload(addr, host string) string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "POST /upload/broken HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return "write: " + err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "read: " + err.Error()
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// startAbortedUpload sends the head of a 100000-byte POST and 10000
// bytes of its body, and returns the connection for resetConn.
func startAbortedUpload(addr, host string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	head := "POST /upload/aborted HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 100000\r\n\r\n"
	if _, err := io.WriteString(c, head+strings.Repeat("x", 10000)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// resetConn closes c with a reset (RST) instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// healthWatch polls the app's status until its context ends and counts
// the polls that saw fewer than the wanted containers healthy.
type healthWatch struct {
	done       chan struct{}
	polls, bad int
	first      string // the first bad poll
	err        error  // the last status error
}

func watchHealth(ctx context.Context, s *server, app string, replicas int) *healthWatch {
	h := &healthWatch{done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(h.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			st, err := s.client.Status(ctx, app, spec.DefaultEnv)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				h.err = err
			} else {
				h.polls++
				var out []string
				healthy := 0
				if len(st.Services) == 1 {
					for _, c := range st.Services[0].Containers {
						if c.Health == "healthy" {
							healthy++
						} else {
							out = append(out, fmt.Sprintf("%s %s (%s)", c.Name, c.Health, c.HealthError))
						}
					}
				}
				if healthy != replicas {
					h.bad++
					if h.first == "" {
						h.first = fmt.Sprintf("at %.1fs %d of %d healthy: %s", time.Since(start).Seconds(), healthy, replicas, strings.Join(out, "; "))
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *healthWatch) wait() { <-h.done }

// scrapeMetrics reads /metrics with the admin token (the server allows
// no address without one unless --metrics-allow says so).
func scrapeMetrics(t *testing.T, s *server) string {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(s.dataDir, daemon.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addrs.API+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s %s", resp.Status, b)
	}
	return string(b)
}

// proxyFailureCounters returns app's berth_proxy_failed_requests_total and
// the sum of its berth_proxy_upstream_errors_total series.
func proxyFailureCounters(t *testing.T, s *server, app string) (failed, upstream int64) {
	t.Helper()
	text := scrapeMetrics(t, s)
	return sumSeries(t, text, `berth_proxy_failed_requests_total{app="`+app+`"`),
		sumSeries(t, text, `berth_proxy_upstream_errors_total{app="`+app+`"`)
}

// sumSeries sums the values of the series whose lines start with prefix.
func sumSeries(t *testing.T, text, prefix string) int64 {
	t.Helper()
	var n int64
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", l, err)
			}
			n += int64(v)
		}
	}
	return n
}

// accessStatuses reads the access log and counts app's statuses by path.
func accessStatuses(t *testing.T, path, app string) map[string]map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			App    string  `json:"app"`
			Path   string  `json:"path"`
			Status float64 `json:"status"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("access log line is not JSON: %v: %s", err, l)
		}
		if e.App != app {
			continue
		}
		if out[e.Path] == nil {
			out[e.Path] = map[string]int{}
		}
		out[e.Path][strconv.Itoa(int(e.Status))]++
	}
	return out
}

// firstFailures sums up the first failures the load recorded: when the
// first was, and how many of them said what.
func (l *load) firstFailures() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) == 0 {
		return "none recorded"
	}
	var order []string
	n := map[string]int{}
	for _, f := range l.failures {
		_, what, _ := strings.Cut(f, ": ") // drop the time
		if n[what] == 0 {
			order = append(order, what)
		}
		n[what]++
	}
	var b strings.Builder
	first, _, _ := strings.Cut(l.failures[0], ": ")
	fmt.Fprintf(&b, "the first at %s", first)
	for _, what := range order {
		fmt.Fprintf(&b, "; %dx %s", n[what], what)
	}
	return b.String()
}

// postBody sends one POST with body through the proxy and returns status
// and body.
func postBody(t *testing.T, proxyAddr, host, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+proxyAddr+path, strings.NewReader(body))
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
