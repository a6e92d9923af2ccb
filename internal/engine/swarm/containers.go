package swarm

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/berth-dev/berth/internal/engine"
)

// startTimeout bounds how long CreateContainer and StartContainer wait
// for the task to run (scheduling, image pull, start, health check).
const startTimeout = 2 * time.Minute

// CreateContainer creates a service of one replica named s.Name and waits
// until its task runs; the returned container's ID is the service's. When
// the task fails, the service is left for the caller to read logs from
// and remove; when its image is missing everywhere, it is removed and the
// error wraps engine.ErrImageNotFound.
func (b *Backend) CreateContainer(ctx context.Context, s engine.ContainerSpec) (engine.Container, error) {
	if len(s.Files) > 0 {
		return engine.Container{}, fmt.Errorf("swarm: create service %s: %d secret or config file(s): a one-off task on a Swarm cluster does not mount Compose secrets or configs yet; run the command in a service that does (berth run on one host mounts them)", s.Name, len(s.Files))
	}
	if svc, _, err := b.cli.ServiceInspectWithRaw(ctx, s.Name, swarm.ServiceInspectOptions{}); err == nil {
		if err := b.ownService(svc); err != nil {
			return engine.Container{}, err
		}
		return engine.Container{}, fmt.Errorf("swarm: create service %s: %w: a service of that name exists", s.Name, engine.ErrConflict)
	}
	ref, id := b.resolveImage(ctx, s.Image)
	replicas := uint64(1)
	if s.NoStart {
		replicas = 0
	}
	s.Labels = b.stamp(s.Labels)
	spec := serviceSpec(s.Name, s, ref, id, replicas)
	resp, err := b.cli.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{})
	if err != nil {
		if strings.Contains(err.Error(), "already exists") || strings.Contains(err.Error(), "name conflicts") {
			return engine.Container{}, fmt.Errorf("swarm: create service %s: %w: %v", s.Name, engine.ErrConflict, err)
		}
		return engine.Container{}, wrap("create service "+s.Name, err)
	}
	if s.NoStart {
		return b.InspectContainer(ctx, resp.ID)
	}
	c, err := b.waitRunning(ctx, resp.ID, s.RestartPolicy == "no")
	if err != nil && imageMissing(c.Error) {
		_ = b.removeService(context.WithoutCancel(ctx), resp.ID)
		return engine.Container{}, fmt.Errorf("swarm: create service %s: image %s: %w: %s", s.Name, s.Image, engine.ErrImageNotFound, c.Error)
	}
	return c, err
}

// ranToItsEnd reports whether an ended task's error (its status's Err)
// says its command ran and exited, rather than that it never started.
func ranToItsEnd(taskErr string) bool {
	return taskErr == "" || strings.HasPrefix(taskErr, "task: non-zero exit")
}

func imageMissing(taskErr string) bool {
	e := strings.ToLower(taskErr)
	return strings.Contains(e, "no such image") || strings.Contains(e, "pull access denied") || strings.Contains(e, "manifest unknown")
}

// waitRunning polls until the service's newest task runs, or has ended.
// With oneOff (a command that is not restarted: berth run, a release
// command, a job's run) a task that ran its command and exited, with any
// exit code, is not an error: the command may end before a poll sees it
// run, as a container's may end right after docker start returns.
func (b *Backend) waitRunning(ctx context.Context, id string, oneOff bool) (engine.Container, error) {
	var c engine.Container
	err := b.every(ctx, startTimeout, "task of "+id+" running", func() (bool, error) {
		var err error
		if c, err = b.InspectContainer(ctx, id); err != nil {
			return false, err
		}
		if c.State == engine.StateExited && oneOff && ranToItsEnd(c.Error) {
			return true, nil
		}
		if c.State == engine.StateExited {
			msg := c.Error
			if msg == "" {
				msg = fmt.Sprintf("exited with code %d", c.ExitCode)
			}
			return false, fmt.Errorf("swarm: start service %s: its task ended: %s", c.Name, msg)
		}
		return c.Running(), nil
	})
	return c, err
}

// StartContainer scales a service created with NoStart (or stopped) to
// one replica and waits until its task runs.
func (b *Backend) StartContainer(ctx context.Context, id string) error {
	if err := b.updateService(ctx, id, func(s *swarm.ServiceSpec) bool {
		one := uint64(1)
		delete(s.Labels, labelStopped)
		s.Mode.Replicated.Replicas = &one
		return true
	}); err != nil {
		return err
	}
	_, err := b.waitRunning(ctx, id, false)
	return err
}

// updateService applies change to the service's current spec (retrying
// when another writer got in first); change returns false when there is
// nothing to do.
func (b *Backend) updateService(ctx context.Context, id string, change func(*swarm.ServiceSpec) bool) error {
	for attempt := 0; ; attempt++ {
		svc, err := b.inspectOwn(ctx, id)
		if err != nil {
			return err
		}
		spec := svc.Spec
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		if !change(&spec) {
			return nil
		}
		_, err = b.cli.ServiceUpdate(ctx, svc.ID, svc.Version, spec, swarm.ServiceUpdateOptions{})
		if retryWrite(ctx, err, attempt) {
			continue
		}
		return wrap("update service "+svc.Spec.Name, err)
	}
}

// InspectContainer describes a one-replica service by its ID or name.
func (b *Backend) InspectContainer(ctx context.Context, id string) (engine.Container, error) {
	svc, err := b.inspectOwn(ctx, id)
	if err != nil {
		return engine.Container{}, err
	}
	tasks, err := b.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", svc.ID))})
	if err != nil {
		return engine.Container{}, wrap("list tasks of "+id, err)
	}
	own := tasks[:0]
	for _, t := range tasks { // the filter also matches name prefixes
		if t.ServiceID == svc.ID {
			own = append(own, t)
		}
	}
	return containerOf(svc, own), nil
}

