package autoscale

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

// fakeApp is one autoscaled service whose load is set by the test: it
// answers rps requests per second, spread over its replicas.
type fakeApp struct {
	mu       sync.Mutex
	replicas int
	rps      float64
	requests float64
	last     time.Time
	pool     int // a scale makes a new pool
	scales   []scaled
}

type scaled struct {
	at  time.Time
	to  int
	why string
}

func (f *fakeApp) Services(context.Context) ([]Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []Service{{App: "shop", Env: "production", Name: "web", Replicas: f.replicas, Settings: policy()}}, nil
}

func (f *fakeApp) Counters(_ context.Context, app, env, service string, _ bool) (Counters, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if !f.last.IsZero() {
		f.requests += f.rps * now.Sub(f.last).Seconds()
	}
	f.last = now
	return Counters{Pool: f.pool, Requests: uint64(f.requests)}, true
}

func (f *fakeApp) Scale(_ context.Context, app, env, service string, n int, why string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replicas = n
	f.pool++
	f.scales = append(f.scales, scaled{at: time.Now(), to: n, why: why})
	return nil
}

func (f *fakeApp) set(rps float64) {
	f.mu.Lock()
	f.rps = rps
	f.mu.Unlock()
}

func (f *fakeApp) history() []scaled {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]scaled(nil), f.scales...)
}

// A load step from 100 to 400 req/s on 2 replicas (target 50 each):
// out to 8 once the breach has lasted the 15 s window; back at 100, in
// by half after each 5-minute cooldown, to 2.
func TestRun_FollowsALoadStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeApp{replicas: 2, rps: 100}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { Run(ctx, Options{Source: f, Scaler: f}); close(done) }()
		time.Sleep(time.Minute) // steady: nothing moves (fake time, in the bubble)
		if h := f.history(); len(h) != 0 {
			t.Fatalf("steady load scaled: %+v", h)
		}
		step := time.Now()
		f.set(400)
		time.Sleep(30 * time.Second)
		h := f.history()
		if len(h) != 1 || h[0].to != 8 {
			t.Fatalf("after the step: %+v, want one scale to 8", h)
		}
		if took := h[0].at.Sub(step); took < 13*time.Second || took > 22*time.Second { // ±1 sampling period
			t.Errorf("scaled out %s after the step, want just after the 15s window", took)
		}
		f.set(100)
		time.Sleep(4 * time.Minute)
		if h := f.history(); len(h) != 1 {
			t.Fatalf("scaled in within the cooldown: %+v", h)
		}
		time.Sleep(12 * time.Minute)
		h = f.history()
		if len(h) != 3 || h[1].to != 4 || h[2].to != 2 || h[2].at.Sub(h[1].at) < 5*time.Minute {
			t.Fatalf("scale-in: %+v, want 8 → 4 → 2, a cooldown apart", h)
		}
		cancel()
		<-done
	})
}

func TestQuantile_OfTheRequestsBetweenTwoSnapshots(t *testing.T) {
	bounds := []float64{0.01, 0.1, 1}
	before := []uint64{100, 0, 0, 0}
	after := []uint64{190, 5, 5, 0} // 100 new: 90 fast, 5 under 100ms, 5 under 1s
	if q := quantile(bounds, before, after, 0.95); q != 100*time.Millisecond {
		t.Fatalf("p95 = %s, want 100ms", q)
	}
	if q := quantile(bounds, before, after, 0.5); q != 10*time.Millisecond {
		t.Fatalf("p50 = %s, want 10ms", q)
	}
	if q := quantile(bounds, after, after, 0.95); q != 0 {
		t.Fatalf("no new request: %s, want 0", q)
	}
	_ = spec.Autoscale{}
}

func TestCPUShare_OfEachReplicaBetweenTwoReads(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	before := []ContainerCPU{{ID: "a", TotalNs: 1e9, Read: at}, {ID: "b", TotalNs: 5e9, Read: at, Cores: 0.5}}
	after := []ContainerCPU{
		{ID: "a", TotalNs: 1e9 + 1.6e9, Read: at.Add(2 * time.Second)},             // 0.8 of a core
		{ID: "b", TotalNs: 5e9 + 0.4e9, Read: at.Add(2 * time.Second), Cores: 0.5}, // 0.2 core of a 0.5 limit: 0.4
		{ID: "c", TotalNs: 9e9, Read: at.Add(2 * time.Second)},                     // new: not read twice
	}
	if got := cpuShare(before, after); got < 0.599 || got > 0.601 {
		t.Fatalf("cpuShare = %.3f, want 0.6 (0.8 and 0.4)", got)
	}
	if got := cpuShare(nil, after); got != -1 {
		t.Fatalf("cpuShare with no earlier read = %v, want -1", got)
	}
}

func TestDecide_CPUTarget(t *testing.T) {
	a := policy()
	a.TargetRPS, a.TargetCPU = 0, 0.5
	now := t0.Add(time.Minute)
	var s []Sample
	for at := t0; !at.After(now); at = at.Add(5 * time.Second) {
		s = append(s, Sample{At: at, CPU: 0.9, Valid: true})
	}
	if d := Decide(a, s, 3, State{}, now); d.Replicas != 6 {
		t.Fatalf("90%% CPU on 3 replicas at a 50%% target: %d (%s), want 6", d.Replicas, d.Reason)
	}
}
