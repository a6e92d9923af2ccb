package enginetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/berth-dev/berth/internal/engine"
)

// The Fake's engine.Workloads: workloads roll out at once (every call
// leaves them settled), instances are spread round-robin over the active
// nodes (three by default, node1 a manager), and nothing listens at an
// instance's Addr unless the test says where (SetInstanceAddr). A test
// makes the next rollout of a workload fail with FailNextRollout.

var _ engine.Workloads = (*Fake)(nil)

type workState struct {
	workloads map[string]*fakeWorkload // by name
	secrets   map[string]fakeSecret    // by name
	configs   map[string][]byte        // by name
	nodes     []engine.Node
	addr      func(spec engine.WorkloadSpec, slot int) string
	failNext  map[string]string // workload name → why its next rollout fails
	port      int
}

type fakeWorkload struct {
	id        string
	spec      engine.WorkloadSpec
	previous  *engine.WorkloadSpec
	status    engine.WorkloadStatus
	instances []engine.Instance
}

type fakeSecret struct {
	engine.Secret
	data []byte
}

// initLocked creates the workload state on first use.
func (f *Fake) workLocked() *workState {
	w := &f.work
	if w.workloads == nil {
		w.workloads = map[string]*fakeWorkload{}
		w.secrets = map[string]fakeSecret{}
		w.configs = map[string][]byte{}
		w.failNext = map[string]string{}
		w.port = 30000
		for i := 1; i <= 3; i++ {
			role := "worker"
			if i == 1 {
				role = "manager"
			}
			w.nodes = append(w.nodes, engine.Node{ID: "fakenode" + strconv.Itoa(i), Hostname: "node" + strconv.Itoa(i),
				Role: role, Leader: i == 1, Availability: engine.AvailabilityActive, State: "ready", EngineVersion: "fake",
				Addr: "127.88.0." + strconv.Itoa(i), NanoCPUs: 2e9, MemoryBytes: 4 << 30})
		}
	}
	return w
}

// SetNodes replaces the fake cluster's nodes (ID, Hostname, Addr, Role,
// Availability, State and capacity are used).
func (f *Fake) SetNodes(nodes []engine.Node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.workLocked().nodes = slices.Clone(nodes)
}

// SetInstanceAddr makes instances' Addr addr(spec, slot) (e.g. an
// httptest server per slot) instead of "node address:port".
func (f *Fake) SetInstanceAddr(addr func(spec engine.WorkloadSpec, slot int) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.workLocked().addr = addr
}

// FailNextRollout makes the next template change of the named workload
// fail with why: by its failure action it rolls back (Update
// rollback_completed, the old instances kept) or pauses (Update paused).
func (f *Fake) FailNextRollout(name, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.workLocked().failNext[name] = why
}

