package swarm

import (
	"cmp"
	"context"
	"net"
	"slices"
	"strconv"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// tasksOf lists one service's tasks (the service filter also matches
// name prefixes, so they are checked).
func (b *Backend) tasksOf(ctx context.Context, id string) ([]swarm.Task, error) {
	tasks, err := b.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", id))})
	if err != nil {
		return nil, wrap("list tasks of "+id, err)
	}
	own := tasks[:0]
	for _, t := range tasks {
		if t.ServiceID == id {
			own = append(own, t)
		}
	}
	return own, nil
}

// ListInstances lists the tasks desired to run, or still running, of the
// services whose labels match, ordered by service name and slot. Each
// carries the address the proxy dials: its node's address and the port
// Swarm published the service's port on for that task.
func (b *Backend) ListInstances(ctx context.Context, labels map[string]string) ([]engine.Instance, error) {
	svcs, tasks, err := b.services(ctx, labels)
	if err != nil || len(svcs) == 0 {
		return nil, err
	}
	nodes, err := b.cli.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, wrap("list nodes", err)
	}
	byID := make(map[string]swarm.Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	var out []engine.Instance
	for _, s := range svcs {
		for _, t := range tasks[s.ID] {
			if t.DesiredState != swarm.TaskStateRunning && t.Status.State != swarm.TaskStateRunning {
				continue
			}
			out = append(out, instanceOf(s, t, byID[t.NodeID]))
		}
	}
	slices.SortFunc(out, func(a, b engine.Instance) int {
		return cmp.Or(cmp.Compare(a.WorkloadName, b.WorkloadName), cmp.Compare(a.Slot, b.Slot), a.Since.Compare(b.Since))
	})
	return out, nil
}

func instanceOf(s swarm.Service, t swarm.Task, n swarm.Node) engine.Instance {
	in := engine.Instance{
		ID: t.ID, WorkloadID: s.ID, WorkloadName: s.Spec.Name, Slot: t.Slot, NodeID: t.NodeID,
		Node: n.Description.Hostname, State: taskState(t.Status.State), Desired: desired(t.DesiredState),
		Error: t.Status.Err, Since: t.Status.Timestamp, Addresses: addresses(&t),
	}
	if cs := t.Spec.ContainerSpec; cs != nil {
		in.Image, in.Labels = cs.Image, cs.Labels
		if hc := cs.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
			switch t.Status.State {
			case swarm.TaskStateStarting:
				in.Health = "starting"
			case swarm.TaskStateRunning:
				in.Health = "healthy"
			}
		}
	}
	if cst := t.Status.ContainerStatus; cst != nil {
		in.ExitCode = cst.ExitCode
	}
	if terminal(t.Status.State) {
		in.Ended = string(t.Status.State)
		if t.Status.State == swarm.TaskStateRemove {
			in.Ended = string(swarm.TaskStateShutdown)
		}
	}
	if t.Status.State == swarm.TaskStateRunning {
		if host := nodeAddr(n); host != "" {
			if p := proxyPort(s, t, in.Labels[engine.LabelProxyPort]); p != 0 {
				in.Addr = net.JoinHostPort(host, strconv.Itoa(int(p)))
			}
		}
	}
	return in
}

// InspectInstance returns one task, running or ended, by ID: how a task
// that left ListInstances ended (Instance.Ended). engine.ErrNotFound,
// wrapped, once Swarm has deleted it (its task reaper deletes a task
// scaled away once it has shut down, and old tasks past the history
// limit).
func (b *Backend) InspectInstance(ctx context.Context, id string) (engine.Instance, error) {
	t, _, err := b.cli.TaskInspectWithRaw(ctx, id)
	if err != nil {
		return engine.Instance{}, wrap("inspect task "+id, err)
	}
	svc, err := b.inspectOwn(ctx, t.ServiceID)
	if err != nil {
		return engine.Instance{}, err
	}
	var n swarm.Node
	if t.NodeID != "" {
		n, _, _ = b.cli.NodeInspectWithRaw(ctx, t.NodeID) // without it: no hostname
	}
	return instanceOf(svc, t, n), nil
}

func desired(st swarm.TaskState) engine.DesiredState {
	switch st {
	case swarm.TaskStateRunning, swarm.TaskStateReady, swarm.TaskStateNew, swarm.TaskStatePending,
		swarm.TaskStateAssigned, swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateStarting:
		return engine.DesiredRunning
	case swarm.TaskStateRemove:
		return engine.DesiredRemove
	}
	return engine.DesiredShutdown
}

// nodeAddr is the address a node's published ports answer on: its
// status address, or its manager address when the status shows none.
func nodeAddr(n swarm.Node) string {
	if a := n.Status.Addr; a != "" && a != "0.0.0.0" {
		return a
	}
	if m := n.ManagerStatus; m != nil && m.Addr != "" {
		if h, _, err := net.SplitHostPort(m.Addr); err == nil {
			return h
		}
	}
	return ""
}
