package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// load is a constant load of keep-alive clients through the proxy that
// records every response.
type load struct {
	total, failed atomic.Int64
	mu            sync.Mutex
	failures      []string
	// lastSeen maps a body to the time the last request that got it
	// started; firstSeen to when the first request that got it ended.
	lastStart map[string]time.Time
	firstEnd  map[string]time.Time
	counts    map[string]int64
	// slowest is the longest a request took (ns), answered or not.
	slowest atomic.Int64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startLoad starts n concurrent keep-alive clients sending GET / to host
// as fast as they can.
func startLoad(proxyAddr, host string, n int) *load { return startPacedLoad(proxyAddr, host, n, 0) }

// startPacedLoad is startLoad with the clients together sending about
// rate requests per second (0: unpaced).
func startPacedLoad(proxyAddr, host string, n, rate int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, lastStart: map[string]time.Time{}, firstEnd: map[string]time.Time{}, counts: map[string]int64{}}
	for i := 0; i < n; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tr := &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				MaxIdleConnsPerHost: 1,
				DisableCompression:  true,
			}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			var tick *time.Ticker
			if rate > 0 {
				tick = time.NewTicker(time.Duration(n) * time.Second / time.Duration(rate))
				defer tick.Stop()
			}
			for ctx.Err() == nil {
				l.one(ctx, c, proxyAddr, host)
				if tick != nil {
					select {
					case <-tick.C:
					case <-ctx.Done():
					}
				}
			}
		}()
	}
	return l
}

func (l *load) one(ctx context.Context, c *http.Client, addr, host string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = host
	start := time.Now()
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		return // stopping: not the proxy's fault
	}
	l.total.Add(1)
	for took := int64(time.Since(start)); ; {
		if cur := l.slowest.Load(); took <= cur || l.slowest.CompareAndSwap(cur, took) {
			break
		}
	}
	if err != nil {
		l.fail(fmt.Sprintf("%s: %v", start.Format("15:04:05.000"), err))
		return
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	end := time.Now()
	if err != nil || resp.StatusCode != http.StatusOK {
		l.fail(fmt.Sprintf("%s: status %d: %s %v", start.Format("15:04:05.000"), resp.StatusCode, strings.TrimSpace(string(b)), err))
		return
	}
	body := strings.TrimSpace(string(b))
	l.mu.Lock()
	l.counts[body]++
	if start.After(l.lastStart[body]) {
		l.lastStart[body] = start
	}
	if f, ok := l.firstEnd[body]; !ok || end.Before(f) {
		l.firstEnd[body] = end
	}
	l.mu.Unlock()
}

func (l *load) fail(s string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, s)
	}
	l.mu.Unlock()
}

// stop stops the clients and waits for them.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

func (l *load) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d requests, %d failed, by body %v, first failures %q", l.total.Load(), l.failed.Load(), l.counts, l.failures)
}

// lastStarted returns when the last request answered with body began.
func (l *load) lastStarted(body string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastStart[body]
}

func (l *load) count(body string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[body]
}

// countPrefix counts responses whose body starts with prefix.
func (l *load) countPrefix(prefix string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for body, c := range l.counts {
		if strings.HasPrefix(body, prefix) {
			n += c
		}
	}
	return n
}

// lastStartedPrefix is lastStarted over the bodies starting with prefix.
func (l *load) lastStartedPrefix(prefix string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for body, at := range l.lastStart {
		if strings.HasPrefix(body, prefix) && at.After(last) {
			last = at
		}
	}
	return last
}
