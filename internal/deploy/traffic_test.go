package deploy

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
)

// The traffic history counts what each look's pools served since the
// previous look, per app environment, across a switch to a new pool;
// the status's p99 comes from its last minute.
func TestDeployer_TrafficCountsEachStepAcrossASwitch(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1", "2")
	ctx := context.Background()
	if _, err := h.d.Deploy(ctx, h.app("1"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	send := func(n int) {
		for range n {
			if _, err := h.get(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	t0 := time.Now()
	last := h.d.sampleTraffic(t0, map[*proxy.Pool]proxy.PoolStats{}) // the health checks' requests are not the proxy's
	send(50)
	last = h.d.sampleTraffic(t0.Add(TrafficStep), last)
	if _, err := h.d.Deploy(ctx, h.app("2"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	send(20)
	h.d.sampleTraffic(t0.Add(2*TrafficStep), last)
	raw := h.d.traffic.Since("shop/production", time.Time{})
	if len(raw) != 3 || raw[0].Requests != 0 || raw[1].Requests != 50 || raw[2].Requests != 20 || raw[1].Errors != 0 {
		t.Fatalf("points %+v, want 0, 50, then 20 requests (the new release's pool)", raw)
	}
	if b := h.d.traffic.Bounds(); len(b) == 0 || len(raw[1].Latency) != len(b)+1 {
		t.Fatalf("bounds %v, latency %v", b, raw[1].Latency)
	}
	var n uint64
	for _, c := range raw[2].Latency {
		n += c
	}
	if n != 20 {
		t.Errorf("the step's latency histogram counts %d answers, want 20", n)
	}
	if _, step := h.d.Traffic("shop", "production", "", time.Now().Add(-TrafficSpan)); step != TrafficStep {
		t.Fatalf("the last hour, asked a moment ago, reads %s steps", step) // as the API asks
	}
	ps, step := h.d.Traffic("shop", "production", "", time.Now().Add(-time.Minute))
	if step != TrafficStep || len(ps) != 3 {
		t.Fatalf("the last minute: %d points of %s", len(ps), step)
	}
	if !math.IsNaN(ps[0].P99) || !(ps[1].P50 > 0 && ps[1].P50 <= ps[1].P95 && ps[1].P95 <= ps[1].P99) {
		t.Errorf("quantiles: %+v", ps)
	}
	if got, _ := h.d.Traffic("shop", "production", "", t0.Add(TrafficStep)); len(got) != 1 {
		t.Errorf("points after the second: %d, want 1", len(got))
	}
	r1, _ := h.d.Traffic("shop", "production", "1", time.Now().Add(-time.Minute))
	r2, _ := h.d.Traffic("shop", "production", "2", time.Now().Add(-time.Minute))
	if len(r1) != 2 || r1[1].Requests != 50 || len(r2) != 1 || r2[0].Requests != 20 {
		t.Errorf("per release: 1 %+v, 2 %+v; want 50 requests on release 1, then 20 on release 2", r1, r2)
	}
	st, err := h.d.Status(ctx, "shop", "production")
	if err != nil || st.P99 <= 0 || st.P99 > 10 {
		t.Errorf("status p99 %v (%v), want the last minute's", st.P99, err)
	}
}

// The day's history merges the steps of each TrafficDayStep into one
// point at its boundary; a range beyond the hour reads it.
func TestDeployer_TrafficDayMergesTheSteps(t *testing.T) {
	t.Parallel()
	h := newSwitchHarness(t, "1")
	ctx := context.Background()
	if _, err := h.d.Deploy(ctx, h.app("1"), "", DeployOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	b0 := time.Now().Truncate(TrafficDayStep)
	last := h.d.sampleTraffic(b0.Add(-TrafficStep), map[*proxy.Pool]proxy.PoolStats{}) // sets the first boundary
	for i := 1; i <= int(TrafficDayStep/TrafficStep)+1; i++ {
		for range 3 {
			if _, err := h.get(c); err != nil {
				t.Fatal(err)
			}
		}
		last = h.d.sampleTraffic(b0.Add(-TrafficDayStep+time.Duration(i)*TrafficStep), last)
	}
	day := h.d.trafficDay.Since("shop/production", time.Time{})
	if len(day) != 1 || !day[0].At.Equal(b0) || day[0].Requests != 3*uint64(TrafficDayStep/TrafficStep) {
		t.Fatalf("day points %+v, want one at %s with %d requests", day, b0, 3*int(TrafficDayStep/TrafficStep))
	}
	if _, step := h.d.Traffic("shop", "production", "", time.Now().Add(-2*time.Hour)); step != TrafficDayStep {
		t.Errorf("a 2h range reads %s steps, want the day's", step)
	}
}
