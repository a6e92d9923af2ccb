package proxy

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

var keyC = RouteKey{App: "wiki", Env: "production", Service: "web"}

func TestRateWindow_RatesOverTheLastMinute(t *testing.T) {
	var w rateWindow
	const born = 1_000_000
	// 10 requests a second for 90 seconds, every fifth an error.
	for sec := int64(born); sec < born+90; sec++ {
		for i := range 10 {
			w.add(sec, i%5 == 0)
		}
	}
	rps, er := w.rates(born+90, born)
	if rps != 10 || er != 0.2 {
		t.Fatalf("steady: rps %v error rate %v, want 10 and 0.2", rps, er)
	}
	// Nothing for 30 seconds: half of the window is empty.
	rps, _ = w.rates(born+120, born)
	if rps != 5 {
		t.Fatalf("after 30 quiet seconds: rps %v, want 5", rps)
	}
	// Long after: the old buckets are stale, not counted again.
	rps, er = w.rates(born+90+3600, born)
	if rps != 0 || er != 0 {
		t.Fatalf("an hour later: rps %v error rate %v, want 0", rps, er)
	}
	// A bucket reused for a new second starts from zero.
	w.add(born+3600, true)
	rps, er = w.rates(born+3601, born)
	if rps != 1.0/60 || er != 1 {
		t.Fatalf("reused bucket: rps %v error rate %v", rps, er)
	}
}

func TestRateWindow_YoungTargetDividesByItsAge(t *testing.T) {
	var w rateWindow
	const born = 5000
	for range 30 {
		w.add(born, false)
	}
	for range 30 {
		w.add(born+1, true)
	}
	// The current second (born+2) is not complete: not counted.
	w.add(born+2, false)
	rps, er := w.rates(born+2, born)
	if rps != 30 || er != 0.5 {
		t.Fatalf("rps %v error rate %v, want 30 and 0.5", rps, er)
	}
	if rps, _ := w.rates(born, born); rps != 0 {
		t.Fatalf("first second: rps %v, want 0", rps)
	}
}

