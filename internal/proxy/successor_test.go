package proxy

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

func TestNewPoolFrom_CarriesHealthOfKeptTargetsOnly(t *testing.T) {
	a, b, c := newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)
	key := RouteKey{"shop", "production", "web"}
	// Slow checks: a carried target must be healthy before any check runs.
	hc := fastHealth()
	hc.Interval, hc.HealthyThreshold = time.Hour, 2
	prev := NewPool(key, "7", []Target{a.target(), b.target()}, fastHealth(), discardLog)
	t.Cleanup(prev.Close)
	waitHealthy(t, prev, 2)
	b.up.Store(false) // b is about to leave; c is new
	testutil.Eventually(t, 5*time.Second, "b unhealthy in the old pool", func() bool { return prev.Healthy() == 1 })

	next := NewPoolFrom(prev, key, "7", []Target{a.target(), b.target(), c.target()}, hc, discardLog)
	t.Cleanup(next.Close)
	if got := next.Healthy(); got != 1 {
		t.Fatalf("healthy targets of the successor = %d; want 1 (a only)", got)
	}
	for _, s := range next.Status() {
		if want := s.Name == "a"; s.Healthy != want {
			t.Errorf("target %s healthy = %v; want %v", s.Name, s.Healthy, want)
		}
	}
	// A target with the same ID but a new address is a new target.
	moved := a.target()
	moved.Addr = c.target().Addr
	other := NewPoolFrom(prev, key, "7", []Target{moved}, hc, discardLog)
	t.Cleanup(other.Close)
	if other.Healthy() != 0 {
		t.Fatal("a target whose address changed was carried over as healthy")
	}
	if nilPrev := NewPoolFrom(nil, key, "7", []Target{a.target()}, hc, discardLog); nilPrev.Healthy() != 0 {
		t.Fatal("NewPoolFrom(nil) started a target healthy")
	} else {
		nilPrev.Close()
	}
}
