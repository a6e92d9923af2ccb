package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

func TestProxy_SwapUnderLoadFailsNothing(t *testing.T) {
	px, srv := newProxyServer(t)
	v1, v2 := newBackend(t, "v1", nil), newBackend(t, "v2", nil)
	p1 := routeTo(t, px, keyA, []string{"shop.test"}, v1)

	var (
		stop, swapped     atomic.Bool
		total, afterSwap  atomic.Int64
		mu                sync.Mutex
		failures, staleV1 []string
		wg                sync.WaitGroup
	)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: tr}
			for !stop.Load() {
				after := swapped.Load()
				req, _ := http.NewRequest("GET", srv.URL, nil)
				req.Host = "shop.test"
				resp, err := c.Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				total.Add(1)
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case resp.StatusCode != 200:
					failures = append(failures, fmt.Sprintf("status %d: %s", resp.StatusCode, body))
				case after && string(body) != "v2":
					staleV1 = append(staleV1, string(body))
				}
				mu.Unlock()
				if after {
					afterSwap.Add(1)
				}
			}
		}()
	}
	testutil.Eventually(t, 5*time.Second, "traffic on v1", func() bool { return v1.hits.Load() > 500 })

	p2 := newPool(t, keyA, "r2", fastHealth(), v2)
	waitHealthy(t, p2, 1)
	old, err := px.SetRoute(keyA, []string{"shop.test"}, p2)
	if err != nil || old != p1 {
		t.Fatalf("SetRoute: %v %v", old, err)
	}
	swapped.Store(true)
	res := p1.Drain(context.Background(), 5*time.Second)
	v1.Close()
	testutil.Eventually(t, 5*time.Second, "traffic on v2 after the swap", func() bool { return afterSwap.Load() > 1000 })
	stop.Store(true)
	wg.Wait()

	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed, first: %s", len(failures), total.Load(), failures[0])
	}
	if len(staleV1) > 0 {
		t.Fatalf("%d requests sent after the swap were answered by %q", len(staleV1), staleV1[0])
	}
	if res.Cut != 0 {
		t.Fatalf("drain cut %d requests", res.Cut)
	}
	if c := px.Counters(keyA.App, keyA.Env); c.Failed != 0 || c.Served != uint64(total.Load()) {
		t.Fatalf("counters %+v, clients sent %d", c, total.Load())
	}
	t.Logf("%d requests, %d after the swap, drain waited %s", total.Load(), afterSwap.Load(), res.Waited)
}

func TestPool_DrainWaitsForSlowRequest(t *testing.T) {
	px, srv := newProxyServer(t)
	v1 := newBackend(t, "v1", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond) // a slow app
		io.WriteString(w, "slow v1")
	})
	p1 := routeTo(t, px, keyA, []string{"shop.test"}, v1)
	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Host = "shop.test"
		resp, err := srv.Client().Do(req)
		if err != nil {
			done <- result{0, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b)}
	}()
	testutil.Eventually(t, 5*time.Second, "the request in flight", func() bool { return p1.InFlight() == 1 })

	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "v2", nil))
	res := p1.Drain(context.Background(), 5*time.Second)
	if res.Cut != 0 || res.Waited < 100*time.Millisecond {
		t.Fatalf("drain = %+v", res)
	}
	if r := <-done; r.code != 200 || r.body != "slow v1" {
		t.Fatalf("slow request got %d %q", r.code, r.body)
	}
	if code, body := get(t, srv.Client(), srv.URL, "shop.test"); code != 200 || body != "v2" {
		t.Fatalf("after the swap: %d %q", code, body)
	}
}

func TestPool_DrainCutsLongLivedRequestsOnlyAtTimeout(t *testing.T) {
	px, srv := newProxyServer(t)
	v1 := newBackend(t, "v1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			upgradeEcho(w, r)
			return
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "tick %d\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	p1 := routeTo(t, px, keyA, []string{"shop.test"}, v1)

	// A streaming response and an upgraded connection, both on v1.
	req, _ := http.NewRequest("GET", srv.URL+"/stream", nil)
	req.Host = "shop.test"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	conn, br := dialUpgrade(t, srv.Listener.Addr().String(), "shop.test")
	testutil.Eventually(t, 5*time.Second, "two requests in flight", func() bool { return p1.InFlight() == 2 })

	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "v2", nil))
	const timeout = 400 * time.Millisecond
	drained := make(chan DrainResult, 1)
	go func() { drained <- p1.Drain(context.Background(), timeout) }()

	// Both keep working after the drain started.
	for i := range 5 {
		if _, err := stream.ReadString('\n'); err != nil {
			t.Fatalf("stream cut early (line %d): %v", i, err)
		}
		echo(t, conn, br, fmt.Sprintf("still here %d", i))
	}
	select {
	case r := <-drained:
		t.Fatalf("drain ended before its timeout: %+v", r)
	default:
	}

	res := <-drained
	if res.Cut != 2 || res.Waited < timeout {
		t.Fatalf("drain = %+v, want 2 cut after %s", res, timeout)
	}
	// Both are cut now.
	if _, err := io.Copy(io.Discard, stream); err == nil {
		t.Log("stream ended cleanly") // the proxy may end a chunked body with an error or EOF
	}
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.Copy(io.Discard, br); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("upgraded connection still open after the drain timeout")
		}
	}
	if p1.InFlight() != 0 {
		t.Fatalf("in flight after drain: %d", p1.InFlight())
	}
}

