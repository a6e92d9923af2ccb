package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type receiver struct {
	mu     sync.Mutex
	bodies []string
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

func startNotifier(t *testing.T, targets []Target) *Notifier {
	t.Helper()
	n := New(Options{Targets: func(string) []Target { return targets }, Backoff: 10 * time.Millisecond, Attempts: 3})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNotifier_SlackAndWebhookPayloads(t *testing.T) {
	rec := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, r.URL.Path+" "+string(b))
		rec.mu.Unlock()
	}))
	defer srv.Close()
	n := startNotifier(t, []Target{{"slack", srv.URL + "/slack"}, {"webhook", srv.URL + "/hook"}})
	n.Send(Event{Kind: DeploySucceeded, App: "shop", Env: "production", Commit: "3f2a9c1d3f2a9c1d", Author: "Ana", Duration: 1500 * time.Millisecond, LogsURL: "http://berth/builds/7", Message: "release 7 is live"})
	waitFor(t, "two deliveries", func() bool { return len(rec.got()) == 2 })
	for _, b := range rec.got() {
		path, body, _ := strings.Cut(b, " ")
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		switch path {
		case "/slack":
			text, _ := m["text"].(string)
			for _, want := range []string{"Deployed", "shop/production", "release 7 is live", "3f2a9c1d3f2a", "Ana", "1.5s", "<http://berth/builds/7|logs>"} {
				if !strings.Contains(text, want) {
					t.Errorf("slack text lacks %q: %s", want, text)
				}
			}
		case "/hook":
			if m["kind"] != DeploySucceeded || m["app"] != "shop" || m["commit"] != "3f2a9c1d3f2a9c1d" {
				t.Errorf("webhook body: %s", body)
			}
		}
	}
}

func TestNotifier_RetriesThenGivesUp(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	n := startNotifier(t, []Target{{"webhook", srv.URL}})
	n.Send(Event{Kind: BuildFailed, App: "shop"})
	waitFor(t, "third attempt succeeds", func() bool { return calls.Load() == 3 })

	var bad atomic.Int32
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer dead.Close()
	n2 := startNotifier(t, []Target{{"webhook", dead.URL}})
	n2.Send(Event{Kind: BuildFailed, App: "shop"})
	waitFor(t, "three attempts", func() bool { return bad.Load() == 3 })
}

func TestNotifier_SendNeverBlocks(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	n := New(Options{Targets: func(string) []Target { return []Target{{"webhook", srv.URL}} }, Queue: 2})
	start := time.Now()
	for i := 0; i < 100; i++ { // nobody runs the queue: it fills, then drops
		n.Send(Event{Kind: DeploySucceeded, App: "shop"})
	}
	if time.Since(start) > time.Second || n.Dropped.Load() != 98 {
		t.Fatalf("Send blocked or did not drop: %s, dropped %d", time.Since(start), n.Dropped.Load())
	}
}
