package metrics

import (
	"math"
	"testing"
	"time"
)

func TestQuantile_InterpolatesWithinTheBucket(t *testing.T) {
	bounds := []float64{0.001, 0.01, 0.1, 1}
	for _, tc := range []struct {
		name   string
		counts []uint64
		q      float64
		want   float64
	}{
		{"all in the first bucket, median", []uint64{10, 0, 0, 0, 0}, 0.5, 0.0005},
		{"p99 in the third bucket", []uint64{50, 40, 10, 0, 0}, 0.99, 0.01 + 0.09*0.9},
		{"p50 at a bucket's top", []uint64{50, 50, 0, 0, 0}, 0.5, 0.001},
		{"the +Inf bucket gives the highest bound", []uint64{0, 0, 0, 0, 5}, 0.99, 1},
	} {
		if got := Quantile(bounds, tc.counts, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := Quantile(bounds, []uint64{0, 0, 0, 0, 0}, 0.5); !math.IsNaN(got) {
		t.Errorf("an empty histogram: %v, want NaN", got)
	}
	if got := Quantile(bounds, []uint64{1, 2}, 0.5); !math.IsNaN(got) {
		t.Errorf("counts that do not match the bounds: %v, want NaN", got)
	}
}

func TestHistory_KeepsTheLastPointsOfEachKey(t *testing.T) {
	h := NewHistory(3)
	t0 := time.Unix(1000, 0)
	for i := range 5 {
		h.Add("shop/production", Point{At: t0.Add(time.Duration(i) * 10 * time.Second), Requests: uint64(i), Latency: []uint64{uint64(i), 1}})
	}
	h.Add("blog/production", Point{At: t0, Requests: 7})
	ps := h.Since("shop/production", time.Time{})
	if len(ps) != 3 || ps[0].Requests != 2 || ps[2].Requests != 4 {
		t.Fatalf("points %+v, want the last three", ps)
	}
	if got := h.Since("shop/production", t0.Add(30*time.Second)); len(got) != 1 || got[0].Requests != 4 {
		t.Fatalf("since 30s: %+v", got)
	}
	ps[0].Latency[0] = 99 // a copy
	if again := h.Since("shop/production", time.Time{}); again[0].Latency[0] != 2 {
		t.Fatal("Since returned the history's own slice")
	}
	m := Merge(ps)
	if m.Requests != 9 || m.Latency[0] != 99+3+4 || m.Latency[1] != 3 || !m.At.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("merged %+v", m)
	}
	if n := h.Newest("shop/production"); !n.Equal(t0.Add(40 * time.Second)) {
		t.Errorf("newest %s", n)
	}
	h.Forget(func(k string, newest time.Time) bool { return k == "blog/production" && newest.Equal(t0) })
	if len(h.Since("shop/production", time.Time{})) != 0 || len(h.Since("blog/production", time.Time{})) != 1 || !h.Newest("shop/production").IsZero() {
		t.Fatal("Forget kept the wrong keys")
	}
}
