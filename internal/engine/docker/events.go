package docker

import (
	"context"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/berth-dev/berth/internal/engine"
)

// Watch streams events of berth-managed containers until ctx ends,
// reconnecting with backoff and asking for a resync after each reconnect.
func (b *Backend) Watch(ctx context.Context) <-chan engine.Event {
	out := make(chan engine.Event, 64)
	go func() {
		defer close(out)
		backoff := 100 * time.Millisecond
		first := true
		for ctx.Err() == nil {
			if !first {
				select {
				case out <- engine.Event{Type: engine.EventResync, Time: time.Now()}:
				case <-ctx.Done():
					return
				}
			}
			first = false
			connected := b.watchOnce(ctx, out)
			if ctx.Err() != nil {
				return
			}
			if connected {
				backoff = 100 * time.Millisecond
			}
			b.log.Warn("docker event stream broke; reconnecting", "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(backoff*2, 10*time.Second)
		}
	}()
	return out
}

// watchOnce follows one event stream until it breaks; it reports whether
// any event arrived (the connection was good).
func (b *Backend) watchOnce(ctx context.Context, out chan<- engine.Event) bool {
	f := filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", engine.LabelManaged+"=true"),
	)
	msgs, errs := b.cli.Events(ctx, events.ListOptions{Filters: f})
	got := false
	for {
		select {
		case <-ctx.Done():
			return got
		case <-errs:
			return got
		case m := <-msgs:
			got = true
			ev, ok := toEvent(m)
			if !ok {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return got
			}
		}
	}
}

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
	ev := engine.Event{Type: t, ContainerID: m.Actor.ID, Labels: m.Actor.Attributes, Time: time.Unix(0, m.TimeNano)}
	if code, ok := m.Actor.Attributes["exitCode"]; ok {
		for _, c := range code {
			if c < '0' || c > '9' {
				break
			}
			ev.ExitCode = ev.ExitCode*10 + int(c-'0')
		}
	}
	return ev, true
}
