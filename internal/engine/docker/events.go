package docker

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/berth-dev/berth/internal/engine"
)

// Watch backoff bounds. A stream that stayed up for stableAfter resets
// the backoff, so a daemon restart a day later reconnects at once.
const (
	watchMinBackoff = 100 * time.Millisecond
	watchMaxBackoff = 10 * time.Second
	stableAfter     = 10 * time.Second
)

// Watch streams events of berth-managed containers until ctx ends. When
// the stream breaks it waits (with backoff) until the engine answers a
// ping again, resubscribes from the time of the last event it delivered
// (the engine replays what it still holds), and sends EventResync, since
// events may still have been lost (an engine restart forgets them). The
// channel is closed when ctx ends, and the goroutine exits with it.
func (b *Backend) Watch(ctx context.Context) <-chan engine.Event {
	out := make(chan engine.Event, 64)
	go func() {
		defer close(out)
		backoff := watchMinBackoff
		var since time.Time
		resync := false // owed to watchers since the last broken stream
		for {
			began := time.Now()
			last, sent, err := b.watchOnce(ctx, since, resync, out)
			resync = resync && !sent
			if ctx.Err() != nil {
				return
			}
			if !last.IsZero() {
				since = last
			} else if since.IsZero() {
				since = began
			}
			if time.Since(began) >= stableAfter {
				backoff = watchMinBackoff
			}
			b.log.Warn("docker event stream broke; reconnecting", "error", err)
			for {
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return
				}
				backoff = min(backoff*2, watchMaxBackoff)
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, perr := b.cli.Ping(pctx)
				cancel()
				if perr == nil {
					break
				}
				if ctx.Err() != nil {
					return
				}
				b.log.Debug("docker engine still unreachable", "error", perr, "backoff", backoff)
			}
			resync = true
		}
	}()
	return out
}

// subscribeSettle is how long a new subscription must stay unbroken
// before it counts as accepted (the client reports a refused one on its
// error channel a moment after returning).
const subscribeSettle = 100 * time.Millisecond

// watchOnce follows one event stream (from since, when not zero) until it
// breaks or ctx ends. With resync, it sends EventResync once the engine
// has accepted the subscription (an event arrived or it stayed up for
// subscribeSettle). It returns the time of the last event delivered,
// whether it sent the resync, and why the stream ended. The client
// returns only once the engine has subscribed, so no event after Watch
// returns is missed.
func (b *Backend) watchOnce(ctx context.Context, since time.Time, resync bool, out chan<- engine.Event) (last time.Time, sent bool, err error) {
	f := filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", engine.LabelManaged+"=true"),
	)
	opts := events.ListOptions{Filters: f}
	if !since.IsZero() {
		opts.Since = since.UTC().Format(time.RFC3339Nano)
	}
	msgs, errs := b.cli.Events(ctx, opts)
	var settled <-chan time.Time
	if resync {
		settled = time.After(subscribeSettle)
	}
	send := func(ev engine.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	sendResync := func() bool {
		settled = nil
		b.log.Info("docker event stream reconnected; asking watchers to resync")
		sent = send(engine.Event{Type: engine.EventResync, Time: time.Now()})
		return sent
	}
	for {
		select {
		case <-ctx.Done():
			return last, sent, ctx.Err()
		case err := <-errs:
			return last, sent, err
		case <-settled:
			if !sendResync() {
				return last, sent, ctx.Err()
			}
		case m := <-msgs:
			if settled != nil && !sendResync() {
				return last, sent, ctx.Err()
			}
			ev, ok := toEvent(m)
			if !ok || b.foreign(ev.Labels) != "" {
				continue
			}
			if !send(ev) {
				return last, sent, ctx.Err()
			}
			last = ev.Time
		}
	}
}

// toEvent maps a Docker container event onto engine's event types; other
// actions (create, kill, exec_*, …) are dropped.
func toEvent(m events.Message) (engine.Event, bool) {
	var t engine.EventType
	action := string(m.Action)
	switch {
	case action == "start":
		t = engine.EventStart
	case action == "die":
		t = engine.EventDie
	case action == "oom":
		t = engine.EventOOM
	case action == "destroy":
		t = engine.EventDestroy
	case strings.HasPrefix(action, "health_status"):
		t = engine.EventHealth
	default:
		return engine.Event{}, false
	}
	ts := time.Unix(0, m.TimeNano)
	if m.TimeNano == 0 {
		ts = time.Unix(m.Time, 0)
	}
	ev := engine.Event{Type: t, ContainerID: m.Actor.ID, Labels: m.Actor.Attributes, Time: ts}
	if code, ok := m.Actor.Attributes["exitCode"]; ok {
		ev.ExitCode, _ = strconv.Atoi(code)
	}
	return ev, true
}