// placeLocked (re)creates wl's instances from its spec, keeping those of
// an unchanged template and slot.
func (f *Fake) placeLocked(wl *fakeWorkload, keepTemplate bool) {
	w := f.workLocked()
	var active []engine.Node
	for _, n := range w.nodes {
		if n.Availability == engine.AvailabilityActive && n.State == "ready" {
			active = append(active, n)
		}
	}
	var kept []engine.Instance
	for _, in := range wl.instances {
		if keepTemplate && in.Slot <= int(wl.spec.Replicas) && nodeActive(active, in.NodeID) {
			kept = append(kept, in)
		}
	}
	wl.instances = kept
	for slot := 1; slot <= int(wl.spec.Replicas) && len(active) > 0; slot++ {
		if slices.ContainsFunc(kept, func(in engine.Instance) bool { return in.Slot == slot }) {
			continue
		}
		n := active[(slot-1)%len(active)]
		w.port++
		addr := n.Addr + ":" + strconv.Itoa(w.port)
		if w.addr != nil {
			addr = w.addr(wl.spec, slot)
		}
		labels := maps.Clone(wl.spec.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[engine.LabelManaged] = "true"
		in := engine.Instance{ID: f.nextIDLocked("task")[:25], WorkloadID: wl.id, WorkloadName: wl.spec.Name, Slot: slot,
			NodeID: n.ID, Node: n.Hostname, State: engine.StateRunning, Desired: engine.DesiredRunning,
			Image: wl.spec.Template.Image, Addr: addr, Labels: labels, Since: f.now(), Addresses: map[string]string{}}
		if wl.spec.Template.Check != nil {
			in.Health = "healthy"
		}
		wl.instances = append(wl.instances, in)
	}
	slices.SortFunc(wl.instances, func(a, b engine.Instance) int { return cmp.Compare(a.Slot, b.Slot) })
	wl.status.Replicas, wl.status.Running = wl.spec.Replicas, len(wl.instances)
	wl.status.Labels, wl.status.HasPrevious, wl.status.PreviousLabels, wl.status.PreviousReplicas = wl.spec.Labels, wl.previous != nil, nil, 0
	if wl.previous != nil {
		wl.status.PreviousLabels, wl.status.PreviousReplicas = wl.previous.Labels, wl.previous.Replicas
	}
}

func nodeActive(active []engine.Node, id string) bool {
	return slices.ContainsFunc(active, func(n engine.Node) bool { return n.ID == id })
}

// sameTemplate reports whether a and b differ at most in Replicas.
func sameTemplate(a, b engine.WorkloadSpec) bool {
	a.Replicas = b.Replicas
	return reflect.DeepEqual(a, b)
}

// ApplyWorkload creates or updates the workload at once.
func (f *Fake) ApplyWorkload(ctx context.Context, spec engine.WorkloadSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("ApplyWorkload"); err != nil {
		return "", err
	}
	w := f.workLocked()
	for _, s := range spec.Secrets {
		if _, ok := w.secrets[s.Secret]; !ok {
			return "", fmt.Errorf("fake: secret %s of %s: %w", s.Secret, spec.Name, engine.ErrNotFound)
		}
	}
	wl, ok := w.workloads[spec.Name]
	if ok {
		if err := f.ownLocked("workload", spec.Name, wl.spec.Labels); err != nil {
			return "", err
		}
	}
	spec.Labels = f.stampLocked(spec.Labels)
	if !ok {
		wl = &fakeWorkload{id: f.nextIDLocked("workload")[:25], spec: spec}
		wl.status = engine.WorkloadStatus{ID: wl.id, Name: spec.Name}
		w.workloads[spec.Name] = wl
		f.placeLocked(wl, false)
		return wl.id, nil
	}
	if reflect.DeepEqual(wl.spec, spec) {
		return wl.id, nil
	}
	same := sameTemplate(wl.spec, spec)
	prev := wl.spec
	if why, fail := w.failNext[spec.Name]; fail && !same {
		delete(w.failNext, spec.Name)
		wl.status.Message = why
		if spec.Update.FailureAction == engine.FailureRollback {
			wl.previous = &spec // as Swarm: the failed spec is the previous one
			wl.status.Update = engine.UpdateRollbackCompleted
		} else {
			wl.spec, wl.previous = spec, &prev
			wl.status.Update = engine.UpdatePaused
			f.placeLocked(wl, true)
			return wl.id, nil
		}
		f.placeLocked(wl, true)
		return wl.id, nil
	}
	wl.spec, wl.previous = spec, &prev
	wl.status.Message = ""
	if !same {
		now := f.now()
		wl.status.Update, wl.status.UpdateStarted, wl.status.UpdateCompleted = engine.UpdateCompleted, now, now
	}
	f.placeLocked(wl, same)
	return wl.id, nil
}

func (f *Fake) workloadLocked(name string) (*fakeWorkload, error) {
	w := f.workLocked()
	if wl, ok := w.workloads[name]; ok {
		return wl, f.ownLocked("workload", name, wl.spec.Labels)
	}
	for _, wl := range w.workloads {
		if wl.id == name {
			return wl, f.ownLocked("workload", name, wl.spec.Labels)
		}
	}
	return nil, fmt.Errorf("fake: workload %s: %w", name, engine.ErrNotFound)
}

// ScaleWorkload changes the replica count (recorded as a spec change).
func (f *Fake) ScaleWorkload(ctx context.Context, name string, replicas uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("ScaleWorkload"); err != nil {
		return err
	}
	wl, err := f.workloadLocked(name)
	if err != nil || wl.spec.Replicas == replicas {
		return err
	}
	prev := wl.spec
	wl.previous = &prev
	wl.spec.Replicas = replicas
	f.placeLocked(wl, true)
	return nil
}

// RollbackWorkload swaps the spec with the previous one.
func (f *Fake) RollbackWorkload(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("RollbackWorkload"); err != nil {
		return err
	}
	wl, err := f.workloadLocked(name)
	if err != nil {
		return err
	}
	if wl.previous == nil {
		return fmt.Errorf("fake: roll back %s: no previous spec: %w", name, engine.ErrNotFound)
	}
	cur := wl.spec
	same := sameTemplate(cur, *wl.previous)
	wl.spec, wl.previous = *wl.previous, &cur
	now := f.now()
	wl.status.Update, wl.status.Message, wl.status.UpdateStarted, wl.status.UpdateCompleted = engine.UpdateRollbackCompleted, "rollback completed", now, now
	f.placeLocked(wl, same)
	return nil
}

// InspectWorkload returns the workload's state.
func (f *Fake) InspectWorkload(ctx context.Context, name string) (engine.WorkloadStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("InspectWorkload"); err != nil {
		return engine.WorkloadStatus{}, err
	}
	wl, err := f.workloadLocked(name)
	if err != nil {
		return engine.WorkloadStatus{}, err
	}
	return wl.status, nil
}

// ListWorkloads lists the workloads whose labels match.
func (f *Fake) ListWorkloads(ctx context.Context, labels map[string]string) ([]engine.WorkloadStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []engine.WorkloadStatus
	for _, wl := range f.workLocked().workloads {
		if matches(wl.spec.Labels, labels) && f.foreignLocked(wl.spec.Labels) == "" {
			out = append(out, wl.status)
		}
	}
	slices.SortFunc(out, func(a, b engine.WorkloadStatus) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// ListInstances lists the instances of the workloads whose labels match.
func (f *Fake) ListInstances(ctx context.Context, labels map[string]string) ([]engine.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("ListInstances"); err != nil {
		return nil, err
	}
	var out []engine.Instance
	for _, wl := range f.workLocked().workloads {
		if matches(wl.spec.Labels, labels) && f.foreignLocked(wl.spec.Labels) == "" {
			for _, in := range wl.instances {
				in.Labels = maps.Clone(in.Labels)
				out = append(out, in)
			}
		}
	}
	slices.SortFunc(out, func(a, b engine.Instance) int {
		return cmp.Or(cmp.Compare(a.WorkloadName, b.WorkloadName), cmp.Compare(a.Slot, b.Slot))
	})
	return out, nil
}

// RemoveWorkload removes the workload and its instances.
func (f *Fake) RemoveWorkload(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("RemoveWorkload"); err != nil {
		return err
	}
	wl, err := f.workloadLocked(name)
	switch {
	case errors.Is(err, engine.ErrForeign):
		return err
	case err == nil:
		delete(f.work.workloads, wl.spec.Name)
	}
	return nil
}
