// Package notify tells a team what berth did: builds started, succeeded
// or failed, deploys succeeded or failed, rollbacks — to Slack-compatible
// incoming webhooks and to generic JSON webhooks.
//
// Invariants: Send never blocks its caller (a full queue drops the event
// and counts it); deliveries are retried with exponential backoff and
// jitter, honouring Retry-After, then given up with a log line; one
// worker goroutine owns delivery and stops with its context.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of events.
const (
	BuildStarted    = "build_started"
	BuildSucceeded  = "build_succeeded"
	BuildFailed     = "build_failed"
	DeploySucceeded = "deploy_succeeded"
	DeployFailed    = "deploy_failed"
	Rollback        = "rollback"
)

// Event is one notification.
type Event struct {
	Kind     string        `json:"kind"`
	App      string        `json:"app"`
	Env      string        `json:"env"`
	Commit   string        `json:"commit,omitempty"`
	Author   string        `json:"author,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	LogsURL  string        `json:"logs_url,omitempty"`
	Message  string        `json:"message"`
	Time     time.Time     `json:"time"`
}

// Target is where an app's notifications go.
type Target struct {
	Kind string `json:"kind"` // "slack" or "webhook"
	URL  string `json:"url"`
}

// Options configure a Notifier.
type Options struct {
	// Targets returns an app's targets at send time.
	Targets func(app string) []Target
	Client  *http.Client
	Logger  *slog.Logger
	// Attempts per delivery (default 5); Backoff is the first wait
	// (default 500ms), doubled each time, capped at 30s.
	Attempts int
	Backoff  time.Duration
	Queue    int // default 256
}

// Notifier delivers events in the background.
type Notifier struct {
	o       Options
	queue   chan delivery
	Dropped atomic.Int64
	wg      sync.WaitGroup
}

type delivery struct {
	t  Target
	ev Event
}

// New returns a notifier; Run delivers.
func New(o Options) *Notifier {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	o.Logger = o.Logger.With("component", "notify")
	return &Notifier{o: o, queue: make(chan delivery, o.Queue)}
}

// Send queues ev for every target of its app. It never blocks.
func (n *Notifier) Send(ev Event) {
	if n == nil || n.o.Targets == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	for _, t := range n.o.Targets(ev.App) {
		select {
		case n.queue <- delivery{t, ev}:
		default:
			n.Dropped.Add(1)
			n.o.Logger.Warn("notification dropped: queue full", "app", ev.App, "kind", ev.Kind)
		}
	}
}

// Run delivers queued events until ctx ends. Each delivery retries in its
// own goroutine, so one slow receiver delays no other.
func (n *Notifier) Run(ctx context.Context) {
	defer n.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-n.queue:
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				n.deliver(ctx, d)
			}()
		}
	}
}

func (n *Notifier) deliver(ctx context.Context, d delivery) {
	body, err := payload(d.t, d.ev)
	if err != nil {
		n.o.Logger.Error("notification", "app", d.ev.App, "error", err)
		return
	}
	wait := n.o.Backoff
	for attempt := 1; ; attempt++ {
		retryAfter, err := n.post(ctx, d.t.URL, body)
		if err == nil {
			return
		}
		if attempt >= n.o.Attempts || ctx.Err() != nil {
			n.o.Logger.Warn("notification given up", "app", d.ev.App, "kind", d.ev.Kind, "target", d.t.Kind, "attempts", attempt, "error", err)
			return
		}
		sleep := wait + time.Duration(rand.Int64N(int64(wait)/2+1))
		if retryAfter > 0 {
			sleep = retryAfter
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(sleep):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// post sends body; it returns the server's Retry-After on 429/503.
func (n *Notifier) post(ctx context.Context, url string, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.o.Client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode < 300 {
		return 0, nil
	}
	var ra time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		ra = time.Duration(s) * time.Second
	}
	if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		return 0, fmt.Errorf("%s refused the notification: %s (not retried)", url, resp.Status)
	}
	return ra, fmt.Errorf("%s: %s", url, resp.Status)
}

// payload is the body for a target: Slack's {"text"} or the event itself.
func payload(t Target, ev Event) ([]byte, error) {
	if t.Kind != "slack" {
		return json.Marshal(ev)
	}
	text := fmt.Sprintf("*%s* %s/%s: %s", label(ev.Kind), ev.App, ev.Env, ev.Message)
	if ev.Commit != "" {
		c := ev.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		text += " (commit " + c
		if ev.Author != "" {
			text += " by " + ev.Author
		}
		text += ")"
	}
	if ev.Duration > 0 {
		text += fmt.Sprintf(" in %s", ev.Duration.Round(time.Second/10))
	}
	if ev.LogsURL != "" {
		text += " <" + ev.LogsURL + "|logs>"
	}
	return json.Marshal(map[string]string{"text": text})
}

func label(kind string) string {
	switch kind {
	case BuildStarted:
		return "Build started"
	case BuildSucceeded:
		return "Build succeeded"
	case BuildFailed:
		return "Build failed"
	case DeploySucceeded:
		return "Deployed"
	case DeployFailed:
		return "Deploy failed"
	case Rollback:
		return "Rolled back"
	}
	return kind
}
