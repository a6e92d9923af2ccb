package swarm

import (
	"context"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// observed is what Watch last saw of one service.
type observed struct {
	state  engine.State
	task   string // newest task ID
	exit   int    // its exit code, once it has one
	labels map[string]string
}

// Watch reports changes to berth-managed services as container events.
// Swarm's API has no task events (only its nodes' engines have container
// events), so Watch polls the services and their tasks, like traefik's
// Swarm provider: the first listing is taken before Watch returns, so a
// service created afterwards is always reported. A new running task
// reports EventStart; a task that ends, EventDie with its exit code; a
// service that disappears, EventDestroy. After a failed poll it backs off,
// and sends EventResync once polls succeed again. A change that comes and
// goes between two polls (PollInterval) is not seen.
func (b *Backend) Watch(ctx context.Context) <-chan engine.Event {
	out := make(chan engine.Event, 64)
	seen, err := b.snapshot(ctx)
	resync := err != nil
	go func() {
		defer close(out)
		backoff := b.poll
		for {
			wait := b.poll
			if resync {
				wait = backoff
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			now, err := b.snapshot(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if !resync {
					b.log.Warn("swarm poll failed; retrying", "error", err)
				}
				resync, backoff = true, min(backoff*2, 10*time.Second)
				continue
			}
			var evs []engine.Event
			if resync {
				evs = append(evs, engine.Event{Type: engine.EventResync, Time: time.Now()})
				resync, backoff = false, b.poll
			}
			evs = append(evs, diff(seen, now)...)
			seen = now
			for _, ev := range evs {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// snapshot lists berth-managed services as observed states, keyed by ID.
func (b *Backend) snapshot(ctx context.Context) (map[string]observed, error) {
	svcs, tasks, err := b.services(ctx, map[string]string{engine.LabelManaged: "true"})
	if err != nil {
		return nil, err
	}
	out := make(map[string]observed, len(svcs))
	for _, s := range svcs {
		c := containerOf(s, tasks[s.ID])
		o := observed{state: c.State, labels: c.Labels}
		if t := newest(tasks[s.ID]); t != nil {
			o.task = t.ID
			if cst := t.Status.ContainerStatus; cst != nil {
				o.exit = cst.ExitCode
			}
		}
		out[s.ID] = o
	}
	return out, nil
}

// diff turns two snapshots into events, in a stable order per service.
func diff(before, after map[string]observed) []engine.Event {
	var evs []engine.Event
	now := time.Now()
	ev := func(t engine.EventType, id string, o observed) engine.Event {
		return engine.Event{Type: t, ContainerID: id, Time: now, Labels: o.labels, ExitCode: o.exit}
	}
	for id, a := range after {
		p, had := before[id]
		wasRunning := had && p.state == engine.StateRunning
		switch {
		case a.state == engine.StateRunning && (!wasRunning || p.task != a.task):
			if wasRunning { // replaced between polls: the old task died
				evs = append(evs, ev(engine.EventDie, id, p))
			}
			evs = append(evs, ev(engine.EventStart, id, a))
		case wasRunning && a.state != engine.StateRunning:
			evs = append(evs, ev(engine.EventDie, id, a))
		}
	}
	for id, p := range before {
		if _, ok := after[id]; !ok {
			if p.state == engine.StateRunning {
				evs = append(evs, ev(engine.EventDie, id, p))
			}
			evs = append(evs, ev(engine.EventDestroy, id, p))
		}
	}
	return evs
}
