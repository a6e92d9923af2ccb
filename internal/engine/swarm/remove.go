package swarm

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// Removing a service safely.
//
// Engine 20.10's swarmkit panics (nil pointer in
// orchestrator.SetServiceTasksRemove, service.go:78) and takes the
// manager's dockerd down with it when a service is removed while the task
// reaper is deleting one of its tasks: the orchestrator lists the removed
// service's tasks, the reaper deletes one, and the orchestrator's update
// of that task then reads it back as nil. The reaper deletes a task when
// its desired state is "remove" and it has shut down (a slot scaled away:
// StopContainer, ScaleWorkload to fewer replicas) and when a slot's task
// history grows past the retention limit (a task replaced by a restart
// or an update). The window is some milliseconds, and the contract's
// "stop, then remove" hits it.
//
// So removeService never removes a service while its tasks are moving:
// it scales a replicated service to zero, waits until every task has
// ended and none is still waiting for the reaper (desired state
// "remove"), and until the task list has held still across two polls at
// least reaperQuiet apart (the reaper batches its deletions every
// 250ms); only then does it call ServiceRemove. Concurrent removals of
// one service share one attempt. When the tasks do not settle within
// settleTimeout (a node down holding a task), it removes anyway.

const (
	reaperQuiet   = 600 * time.Millisecond
	settleTimeout = 45 * time.Second
)

// removals makes concurrent removals of one service share one attempt.
type removals struct {
	mu      sync.Mutex
	pending map[string]*removal
}

type removal struct {
	done chan struct{}
	err  error
}

// removeService removes a service (by name or ID) as described above. A
// missing service is not an error.
func (b *Backend) removeService(ctx context.Context, ref string) error {
	svc, _, err := b.cli.ServiceInspectWithRaw(ctx, ref, swarm.ServiceInspectOptions{})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap("inspect service "+ref, err)
	}
	if err := b.ownService(svc); err != nil {
		return err
	}
	b.rm.mu.Lock()
	if b.rm.pending == nil {
		b.rm.pending = map[string]*removal{}
	}
	if r, ok := b.rm.pending[svc.ID]; ok {
		b.rm.mu.Unlock()
		select {
		case <-r.done:
			return r.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r := &removal{done: make(chan struct{})}
	b.rm.pending[svc.ID] = r
	b.rm.mu.Unlock()
	defer func() {
		b.rm.mu.Lock()
		delete(b.rm.pending, svc.ID)
		b.rm.mu.Unlock()
		close(r.done)
	}()
	r.err = b.settleAndRemove(ctx, svc)
	return r.err
}

func (b *Backend) settleAndRemove(ctx context.Context, svc swarm.Service) error {
	name := svc.Spec.Name
	if rep := svc.Spec.Mode.Replicated; rep != nil && (rep.Replicas == nil || *rep.Replicas > 0) {
		err := b.updateService(ctx, svc.ID, func(s *swarm.ServiceSpec) bool {
			if s.Mode.Replicated == nil || (s.Mode.Replicated.Replicas != nil && *s.Mode.Replicated.Replicas == 0) {
				return false
			}
			zero := uint64(0)
			s.Mode.Replicated.Replicas = &zero
			return true
		})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	grace := 10 * time.Second
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil && cs.StopGracePeriod != nil {
		grace = *cs.StopGracePeriod
	}
	var last []string
	var lastAt time.Time
	err := b.every(ctx, grace+settleTimeout, "tasks of "+name+" to settle before removal", func() (bool, error) {
		tasks, err := b.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", svc.ID))})
		if err != nil {
			return false, wrap("list tasks of "+name, err)
		}
		ids := []string{}
		for _, t := range tasks {
			if t.ServiceID != svc.ID {
				continue
			}
			if !terminal(t.Status.State) || t.DesiredState == swarm.TaskStateRemove {
				last = nil // still moving
				return false, nil
			}
			ids = append(ids, t.ID+string(t.Status.State))
		}
		slices.Sort(ids)
		if last == nil || !slices.Equal(ids, last) {
			last, lastAt = ids, time.Now()
			return false, nil
		}
		return time.Since(lastAt) >= reaperQuiet, nil
	})
	if err != nil && ctx.Err() == nil {
		b.log.Warn("removing a service whose tasks did not settle", "service", name, "error", err)
	} else if err != nil {
		return err
	}
	if err := b.cli.ServiceRemove(ctx, svc.ID); err != nil && !isNotFound(err) {
		return wrap("remove service "+name, err)
	}
	return nil
}
