// Package reconcile keeps running apps converged with the store when
// containers change under berth: it watches the engine's events and
// resyncs everything periodically, asking deploy to converge; on a
// cluster it also keeps the routes on the tasks (FollowCluster).
//
// Invariants:
//   - Events are coalesced per app environment (debounced, latest wins)
//     and converged one at a time on the loop's goroutine.
//   - A full resync runs at start, after the event stream reconnects, and
//     every Resync interval, so a missed event is never fatal.
//   - On a cluster, FollowCluster polls the tasks (Swarm's events do not
//     say where a task moved) and asks deploy to point each live route at
//     its instances; a failing run of passes is logged once.
package reconcile

import (
	"context"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// Converger brings an app environment in line with its live release.
type Converger interface {
	// Converge converges one app environment.
	Converge(ctx context.Context, app, env string) error
	// ConvergeAll converges every app environment berth knows.
	ConvergeAll(ctx context.Context) error
}

// Options configures the loop.
type Options struct {
	Engine    engine.Engine
	Converger Converger
	Logger    *slog.Logger
	// Resync is the full resync period (default 30s).
	Resync time.Duration
	// Debounce coalesces bursts of events (default 250ms).
	Debounce time.Duration
	// OnEvent, when set, sees every container event as it arrives.
	OnEvent func(context.Context, engine.Event)
	// Prune, when set, runs every PruneEvery (default 24h): the daily
	// clean-up of old images and stopped one-off containers.
	Prune      func(context.Context)
	PruneEvery time.Duration
}

// Run watches and converges until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Resync <= 0 {
		o.Resync = 30 * time.Second
	}
	if o.Debounce <= 0 {
		o.Debounce = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	log := o.Logger.With("component", "reconcile")
	events := o.Engine.Watch(ctx)
	resync := time.NewTicker(o.Resync)
	defer resync.Stop()
	if o.PruneEvery <= 0 {
		o.PruneEvery = 24 * time.Hour
	}
	var prune <-chan time.Time
	if o.Prune != nil {
		t := time.NewTicker(o.PruneEvery)
		defer t.Stop()
		prune = t.C
	}

	// Everything runs on this goroutine: events mark app environments
	// dirty, and one debounce timer converges all dirty ones at once.
	dirty := map[[2]string]bool{}
	var debounce <-chan time.Time
	all := func() {
		if err := o.Converger.ConvergeAll(ctx); err != nil && ctx.Err() == nil {
			log.Warn("resync", "error", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-resync.C:
			all()
		case <-prune:
			o.Prune(ctx)
		case <-debounce:
			debounce = nil
			for key := range dirty {
				delete(dirty, key)
				if err := o.Converger.Converge(ctx, key[0], key[1]); err != nil && ctx.Err() == nil {
					log.Warn("converge", "app", key[0], "env", key[1], "error", err)
				}
			}
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if ev.Type == engine.EventResync {
				all()
				continue
			}
			if o.OnEvent != nil {
				o.OnEvent(ctx, ev)
			}
			key := [2]string{ev.Labels[engine.LabelApp], ev.Labels[engine.LabelEnv]}
			if key[0] == "" || key[1] == "" {
				continue
			}
			dirty[key] = true
			if debounce == nil {
				debounce = time.After(o.Debounce)
			}
		}
	}
}
