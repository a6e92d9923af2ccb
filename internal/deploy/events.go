package deploy

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/store"
)

// RecordEvent keeps what happens to the containers of a live release
// outside deployments (crashes, OOM kills, restarts) in the app
// environment's event log. Deployments' own starts and stops, one-off
// containers and app environments of other servers are not recorded.
func (d *Deployer) RecordEvent(ctx context.Context, ev engine.Event) {
	app, env := ev.Labels[engine.LabelApp], ev.Labels[engine.LabelEnv]
	if app == "" || env == "" || ev.Labels[LabelOneOff] == "true" {
		return
	}
	if d.cluster != nil && (ev.Type == engine.EventDie || ev.Type == engine.EventStart) {
		// A cluster engine's events are per service (its newest task),
		// which says nothing of which of its tasks ended or why: task
		// ends are recorded from the tasks themselves (cluster_events.go).
		return
	}
	if d.retiringOwns(ev.ContainerID) {
		return // an old release's container its retirement stops (after a rollback, its release may be live again)
	}
	live, err := d.store.LiveRelease(app, env)
	if err != nil {
		return // not ours, or nothing live
	}
	svcName := ev.Labels[engine.LabelService]
	svc, ok := live.Spec.Service(svcName)
	if !ok || (ev.Labels[engine.LabelRelease] != releaseLabel(live.ID) && !svc.Stateful) {
		return // a container a deployment is replacing
	}
	if ev.Type == engine.EventDie || ev.Type == engine.EventDestroy || ev.Type == engine.EventHealth {
		d.pokeHeal(app, env) // the healer looks at once
	}
	name := ev.Labels["name"]
	e := store.Event{Time: ev.Time, Service: svcName, Container: name, Release: ev.Labels[engine.LabelRelease]}
	switch ev.Type {
	case engine.EventOOM:
		e.Kind = "oom"
		e.Message = fmt.Sprintf("container %s was killed for running out of memory", name)
		if svc.MemoryBytes > 0 {
			e.Message += fmt.Sprintf(" (limit %d MiB: raise deploy.resources.limits.memory)", svc.MemoryBytes>>20)
		}
	case engine.EventDie:
		e.Kind = "died"
		e.Message = fmt.Sprintf("container %s exited with code %d", name, ev.ExitCode)
		if c, err := d.eng.InspectContainer(ctx, ev.ContainerID); err == nil && c.OOMKilled {
			e.Message += " (OOM-killed)"
		}
	case engine.EventStart:
		c, err := d.eng.InspectContainer(ctx, ev.ContainerID)
		if err != nil || c.RestartCount == 0 {
			return // a first start is a deployment's doing
		}
		e.Kind = "restarted"
		e.Message = fmt.Sprintf("container %s restarted by the engine (restart %d)", name, c.RestartCount)
	default:
		return
	}
	if err := d.store.AppendEvent(app, env, e); err != nil {
		d.log.Warn("record event", "app", app, "env", env, "error", err)
		return
	}
	d.log.Info("container event", "app", app, "env", env, "kind", e.Kind, "container", name, "message", e.Message)
}

// Events lists app/env's recorded events, newest first.
func (d *Deployer) Events(app, env string, limit int) ([]store.Event, error) {
	return d.store.ListEvents(app, env, limit)
}
