package proxy

import (
	"testing"
)

// balancedPool returns a pool of n targets, all in rotation, with no
// health checks running.
func balancedPool(tb testing.TB, n int) *Pool {
	tb.Helper()
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = Target{ID: string(rune('a' + i)), Name: string(rune('a' + i)), Addr: "127.0.0.1:1"}
	}
	p := NewPool(RouteKey{App: "a", Env: "e", Service: "s"}, "r1", ts, HealthConfig{}, nil)
	tb.Cleanup(p.Close)
	p.health.stop()
	h := append([]*target(nil), p.targets...)
	p.healthy.Store(&h)
	return p
}

func TestTargetSet_HotPathAllocatesNothing(t *testing.T) {
	p := balancedPool(t, 3)
	tried := []*target{p.targets[0]}
	allocs := testing.AllocsPerRun(1000, func() {
		if !p.enter() {
			t.Fatal("enter refused on a live pool")
		}
		if tg, _ := p.pick(); tg == nil {
			t.Fatal("no target")
		}
		if p.pickOther(tried) == nil {
			t.Fatal("no other target")
		}
		p.leave()
	})
	if allocs != 0 {
		t.Errorf("pick/enter/leave allocate %.1f times, want 0", allocs)
	}
}

func TestTargetSet_RoundRobinSkipsTried(t *testing.T) {
	p := balancedPool(t, 3)
	seen := map[*target]int{}
	for range 30 {
		tg, _ := p.pick()
		seen[tg]++
	}
	for _, tg := range p.targets {
		if seen[tg] != 10 {
			t.Errorf("%s picked %d times of 30, want 10", tg.Name, seen[tg])
		}
	}
	if got := p.pickOther(p.targets); got != nil {
		t.Errorf("pickOther with every target tried = %s, want none", got.Name)
	}
}

func BenchmarkPool_PickEnterLeave(b *testing.B) {
	p := balancedPool(b, 3)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !p.enter() {
				b.Fatal("enter refused")
			}
			_, _ = p.pick()
			p.leave()
		}
	})
}