func TestRateWindow_AddDoesNotAllocate(t *testing.T) {
	var w rateWindow
	if n := testing.AllocsPerRun(1000, func() { w.add(42, true) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func TestPoolStats_Observe(t *testing.T) {
	var s poolStats
	s.observe(200, 300*time.Microsecond)
	s.observe(204, 700*time.Microsecond)
	s.observe(503, 3*time.Second)
	s.observe(499, time.Minute)
	if n := testing.AllocsPerRun(1000, func() { s.observe(200, time.Millisecond) }); n != 0 {
		t.Fatalf("observe: %v allocations", n)
	}
	p := &Pool{}
	p.stats.observe(200, 300*time.Microsecond)
	p.stats.observe(204, 700*time.Microsecond)
	p.stats.observe(503, 3*time.Second)
	p.stats.observe(499, time.Minute)
	st := p.Stats()
	if st.Responses != [5]uint64{0, 2, 0, 1, 1} {
		t.Fatalf("responses by class %v", st.Responses)
	}
	h := st.Latency
	if h.Count != 4 || h.Counts[0] != 1 || h.Counts[1] != 1 || h.Counts[len(h.Counts)-1] != 1 {
		t.Fatalf("histogram %+v", h)
	}
	if want := 0.0003 + 0.0007 + 3 + 60; h.Sum < want-1e-9 || h.Sum > want+1e-9 {
		t.Fatalf("sum %v, want %v", h.Sum, want)
	}
}

func TestPool_StatsAfterKnownTraffic(t *testing.T) {
	px, srv := newProxyServer(t)
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		default:
			io.WriteString(w, "ok")
		}
	})
	p := routeTo(t, px, keyA, []string{"shop.test"}, a)
	c := srv.Client()
	for range 7 {
		if code, _ := get(t, c, srv.URL+"/", "shop.test"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	for range 3 {
		get(t, c, srv.URL+"/fail", "shop.test")
	}
	get(t, c, srv.URL+"/missing", "shop.test")
	// Two POSTs take the ReverseProxy path.
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader("x"))
		req.Host = "shop.test"
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	st := p.Stats()
	if st.Responses != [5]uint64{0, 9, 0, 1, 3} {
		t.Fatalf("responses by class %v, want [0 9 0 1 3]", st.Responses)
	}
	if st.Latency.Count != 13 || st.Latency.Sum <= 0 {
		t.Fatalf("latency %+v", st.Latency)
	}
	now := monoSecond() + 1 // every request is in a whole second before now
	ts := p.statusAt(now)[0]
	span := float64(min(max(now-p.stats.born, 1), windowSeconds))
	if got := ts.RPS * span; got < 12.99 || got > 13.01 {
		t.Fatalf("rps %v over %v s: %v requests, want 13", ts.RPS, span, got)
	}
	if ts.ErrorRate != 3.0/13 {
		t.Fatalf("error rate %v, want 3/13", ts.ErrorRate)
	}
	if ts.Errors != (UpstreamErrors{}) {
		t.Fatalf("upstream errors %+v, want none", ts.Errors)
	}
}

func TestPool_UpstreamErrorsByKind(t *testing.T) {
	px, srv := newProxyServer(t)
	c := srv.Client()
	// reset: the app closes the connection without answering.
	rb := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		if r.URL.Path == "/up" {
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			return true
		}
		return false
	})
	pr := routeRaw(t, px, rb)
	if code, _ := get(t, c, srv.URL+"/x", "shop.test"); code != http.StatusBadGateway {
		t.Fatalf("reset: status %d, want 502", code)
	}
	if e := pr.Status()[0].Errors; e.Reset != 1 || e.Dial+e.Timeout+e.Other != 0 {
		t.Fatalf("reset: %+v", e)
	}
	if st := pr.Stats(); st.Responses[4] != 1 {
		t.Fatalf("reset: responses %v", st.Responses)
	}

	// timeout: the app answers after the route's response timeout.
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	ps := newPool(t, keyB, "r1", fastHealth(), slow)
	waitHealthy(t, ps, 1)
	if _, err := px.SetRouteOptions(keyB, []string{"slow.test"}, ps, RouteOptions{ResponseTimeout: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, c, srv.URL+"/", "slow.test"); code != http.StatusGatewayTimeout {
		t.Fatalf("timeout: status %d, want 504", code)
	}
	if e := ps.Status()[0].Errors; e.Timeout != 1 || e.Dial+e.Reset+e.Other != 0 {
		t.Fatalf("timeout: %+v", e)
	}

	// dial: the app is gone and no health check noticed yet.
	gone := newBackend(t, "gone", nil)
	hc := fastHealth()
	hc.Interval = time.Hour // one passing check, then none during the test
	pg := newPool(t, keyC, "r1", hc, gone)
	waitHealthy(t, pg, 1)
	if _, err := px.SetRoute(keyC, []string{"gone.test"}, pg); err != nil {
		t.Fatal(err)
	}
	gone.Close()
	if code, _ := get(t, c, srv.URL+"/", "gone.test"); code != http.StatusBadGateway {
		t.Fatalf("dial: status %d, want 502", code)
	}
	if e := pg.Status()[0].Errors; e.Dial != 1 || e.Reset+e.Timeout+e.Other != 0 {
		t.Fatalf("dial: %+v", e)
	}
}

// BenchmarkPool_Finish is what the statistics add to a request: two clock
// reads, the status class, the histogram and the target's rate window
// (no access log).
func BenchmarkPool_Finish(b *testing.B) {
	p := &Pool{}
	tg := &target{}
	r, _ := http.NewRequest(http.MethodGet, "http://shop.test/", nil)
	ctr := &counters{}
	ids := []string{"x"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res := outcome{start: nanotime(), ids: ids, status: 200, t: tg}
			p.finish(r, ctr, &res)
		}
	})
}

// BenchmarkPool_RequestID is the cost of a generated request id.
func BenchmarkPool_RequestID(b *testing.B) {
	p := &Pool{ids: newIDGen()}
	b.ReportAllocs()
	for b.Loop() {
		r := http.Request{Header: http.Header{}}
		p.requestID(&r)
	}
}
