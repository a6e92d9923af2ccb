package notify

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Notifier. Zero values take the defaults.
type Options struct {
	// Targets returns an app's targets at send time.
	Targets func(app string) []Target
	// Client sends the requests (default: a plain http.Client; each
	// attempt is bounded by Timeout either way).
	Client *http.Client
	Logger *slog.Logger
	// Attempts per delivery (default 5).
	Attempts int
	// Backoff is the wait before the second attempt (default 500ms),
	// doubled for each further one up to MaxBackoff (default 30s), with
	// jitter: the actual wait is between half and all of it.
	Backoff, MaxBackoff time.Duration
	// MaxRetryAfter caps how long a receiver's Retry-After can hold a
	// delivery back (default 2m).
	MaxRetryAfter time.Duration
	// Timeout bounds each attempt (default 10s).
	Timeout time.Duration
	// Queue is how many events wait for the dispatcher (default 256);
	// TargetQueue how many wait for one target's worker (default 64).
	Queue, TargetQueue int
	// IdleTimeout stops a target's worker after that long without events
	// (default 5m).
	IdleTimeout time.Duration
}

func (o *Options) defaults() {
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Backoff, 500*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.MaxRetryAfter, 2*time.Minute)
	def(&o.Timeout, 10*time.Second)
	def(&o.IdleTimeout, 5*time.Minute)
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.TargetQueue <= 0 {
		o.TargetQueue = 64
	}
}

// Notifier delivers events in the background: Send queues, Run delivers.
type Notifier struct {
	o       Options
	log     *slog.Logger
	queue   chan delivery
	running atomic.Bool

	dropped, delivered, failed atomic.Int64
	workers                    atomic.Int64 // running, for tests
}

type delivery struct {
	t  Target
	ev Event
}

// worker delivers one target's events in order.
type worker struct {
	ch      chan delivery
	pending atomic.Int64 // queued or being delivered
	last    time.Time    // of the last event queued; the dispatcher's
}

// New returns a Notifier; nothing is delivered until Run runs.
func New(o Options) *Notifier {
	o.defaults()
	return &Notifier{o: o, log: o.Logger.With("component", "notify"), queue: make(chan delivery, o.Queue)}
}

// Send queues ev for every target of its app and returns at once: when
// the queue is full the event is dropped, counted and logged. A nil
// Notifier, or one without Targets, sends nothing.
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
			n.drop(delivery{t, ev}, "queue full")
		}
	}
}

// Dropped is the number of events dropped because a queue was full.
func (n *Notifier) Dropped() int64 { return n.dropped.Load() }

// Delivered is the number of events a receiver accepted.
func (n *Notifier) Delivered() int64 { return n.delivered.Load() }

// Failed is the number of events given up after their attempts, refused
// by the receiver, or abandoned at shutdown.
func (n *Notifier) Failed() int64 { return n.failed.Load() }

// drop counts a dropped event and logs the 1st, 2nd, 4th, 8th… drop, so
// a stuck receiver cannot flood the log.
func (n *Notifier) drop(d delivery, why string) {
	if c := n.dropped.Add(1); c&(c-1) == 0 {
		n.log.Warn("notification dropped: "+why, "app", d.ev.App, "kind", d.ev.Kind, "target", d.t.Kind, "dropped_total", c)
	}
}

// Run delivers queued events until ctx ends, then stops its workers and
// waits for them: events still queued are abandoned. Run once.
func (n *Notifier) Run(ctx context.Context) {
	if !n.running.CompareAndSwap(false, true) {
		n.log.Error("notify: Run called twice; the second call does nothing")
		return
	}
	var wg sync.WaitGroup
	workers := map[Target]*worker{}
	defer func() {
		for _, w := range workers {
			close(w.ch)
		}
		wg.Wait()
		n.abandonQueued()
	}()
	sweep := time.NewTicker(n.o.IdleTimeout)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-sweep.C:
			for t, w := range workers {
				if w.pending.Load() == 0 && now.Sub(w.last) >= n.o.IdleTimeout {
					close(w.ch) // only the dispatcher sends: nothing races this
					delete(workers, t)
				}
			}
		case d := <-n.queue:
			w := workers[d.t]
			if w == nil {
				w = &worker{ch: make(chan delivery, n.o.TargetQueue)}
				workers[d.t] = w
				wg.Add(1)
				go func() {
					defer wg.Done()
					n.work(ctx, w)
				}()
			}
			w.last = time.Now()
			w.pending.Add(1)
			select {
			case w.ch <- d:
			default:
				w.pending.Add(-1)
				n.drop(d, "the target is not keeping up")
			}
		}
	}
}

// abandonQueued counts the events left in the queue at shutdown.
func (n *Notifier) abandonQueued() {
	var left int64
	for {
		select {
		case <-n.queue:
			left++
			continue
		default:
		}
		break
	}
	if left > 0 {
		n.failed.Add(left)
		n.log.Warn("notifications abandoned: berth is stopping", "count", left)
	}
}

// work delivers w's events one by one until its channel is closed.
func (n *Notifier) work(ctx context.Context, w *worker) {
	n.workers.Add(1)
	defer n.workers.Add(-1)
	for d := range w.ch {
		if ctx.Err() != nil {
			n.failed.Add(1)
		} else {
			n.deliver(ctx, d)
		}
		w.pending.Add(-1)
	}
}