// ListContainers lists services whose labels match, as containers.
func (b *Backend) ListContainers(ctx context.Context, labels map[string]string) ([]engine.Container, error) {
	svcs, tasks, err := b.services(ctx, labels)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Container, 0, len(svcs))
	for _, s := range svcs {
		out = append(out, containerOf(s, tasks[s.ID]))
	}
	return out, nil
}

// services lists the services whose labels match and their tasks,
// leaving out another berth server's (owner.go).
func (b *Backend) services(ctx context.Context, labels map[string]string) ([]swarm.Service, map[string][]swarm.Task, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	all, err := b.cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: f})
	if err != nil {
		return nil, nil, wrap("list services", err)
	}
	svcs := all[:0]
	for _, s := range all {
		if b.foreign(s.Spec.Labels) == "" {
			svcs = append(svcs, s)
		}
	}
	if len(svcs) == 0 {
		return nil, nil, nil
	}
	tf := filters.NewArgs()
	for _, s := range svcs {
		tf.Add("service", s.ID)
	}
	tasks, err := b.cli.TaskList(ctx, swarm.TaskListOptions{Filters: tf})
	if err != nil {
		return nil, nil, wrap("list tasks", err)
	}
	return svcs, byService(tasks), nil
}

// StopContainer scales the service to zero and waits until its task has
// ended. Swarm stops a task with the grace period of the spec it was
// created from, so grace applies only through ContainerSpec.StopGrace.
// Stopping a stopped or missing service is not an error.
func (b *Backend) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	err := b.updateService(ctx, id, func(s *swarm.ServiceSpec) bool {
		if s.Mode.Replicated == nil || s.Labels[labelStopped] == "true" {
			return false
		}
		zero := uint64(0)
		s.Mode.Replicated.Replicas = &zero
		s.Labels[labelStopped] = "true"
		return true
	})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	err = b.every(ctx, grace+30*time.Second, "stop of "+id, func() (bool, error) {
		c, err := b.InspectContainer(ctx, id)
		if isNotFound(err) {
			return true, nil
		}
		return err == nil && c.State == engine.StateExited, err
	})
	return err
}

// RemoveContainer stops the service's task (with its grace period) and
// removes the service once its tasks have settled (see remove.go).
// Removing a missing service is not an error.
func (b *Backend) RemoveContainer(ctx context.Context, id string) error {
	return b.removeService(ctx, id)
}

// SetRestartPolicy changes the service's restart condition. Unlike a
// container's, a service's task is replaced (restarted) by the change.
func (b *Backend) SetRestartPolicy(ctx context.Context, id, policy string) error {
	return b.updateService(ctx, id, func(s *swarm.ServiceSpec) bool {
		want := restartCondition(policy)
		rp := s.TaskTemplate.RestartPolicy
		if rp == nil {
			rp = &swarm.RestartPolicy{}
			s.TaskTemplate.RestartPolicy = rp
		}
		if rp.Condition == want {
			return false
		}
		rp.Condition = want
		return true
	})
}

// Logs returns the service's logs (all its tasks), demultiplexed. With
// Follow, the reader ends shortly after the service stops running.
func (b *Backend) Logs(ctx context.Context, id string, o engine.LogOptions) (io.ReadCloser, error) {
	c, err := b.InspectContainer(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", id, err)
	}
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: o.Follow && c.Running(), Timestamps: o.Timestamps}
	if o.Tail > 0 {
		opts.Tail = strconv.Itoa(o.Tail)
	}
	if !o.Since.IsZero() {
		opts.Since = o.Since.Format(time.RFC3339Nano)
	}
	lctx, cancel := context.WithCancel(ctx)
	rc, err := b.cli.ServiceLogs(lctx, c.ID, opts)
	if err != nil {
		cancel()
		return nil, wrap("logs of "+id, err)
	}
	if opts.Follow {
		go func() { // Swarm keeps following a stopped service: end it.
			tick := time.NewTicker(b.poll)
			defer tick.Stop()
			for {
				select {
				case <-lctx.Done():
					return
				case <-tick.C:
				}
				if c, err := b.InspectContainer(lctx, id); err == nil && c.Running() {
					continue
				}
				select {
				case <-time.After(500 * time.Millisecond): // the last lines
				case <-lctx.Done():
				}
				cancel()
				return
			}
		}()
	}
	pr, pw := io.Pipe()
	go func() {
		defer cancel()
		var err error
		if tty(ctx, b, c.ID) {
			_, err = io.Copy(pw, rc)
		} else {
			_, err = stdcopy.StdCopy(pw, pw, rc)
		}
		rc.Close()
		if lctx.Err() != nil && ctx.Err() == nil {
			err = nil // ended by the service stopping
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

func tty(ctx context.Context, b *Backend, id string) bool {
	svc, _, err := b.cli.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
	return err == nil && svc.Spec.TaskTemplate.ContainerSpec != nil && svc.Spec.TaskTemplate.ContainerSpec.TTY
}

// Attach is not possible through a manager: a task's streams live on its
// node's engine.
func (b *Backend) Attach(ctx context.Context, id string) (engine.Attachment, error) {
	return nil, fmt.Errorf("swarm: attach to %s: %w: a task's standard streams are only reachable on its node", id, ErrUnsupported)
}

// ResizeTTY is not possible through a manager (see Attach).
func (b *Backend) ResizeTTY(ctx context.Context, id string, rows, cols uint) error {
	return fmt.Errorf("swarm: resize terminal of %s: %w", id, ErrUnsupported)
}