func TestPool_UnhealthyTargetLeavesRotationAndComesBack(t *testing.T) {
	px, srv := newProxyServer(t)
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	p := routeTo(t, px, keyA, []string{"shop.test"}, a, b)

	a.up.Store(false)
	testutil.Eventually(t, 5*time.Second, "a out of rotation", func() bool { return p.Healthy() == 1 })
	st := p.Status()
	if st[0].Healthy || st[0].LastError != "status 500" || !st[1].Healthy {
		t.Fatalf("status = %+v", st)
	}
	for range 10 {
		if _, body := get(t, srv.Client(), srv.URL, "shop.test"); body != "b" {
			t.Fatalf("unhealthy target served: %q", body)
		}
	}

	a.up.Store(true)
	testutil.Eventually(t, 5*time.Second, "a back in rotation", func() bool { return p.Healthy() == 2 })
	seen := map[string]bool{}
	for range 4 {
		_, body := get(t, srv.Client(), srv.URL, "shop.test")
		seen[body] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("seen %v, want both", seen)
	}
}

func TestPool_TargetsStartUnhealthyAndNeedThreshold(t *testing.T) {
	b := newBackend(t, "a", nil)
	hc := fastHealth()
	hc.HealthyThreshold = 3
	start := time.Now()
	p := newPool(t, keyA, "r1", hc, b)
	if p.Healthy() != 0 {
		t.Fatal("a new target is healthy before any check")
	}
	waitHealthy(t, p, 1)
	// 3 passes, probed fast (20ms) while unhealthy: well under a second.
	if d := time.Since(start); d > time.Second {
		t.Fatalf("healthy after %s", d)
	}
}

func TestPool_WaitHealthyNamesRefusedTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	up := newBackend(t, "up", nil)
	p := NewPool(keyA, "r7", []Target{{ID: "x1", Name: "shop-web-1", Addr: addr}, up.target()}, fastHealth(), discardLog)
	t.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = p.WaitHealthy(ctx, 2)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"shop-web-1", addr, "connection refused", "1/2"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "up (") {
		t.Errorf("error names the healthy target: %q", msg)
	}
}

func TestPool_WaitHealthyReportsTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	b := &backend{Server: srv, name: "slow"}
	hc := fastHealth()
	hc.Timeout = 50 * time.Millisecond
	p := newPool(t, keyA, "r1", hc, b)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := p.WaitHealthy(ctx, 1)
	if err == nil || !strings.Contains(err.Error(), "timeout after 50ms") {
		t.Fatalf("err = %v", err)
	}
}

func TestPool_CloseStopsHealthChecks(t *testing.T) {
	b := newBackend(t, "a", nil)
	p := newPool(t, keyA, "r1", fastHealth(), b)
	waitHealthy(t, p, 1)
	p.Close()
	st := p.Status()[0].LastCheck
	// Close waited for the checker; no check can land afterwards.
	time.Sleep(60 * time.Millisecond)
	if p.Status()[0].LastCheck != st {
		t.Fatal("health checks still running after Close")
	}
	if err := p.WaitHealthy(context.Background(), 1); err != nil {
		t.Fatalf("WaitHealthy on a closed pool with a healthy target: %v", err)
	}
}

func TestPool_RetiredPoolSendsRequestsBackToRouting(t *testing.T) {
	px, srv := newProxyServer(t)
	p1 := routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "v1", nil))
	routeTo(t, px, keyA, []string{"shop.test"}, newBackend(t, "v2", nil))
	p1.Drain(context.Background(), time.Second)

	// A request that loaded the table before the swap still holds p1.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://shop.test/", nil)
	if p1.serve(rec, req, &counters{}, 0, "") {
		t.Fatal("a drained pool took a request")
	}
	if p1.InFlight() != 0 || rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("in flight %d, recorder %d %q", p1.InFlight(), rec.Code, rec.Body)
	}
	if code, body := get(t, srv.Client(), srv.URL, "shop.test"); code != 200 || body != "v2" {
		t.Fatalf("got %d %q", code, body)
	}
}
