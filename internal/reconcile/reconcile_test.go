package reconcile

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// fakeEngine is just enough engine for the loop: Watch returns a channel
// the test feeds.
type fakeEngine struct {
	engine.Engine
	events chan engine.Event
}

func (f *fakeEngine) Watch(ctx context.Context) <-chan engine.Event { return f.events }

type recorder struct {
	mu    sync.Mutex
	calls []string
	all   int
}

func (r *recorder) Converge(_ context.Context, app, env string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, app+"/"+env)
	return nil
}

func (r *recorder) ConvergeAll(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all++
	return nil
}

func (r *recorder) snapshot() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...), r.all
}

func ev(t engine.EventType, app, env string) engine.Event {
	return engine.Event{Type: t, Labels: map[string]string{engine.LabelApp: app, engine.LabelEnv: env}}
}

func TestRun_CoalescesBurstsAndResyncs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		fe := &fakeEngine{events: make(chan engine.Event)}
		rec := &recorder{}
		done := make(chan error)
		go func() {
			done <- Run(ctx, Options{Engine: fe, Converger: rec, Resync: time.Minute, Debounce: 250 * time.Millisecond})
		}()
		// A burst for shop/production and one event for blog/staging.
		for i := 0; i < 5; i++ {
			fe.events <- ev(engine.EventDie, "shop", "production")
		}
		fe.events <- ev(engine.EventStart, "blog", "staging")
		fe.events <- engine.Event{Type: engine.EventStart} // not berth's: ignored
		synctest.Wait()
		if calls, _ := rec.snapshot(); len(calls) != 0 {
			t.Fatalf("converged before the debounce: %v", calls)
		}
		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		if calls, _ := rec.snapshot(); len(calls) != 2 {
			t.Fatalf("want one converge per app environment, got %v", calls)
		}
		fe.events <- engine.Event{Type: engine.EventResync}
		synctest.Wait()
		if _, all := rec.snapshot(); all != 1 {
			t.Fatalf("resync event: %d full resyncs", all)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, all := rec.snapshot(); all != 2 {
			t.Fatalf("periodic resync: %d full resyncs", all)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
