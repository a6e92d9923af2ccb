package enginetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
)

// EnsureSecret stores data under its content-addressed name (the same
// naming as engine/swarm's: name, a dash, 12 hex digits of SHA-256).
func (f *Fake) EnsureSecret(ctx context.Context, name string, data []byte, labels map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("EnsureSecret"); err != nil {
		return "", err
	}
	full := contentName(name, data)
	w := f.workLocked()
	if _, ok := w.secrets[full]; !ok {
		l := maps.Clone(f.stampLocked(labels))
		if l == nil {
			l = map[string]string{}
		}
		l[engine.LabelManaged] = "true"
		w.secrets[full] = fakeSecret{Secret: engine.Secret{ID: f.nextIDLocked("secret")[:25], Name: full, Labels: l, Created: f.now()}, data: slices.Clone(data)}
	}
	return full, nil
}

// SecretData returns a stored secret's data (for tests).
func (f *Fake) SecretData(name string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.workLocked().secrets[name]
	return slices.Clone(s.data), ok
}

// ListSecrets lists the secrets whose labels match, by name.
func (f *Fake) ListSecrets(ctx context.Context, labels map[string]string) ([]engine.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []engine.Secret
	for _, s := range f.workLocked().secrets {
		if matches(s.Labels, labels) && f.foreignLocked(s.Labels) == "" {
			s.Labels = maps.Clone(s.Labels)
			out = append(out, s.Secret)
		}
	}
	slices.SortFunc(out, func(a, b engine.Secret) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveSecret removes a secret no workload uses.
func (f *Fake) RemoveSecret(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.workLocked()
	for _, wl := range w.workloads {
		for _, s := range wl.spec.Secrets {
			if s.Secret == name {
				return fmt.Errorf("fake: remove secret %s: %w: in use by %s", name, engine.ErrConflict, wl.spec.Name)
			}
		}
	}
	delete(w.secrets, name)
	return nil
}

// ListNodes lists the fake nodes with their instances' reservations.
func (f *Fake) ListNodes(ctx context.Context) ([]engine.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("ListNodes"); err != nil {
		return nil, err
	}
	w := f.workLocked()
	out := slices.Clone(w.nodes)
	for i := range out {
		n := &out[i]
		n.ReservedNanoCPUs, n.ReservedMemoryBytes, n.Tasks = 0, 0, 0
		for _, wl := range w.workloads {
			for _, in := range wl.instances {
				if in.NodeID == n.ID && in.Desired == engine.DesiredRunning {
					n.Tasks++
					n.ReservedNanoCPUs += wl.spec.Resources.ReserveNanoCPUs
					n.ReservedMemoryBytes += wl.spec.Resources.ReserveMemoryBytes
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b engine.Node) int { return strings.Compare(a.Hostname, b.Hostname) })
	return out, nil
}

// SetNodeAvailability sets a node's availability; draining moves its
// instances to the other active nodes at once.
func (f *Fake) SetNodeAvailability(ctx context.Context, node string, a engine.Availability) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("SetNodeAvailability"); err != nil {
		return err
	}
	switch a {
	case engine.AvailabilityActive, engine.AvailabilityPause, engine.AvailabilityDrain:
	default:
		return fmt.Errorf("fake: node %s: availability %q: want active, pause or drain", node, a)
	}
	w := f.workLocked()
	i := slices.IndexFunc(w.nodes, func(n engine.Node) bool { return n.ID == node || n.Hostname == node })
	if i < 0 {
		return fmt.Errorf("fake: node %s: %w", node, engine.ErrNotFound)
	}
	w.nodes[i].Availability = a
	if a == engine.AvailabilityDrain {
		for _, wl := range w.workloads {
			f.placeLocked(wl, true)
		}
	}
	return nil
}
