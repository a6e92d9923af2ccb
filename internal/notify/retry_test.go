package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// script answers the n-th request (0-based) with statuses[n] (200 past
// the end), and records when each came, on the bubble's clock.
type script struct {
	mu       sync.Mutex
	statuses []int
	headers  []http.Header
	times    []time.Time
	bodies   []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := len(s.times)
	s.times = append(s.times, time.Now())
	b, _ := io.ReadAll(r.Body)
	s.bodies = append(s.bodies, string(b))
	s.mu.Unlock()
	if i < len(s.headers) {
		for k, v := range s.headers[i] {
			w.Header()[k] = v
		}
	}
	if i < len(s.statuses) {
		w.WriteHeader(s.statuses[i])
	}
}

func (s *script) calls() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}

// bubble runs a Notifier on h inside a synctest bubble; f sends and
// checks. The bubble fails the test if any goroutine outlives it.
func bubble(t *testing.T, o Options, h http.Handler, f func(t *testing.T, n *Notifier, logs *testutil.SyncBuffer)) {
	synctest.Test(t, func(t *testing.T) {
		logs := &testutil.SyncBuffer{}
		o.Client = &http.Client{Transport: handlerTransport{h}}
		o.Logger = testLogger(logs)
		if o.Targets == nil {
			o.Targets = targets(Target{KindSlack, "https://hooks.slack.example/services/T0/B0/s3cr3t"})
		}
		n := New(o)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		f(t, n, logs)
		cancel()
		<-done
	})
}

func gaps(ts []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

func TestNotifier_RetriesOn500ThenSucceeds(t *testing.T) {
	s := &script{statuses: []int{500, 502}}
	bubble(t, Options{Backoff: time.Second}, s, func(t *testing.T, n *Notifier, _ *testutil.SyncBuffer) {
		n.Send(Event{Kind: BuildFailed, App: "shop"})
		time.Sleep(time.Hour) // fake time: every retry is due long before
		synctest.Wait()
		g := gaps(s.calls())
		if len(g) != 2 || n.Delivered() != 1 || n.Failed() != 0 {
			t.Fatalf("%d calls, delivered %d, failed %d", len(g)+1, n.Delivered(), n.Failed())
		}
		// Exponential with jitter: 1s → [0.5s, 1s], 2s → [1s, 2s].
		if g[0] < 500*time.Millisecond || g[0] > time.Second || g[1] < time.Second || g[1] > 2*time.Second {
			t.Errorf("waits %v, want [0.5s,1s] then [1s,2s]", g)
		}
	})
}

func TestNotifier_GivesUpAfterAttempts(t *testing.T) {
	s := &script{statuses: []int{503, 503, 503, 503, 503, 503}}
	bubble(t, Options{Attempts: 4, Backoff: time.Second, MaxBackoff: 3 * time.Second}, s, func(t *testing.T, n *Notifier, logs *testutil.SyncBuffer) {
		n.Send(Event{Kind: DeploySucceeded, App: "shop"})
		time.Sleep(time.Hour)
		synctest.Wait()
		g := gaps(s.calls())
		if len(g) != 3 || n.Failed() != 1 || n.Delivered() != 0 {
			t.Fatalf("%d calls, failed %d, delivered %d; want 4 calls then given up", len(g)+1, n.Failed(), n.Delivered())
		}
		if g[2] > 3*time.Second {
			t.Errorf("wait %s beyond MaxBackoff", g[2])
		}
		log := logs.String()
		if !strings.Contains(log, "notification given up") || !strings.Contains(log, "attempts=4") || !strings.Contains(log, "503") {
			t.Errorf("log lacks the give-up line:\n%s", log)
		}
		if strings.Contains(log, "s3cr3t") {
			t.Errorf("the webhook URL's secret path is in the log:\n%s", log)
		}
	})
}

func TestNotifier_HonoursRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value func() string
		want  time.Duration
	}{
		{"seconds", func() string { return "7" }, 7 * time.Second},
		{"http date", func() string { return time.Now().Add(20 * time.Second).UTC().Format(http.TimeFormat) }, 20 * time.Second},
		{"capped", func() string { return "86400" }, time.Minute},
		{"shorter than the backoff", func() string { return "0" }, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{statuses: []int{429}}
			bubble(t, Options{Backoff: 100 * time.Millisecond, MaxRetryAfter: time.Minute}, s, func(t *testing.T, n *Notifier, _ *testutil.SyncBuffer) {
				s.headers = []http.Header{{"Retry-After": {tc.value()}}}
				n.Send(Event{Kind: Rollback, App: "shop"})
				time.Sleep(2 * time.Hour)
				synctest.Wait()
				g := gaps(s.calls())
				if len(g) != 1 || n.Delivered() != 1 {
					t.Fatalf("%d calls, delivered %d", len(g)+1, n.Delivered())
				}
				if tc.want < 0 {
					if g[0] > 100*time.Millisecond {
						t.Errorf("waited %s, want the backoff", g[0])
					}
				} else if g[0] != tc.want {
					t.Errorf("waited %s, want %s", g[0], tc.want)
				}
			})
		})
	}
}

func TestNotifier_ClientErrorsAreNotRetried(t *testing.T) {
	for _, status := range []int{400, 403, 404, 410} {
		s := &script{statuses: []int{status}}
		bubble(t, Options{}, s, func(t *testing.T, n *Notifier, logs *testutil.SyncBuffer) {
			n.Send(Event{Kind: BuildStarted, App: "shop"})
			time.Sleep(time.Hour)
			synctest.Wait()
			if c := len(s.calls()); c != 1 || n.Failed() != 1 {
				t.Errorf("%d: %d calls, failed %d; want 1 call, not retried", status, c, n.Failed())
			}
			if !strings.Contains(logs.String(), "not retried") {
				t.Errorf("%d: log does not say it is not retried:\n%s", status, logs)
			}
		})
	}
}

func TestNotifier_RetriesNetworkErrorsAndTimeouts(t *testing.T) {
	var mu sync.Mutex
	var kinds []string
	tr := transportFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		kinds = append(kinds, []string{"refused", "hang", "ok"}[min(len(kinds), 2)])
		kind := kinds[len(kinds)-1]
		mu.Unlock()
		switch kind {
		case "refused":
			return nil, errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
		case "hang":
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		return &http.Response{StatusCode: 204, Status: "204 No Content", Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})
	synctest.Test(t, func(t *testing.T) {
		n := New(Options{Targets: targets(Target{KindWebhook, "http://receiver.example/hook"}), Timeout: 5 * time.Second,
			Backoff: time.Second, Client: &http.Client{Transport: tr}, Logger: testLogger(&testutil.SyncBuffer{})})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		n.Send(Event{Kind: BuildStarted, App: "shop"})
		time.Sleep(time.Hour)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if n.Delivered() != 1 || strings.Join(kinds, ",") != "refused,hang,ok" {
			t.Errorf("delivered %d after %v; want refused, timed out, delivered", n.Delivered(), kinds)
		}
		cancel()
		<-done
	})
}

type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
