package deploy

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// Which tasks Swarm takes away when a replicated service's replicas go
// down, so that berth drains exactly those before Swarm stops them.
//
// Swarm chooses, not berth: there is no call that removes a given task.
// Its replicated orchestrator (swarmkit, manager/orchestrator/replicated,
// services.go and slot.go) orders the service's slots that have runnable
// tasks, running ones first and by slot number (lowest first) among
// them; gives each slot of exactly one task its index among that order's
// slots on the same node (0 for the first on a node, 1 for the second…),
// and a slot of several tasks (mid-update) an index after all others;
// sorts the slots by that index (sort.Sort); keeps the first N and
// removes the rest. So it keeps the tasks spread over the nodes, and
// among equals keeps the lowest slots: removing the highest slots is the
// common case, not the rule (web.1 and web.2 on node1, web.3 on node2,
// scaled to 2, loses web.2). Go's sort.Sort is an insertion sort up to 12
// elements, so up to 12 tasks the choice is exact; past that it follows
// Go's pdqsort, as Docker's does when both are built by a Go of 1.19 or
// later (on the lab's Engine 20.10, 20 → 7 matches with sort.Sort and
// not with a stable sort: TestSwarm_ScaleInPredictsSwarmPast12Tasks).
// Scale verifies what Swarm chose (scale_cluster.go) and takes any other
// task out of rotation the moment Swarm marks it.

// swarmScaleInVictims returns the tasks of one service that Swarm
// removes when its replicas go down to n, in the order above, from the
// service's tasks desired running (engine.Instance with Desired
// DesiredRunning; others are ignored).
func swarmScaleInVictims(tasks []engine.Instance, n int) []engine.Instance {
	bySlot := map[int][]engine.Instance{}
	for _, t := range tasks {
		if t.Desired == engine.DesiredRunning {
			bySlot[t.Slot] = append(bySlot[t.Slot], t)
		}
	}
	slots := make([][]engine.Instance, 0, len(bySlot))
	for _, s := range bySlot {
		slots = append(slots, s)
	}
	if n >= len(slots) {
		return nil
	}
	running := func(s []engine.Instance) bool {
		return slices.ContainsFunc(s, func(t engine.Instance) bool { return t.State == engine.StateRunning })
	}
	// slotsByRunningState: a strict order (slots are unique), so the
	// result is the same whatever the sort.
	slices.SortFunc(slots, func(a, b []engine.Instance) int {
		if ra, rb := running(a), running(b); ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return cmp.Compare(a[0].Slot, b[0].Slot)
	})
	perNode := map[string]int{}
	indexed := make(slotsByNodeIndex, len(slots))
	for i, s := range slots {
		indexed[i] = slotIndex{tasks: s, index: -1}
		if len(s) == 1 {
			indexed[i].index = perNode[nodeKey(s[0])]
			perNode[nodeKey(s[0])]++
		}
	}
	sort.Sort(indexed) // not stable, as Swarm's: see above
	var out []engine.Instance
	for _, s := range indexed[n:] {
		out = append(out, s.tasks...)
	}
	return out
}

func nodeKey(t engine.Instance) string { return cmp.Or(t.NodeID, t.Node) }

type slotIndex struct {
	tasks []engine.Instance
	index int // among its node's slots; -1: several tasks
}

// slotsByNodeIndex sorts as swarmkit's slotsByIndex: by index, the
// slots of several tasks last.
type slotsByNodeIndex []slotIndex

func (s slotsByNodeIndex) Len() int      { return len(s) }
func (s slotsByNodeIndex) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s slotsByNodeIndex) Less(i, j int) bool {
	if s[i].index < 0 && s[j].index >= 0 {
		return false
	}
	if s[j].index < 0 && s[i].index >= 0 {
		return true
	}
	return s[i].index < s[j].index
}

// planClusterScale is planScale on a cluster: each target's service of
// the live release with its new count. The count it runs now (from) is
// the workload's, read by the caller.
func planClusterScale(app *spec.App, rel int64, targets []ScaleTarget) ([]scaleStep, error) {
	var errs []string
	var out []scaleStep
	seen := map[string]bool{}
	for _, t := range targets {
		svc, ok := app.Service(t.Service)
		if !ok {
			names := make([]string, len(app.Services))
			for i, s := range app.Services {
				names[i] = s.Name
			}
			errs = append(errs, fmt.Sprintf("service %q is not in release %d of %s: its services are %s", t.Service, rel, app.Name, strings.Join(names, ", ")))
			continue
		}
		if seen[svc.Name] {
			errs = append(errs, fmt.Sprintf("service %q is named twice: give it one count", svc.Name))
			continue
		}
		seen[svc.Name] = true
		// Swarm publishes a service's ports for all its tasks: the
		// one-host refusal of ports does not apply.
		check := *svc
		check.Ports = nil
		if why := scaleRefusal(app, check, t.Replicas); why != "" {
			errs = append(errs, fmt.Sprintf("service %q: %s", svc.Name, why))
			continue
		}
		st := scaleStep{svc: *svc, from: svc.Replicas, to: t.Replicas}
		st.svc.Replicas = t.Replicas
		out = append(out, st)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return out, nil
}
