package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/store"
)

// Self-healing on a cluster is the cluster's own: Swarm restarts or
// reschedules a task that fails, by the service's restart_policy. berth
// reports it as on one host: each sync pass (SyncClusterRoutes) compares
// the tasks desired running with the last pass's, asks the cluster how
// each one that left ended, and records an event "replaced" for a task
// that ended by itself (it exited, failed its Compose healthcheck, was
// rejected, or was lost with its node). A task the cluster stopped on
// purpose (a scale-in, a rolling update, a node drain) is not a failure
// and records nothing (issue 15, item 6); neither does one it has
// already deleted (its reaper deletes the tasks a scale-in removed).
// Status counts the tasks it is starting in their place as replacing.

// instanceInspector is a cluster engine that reads one instance, running
// or ended (the Swarm backend).
type instanceInspector interface {
	// InspectInstance returns the instance by ID with how it ended
	// (engine.Instance.Ended); engine.ErrNotFound, wrapped, once the
	// cluster has deleted it.
	InspectInstance(ctx context.Context, id string) (engine.Instance, error)
}

// leftTasks compares the tasks prev (desired running at the last pass)
// with the instances listed now: left are those no longer desired
// running, except the ones the cluster is stopping while they run (it
// chose to: a scale-in, an update, a drain); next are the tasks desired
// running now.
func leftTasks(prev map[string]engine.Instance, now []engine.Instance) (left []engine.Instance, next map[string]engine.Instance) {
	next = map[string]engine.Instance{}
	listed := map[string]engine.Instance{}
	for _, in := range now {
		listed[in.ID] = in
		if in.Desired == engine.DesiredRunning {
			next[in.ID] = in
		}
	}
	for id, p := range prev {
		in, ok := listed[id]
		switch {
		case ok && in.Desired == engine.DesiredRunning:
		case ok && in.State == engine.StateRunning: // stopped on purpose
		default:
			left = append(left, p)
		}
	}
	slices.SortFunc(left, func(a, b engine.Instance) int { return strings.Compare(instanceName(a), instanceName(b)) })
	return left, next
}

// taskEndEvent is the event of task last, which left, from how the
// cluster says it ended (ended, err from InspectInstance); false when it
// did not end by itself.
func taskEndEvent(last, ended engine.Instance, err error, now time.Time) (store.Event, bool) {
	if err != nil {
		return store.Event{}, false // deleted: scaled away; or unknown
	}
	var why string
	switch ended.Ended {
	case "", "shutdown":
		return store.Event{}, false
	case "failed", "complete":
		why = fmt.Sprintf("exited with code %d", ended.ExitCode)
	case "rejected":
		why = "was rejected by its node"
	case "orphaned":
		why = "was lost with its node"
	default:
		why = "ended " + ended.Ended
	}
	if ended.Error != "" {
		why += " (" + ended.Error + ")"
	}
	name := instanceName(last)
	return store.Event{Time: now, Kind: EventReplaced, Service: last.Labels[engine.LabelService], Container: name,
		Release: last.Labels[engine.LabelRelease],
		Message: fmt.Sprintf("task %s %s: Swarm starts a new task in its place (the service's restart_policy)", name, why)}, true
}

// recordTaskEnds records the events of app/env's tasks that ended by
// themselves since the last pass (see above).
func (d *Deployer) recordTaskEnds(ctx context.Context, app, env string, insts []engine.Instance) {
	ii, ok := d.cluster.(instanceInspector)
	if !ok {
		return
	}
	if d.clusterTasks == nil {
		d.clusterTasks = map[[2]string]map[string]engine.Instance{}
	}
	k := [2]string{app, env}
	prev, seen := d.clusterTasks[k]
	left, next := leftTasks(prev, insts)
	d.clusterTasks[k] = next
	if !seen {
		return
	}
	for _, l := range left {
		in, err := ii.InspectInstance(ctx, l.ID)
		e, ok := taskEndEvent(l, in, err, d.now())
		if !ok {
			continue
		}
		if err := d.store.AppendEvent(app, env, e); err != nil {
			d.log.Warn("record event", "app", app, "env", env, "error", err)
			continue
		}
		d.log.Info("task event", "app", app, "env", env, "kind", e.Kind, "task", e.Container, "message", e.Message)
	}
}

// clusterReplacing counts the tasks of the live release (release) a
// cluster is starting for service, up to the replicas it lacks: what
// status shows as replacing.
func clusterReplacing(cs []engine.Container, service, release string, replicas, healthy int) int {
	n := 0
	for _, c := range cs {
		if c.Labels[engine.LabelService] == service && c.Labels[engine.LabelRelease] == release && c.State == engine.StateCreated {
			n++
		}
	}
	return min(n, max(replicas-healthy, 0))
}
