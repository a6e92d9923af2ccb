package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

func TestNotifier_SendNeverBlocksAndCountsDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		n := New(Options{Targets: targets(Target{KindWebhook, "http://hung.example/"}), Queue: 10, TargetQueue: 3,
			Timeout: time.Hour, Client: &http.Client{Transport: handlerTransport{hang}}, Logger: testLogger(&testutil.SyncBuffer{})})
		for range 100 { // before Run: the queue takes 10, drops 90
			n.Send(Event{Kind: BuildStarted, App: "shop"})
		}
		if n.Dropped() != 90 {
			t.Fatalf("dropped %d, want 90", n.Dropped())
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		synctest.Wait() // the worker holds 1 in flight and up to 3 queued: the rest is dropped
		if d := n.Dropped(); d < 96 || d > 97 {
			t.Errorf("dropped %d, want 96 or 97", d)
		}
		start := time.Now()
		for range 1000 {
			n.Send(Event{Kind: BuildStarted, App: "shop"})
		}
		if time.Since(start) != 0 {
			t.Fatal("Send waited")
		}
		cancel() // stops the hung delivery too
		<-done
		synctest.Wait()
		// Every event is accounted for exactly once.
		if n.Delivered() != 0 || n.Failed()+n.Dropped() != 1100 {
			t.Errorf("delivered %d, failed %d, dropped %d; want failed+dropped = 1100", n.Delivered(), n.Failed(), n.Dropped())
		}
	})
}

func TestNotifier_DeliversInOrderPerTarget(t *testing.T) {
	s := &script{statuses: []int{500}} // the first one is retried: the rest wait
	bubble(t, Options{Targets: targets(Target{KindWebhook, "http://r.example/"})}, s, func(t *testing.T, n *Notifier, _ *testutil.SyncBuffer) {
		for i := range 5 {
			n.Send(Event{Kind: BuildStarted, App: "shop", Message: fmt.Sprint(i)})
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		var got string
		for _, b := range s.bodies {
			var ev Event
			if err := json.Unmarshal([]byte(b), &ev); err != nil {
				t.Fatal(err)
			}
			got += ev.Message
		}
		if got != "001234" {
			t.Fatalf("messages arrived as %q, want 0 (failed), 0, 1, 2, 3, 4", got)
		}
	})
}

func TestNotifier_IdleWorkersExit(t *testing.T) {
	s := &script{}
	a, b := Target{KindWebhook, "http://a.example/"}, Target{KindWebhook, "http://b.example/"}
	bubble(t, Options{Targets: func(app string) []Target {
		if app == "a" {
			return []Target{a}
		}
		return []Target{b}
	}, IdleTimeout: time.Minute}, s, func(t *testing.T, n *Notifier, _ *testutil.SyncBuffer) {
		n.Send(Event{Kind: BuildStarted, App: "a"})
		n.Send(Event{Kind: BuildStarted, App: "b"})
		synctest.Wait()
		if w := n.workers.Load(); w != 2 {
			t.Fatalf("%d workers, want 2", w)
		}
		time.Sleep(3 * time.Minute) // both idle: their workers stop
		synctest.Wait()
		if w := n.workers.Load(); w != 0 {
			t.Fatalf("%d workers after idling, want 0", w)
		}
		n.Send(Event{Kind: BuildStarted, App: "a"}) // a new worker takes it
		synctest.Wait()
		if len(s.calls()) != 3 || n.Delivered() != 3 {
			t.Fatalf("%d calls, delivered %d", len(s.calls()), n.Delivered())
		}
	})
}

func TestNotifier_NilAndUnconfiguredSendNothing(t *testing.T) {
	var n *Notifier
	n.Send(Event{Kind: BuildStarted})
	New(Options{}).Send(Event{Kind: BuildStarted})
}
