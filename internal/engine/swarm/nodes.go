package swarm

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// ListNodes lists the swarm's nodes, ordered by hostname, with what the
// tasks wanted running on each reserve.
func (b *Backend) ListNodes(ctx context.Context) ([]engine.Node, error) {
	nodes, err := b.cli.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, wrap("list nodes", err)
	}
	tasks, err := b.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, wrap("list tasks", err)
	}
	type use struct {
		cpu, mem int64
		n        int
	}
	used := map[string]*use{}
	for _, t := range tasks {
		if t.NodeID == "" || terminal(t.Status.State) {
			continue
		}
		u := used[t.NodeID]
		if u == nil {
			u = &use{}
			used[t.NodeID] = u
		}
		u.n++
		if r := t.Spec.Resources; r != nil && r.Reservations != nil {
			u.cpu += r.Reservations.NanoCPUs
			u.mem += r.Reservations.MemoryBytes
		}
	}
	out := make([]engine.Node, 0, len(nodes))
	for _, n := range nodes {
		en := engine.Node{
			ID: n.ID, Hostname: n.Description.Hostname, Role: string(n.Spec.Role),
			Availability: engine.Availability(n.Spec.Availability), State: string(n.Status.State),
			EngineVersion: n.Description.Engine.EngineVersion, Addr: nodeAddr(n), Labels: n.Spec.Labels,
			NanoCPUs: n.Description.Resources.NanoCPUs, MemoryBytes: n.Description.Resources.MemoryBytes,
		}
		if m := n.ManagerStatus; m != nil {
			en.Leader = m.Leader
		}
		if u := used[n.ID]; u != nil {
			en.ReservedNanoCPUs, en.ReservedMemoryBytes, en.Tasks = u.cpu, u.mem, u.n
		}
		out = append(out, en)
	}
	slices.SortFunc(out, func(a, b engine.Node) int { return cmp.Compare(a.Hostname, b.Hostname) })
	return out, nil
}

// SetNodeAvailability sets a node's availability (by ID or hostname).
func (b *Backend) SetNodeAvailability(ctx context.Context, node string, a engine.Availability) error {
	switch a {
	case engine.AvailabilityActive, engine.AvailabilityPause, engine.AvailabilityDrain:
	default:
		return fmt.Errorf("swarm: node %s: availability %q: want active, pause or drain", node, a)
	}
	for attempt := 0; ; attempt++ {
		n, _, err := b.cli.NodeInspectWithRaw(ctx, node)
		if err != nil {
			return wrap("inspect node "+node, err)
		}
		if n.Spec.Availability == swarm.NodeAvailability(a) {
			return nil
		}
		spec := n.Spec
		spec.Availability = swarm.NodeAvailability(a)
		err = b.cli.NodeUpdate(ctx, n.ID, n.Version, spec)
		if retryWrite(ctx, err, attempt) {
			continue
		}
		return wrap(fmt.Sprintf("set node %s %s", node, a), err)
	}
}
