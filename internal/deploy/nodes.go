package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// ErrNotCluster is returned (wrapped) by cluster operations when berth
// runs on a single Docker host.
var ErrNotCluster = errors.New("not a cluster")

// ErrStillRunning is returned (wrapped) when a drained node still runs
// tasks at the end of the wait.
var ErrStillRunning = errors.New("tasks still run on the node")

// Node is one machine of the cluster, as berth nodes shows it.
type Node struct {
	ID            string            `json:"id"`
	Hostname      string            `json:"hostname"`
	Role          string            `json:"role"`
	Leader        bool              `json:"leader,omitempty"`
	Availability  string            `json:"availability"`
	State         string            `json:"state"`
	EngineVersion string            `json:"engine_version"`
	Addr          string            `json:"addr"`
	Labels        map[string]string `json:"labels,omitempty"`
	NanoCPUs      int64             `json:"nano_cpus"`
	MemoryBytes   int64             `json:"memory_bytes"`
	ReservedCPUs  int64             `json:"reserved_nano_cpus"`
	ReservedMem   int64             `json:"reserved_memory_bytes"`
	Tasks         int               `json:"tasks"`
}

// NodeChange is the outcome of draining, pausing or activating a node.
type NodeChange struct {
	Node         string        `json:"node"`
	Availability string        `json:"availability"`
	Took         time.Duration `json:"took"`
	// Moved are the berth tasks that left the node (drain), as
	// "service.slot@from → to".
	Moved []string `json:"moved,omitempty"`
	// Remaining counts berth tasks still on the node when the wait ended.
	Remaining int `json:"remaining"`
}

func (d *Deployer) workloads() (engine.Workloads, error) {
	w := d.cluster
	if w == nil {
		return nil, fmt.Errorf("%w: this berth server runs on one Docker host; start it with --engine swarm against a Swarm manager to manage nodes", ErrNotCluster)
	}
	return w, nil
}

// Nodes lists the cluster's nodes.
func (d *Deployer) Nodes(ctx context.Context) ([]Node, error) {
	w, err := d.workloads()
	if err != nil {
		return nil, err
	}
	ns, err := w.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(ns))
	for _, n := range ns {
		out = append(out, Node{ID: n.ID, Hostname: n.Hostname, Role: n.Role, Leader: n.Leader, Availability: string(n.Availability),
			State: n.State, EngineVersion: n.EngineVersion, Addr: n.Addr, Labels: n.Labels, NanoCPUs: n.NanoCPUs, MemoryBytes: n.MemoryBytes,
			ReservedCPUs: n.ReservedNanoCPUs, ReservedMem: n.ReservedMemoryBytes, Tasks: n.Tasks})
	}
	return out, nil
}

// SetNodeAvailability drains, pauses or activates node. A drain waits
// (up to wait) until no berth task runs there any more, while the routes
// follow the tasks to their new nodes (SyncClusterRoutes), and reports
// which tasks moved where.
func (d *Deployer) SetNodeAvailability(ctx context.Context, node, availability string, wait time.Duration) (NodeChange, error) {
	w, err := d.workloads()
	if err != nil {
		return NodeChange{}, err
	}
	a := engine.Availability(availability)
	if !slices.Contains([]engine.Availability{engine.AvailabilityActive, engine.AvailabilityPause, engine.AvailabilityDrain}, a) {
		return NodeChange{}, fmt.Errorf("%w: availability %q: use drain, pause or active", ErrInvalid, availability)
	}
	start := d.now()
	ch := NodeChange{Node: node, Availability: availability}
	before, err := w.ListInstances(ctx, map[string]string{engine.LabelManaged: "true"})
	if err != nil {
		return ch, err
	}
	onNode := func(in engine.Instance) bool { return in.Node == node || in.NodeID == node }
	if err := w.SetNodeAvailability(ctx, node, a); err != nil {
		return ch, err
	}
	if a != engine.AvailabilityDrain {
		ch.Took = d.now().Sub(start)
		return ch, nil
	}
	leaving := map[string]engine.Instance{} // by workload/slot
	for _, in := range before {
		if onNode(in) && in.Desired == engine.DesiredRunning {
			leaving[in.WorkloadName+"/"+fmt.Sprint(in.Slot)] = in
		}
	}
	tick := time.NewTicker(clusterPollInterval)
	defer tick.Stop()
	deadline := start.Add(wait)
	for {
		insts, err := w.ListInstances(ctx, map[string]string{engine.LabelManaged: "true"})
		if err != nil {
			return ch, err
		}
		remaining := 0
		for _, in := range insts {
			if onNode(in) && (in.Desired == engine.DesiredRunning || in.State == engine.StateRunning) {
				remaining++
			}
		}
		for key, old := range leaving {
			for _, in := range insts {
				if in.WorkloadName+"/"+fmt.Sprint(in.Slot) == key && !onNode(in) && in.Serving() {
					ch.Moved = append(ch.Moved, fmt.Sprintf("%s → %s", instanceName(old), in.Node))
					delete(leaving, key)
					break
				}
			}
		}
		ch.Remaining, ch.Took = remaining, d.now().Sub(start)
		if remaining == 0 && len(leaving) == 0 {
			slices.Sort(ch.Moved)
			return ch, nil
		}
		if d.now().After(deadline) {
			return ch, fmt.Errorf("node %s is draining but %w after %s (%d): berth nodes shows where they are (a constraint may pin them to it)", node, ErrStillRunning, wait, remaining)
		}
		select {
		case <-ctx.Done():
			return ch, ctx.Err()
		case <-tick.C:
		}
	}
}
