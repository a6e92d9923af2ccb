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
	ps := h.d.Traffic("shop", "production", time.Time{})
	if !math.IsNaN(ps[0].P99) || !(ps[1].P50 > 0 && ps[1].P50 <= ps[1].P95 && ps[1].P95 <= ps[1].P99) {
		t.Errorf("quantiles: %+v", ps)
	}
	if got := h.d.Traffic("shop", "production", t0.Add(TrafficStep)); len(got) != 1 {
		t.Errorf("points after the second: %d, want 1", len(got))
	}
	st, err := h.d.Status(ctx, "shop", "production")
	if err != nil || st.P99 <= 0 || st.P99 > 10 {
		t.Errorf("status p99 %v (%v), want the last minute's", st.P99, err)
	}
}
