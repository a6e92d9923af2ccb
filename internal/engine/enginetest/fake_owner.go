package enginetest

import (
	"maps"

	"github.com/berth-dev/berth/internal/engine"
)

// Server ids, as the docker and swarm backends have them: with
// SetServerID the fake acts as the backend of that berth server. What it
// creates from then on (containers, workloads and their instances,
// networks, volumes, secrets, configs) carries the id
// (engine.LabelServer); what carries another id is left out of its
// lists, and applying, inspecting, scaling, rolling back or removing
// such a workload, or ensuring or removing such a network or volume, is
// refused with engine.ErrForeign naming the other id. What carries no id
// is everyone's. A test plays two servers on one engine by switching the
// id.

// SetServerID makes the fake the backend of the server of that id ("":
// none, which sees everything).
func (f *Fake) SetServerID(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.server = id
}

// stampLocked returns labels with the server's id (a copy when it adds
// it).
func (f *Fake) stampLocked(labels map[string]string) map[string]string {
	if f.server == "" {
		return labels
	}
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[engine.LabelServer] = f.server
	return out
}

// foreignLocked returns the id of the other server whose object carries
// labels, or "".
func (f *Fake) foreignLocked(labels map[string]string) string {
	return engine.ForeignOwner(f.server, labels)
}

// ownLocked refuses the kind object name carrying labels when another
// server made it.
func (f *Fake) ownLocked(kind, name string, labels map[string]string) error {
	if owner := f.foreignLocked(labels); owner != "" {
		return engine.ForeignError("fake: "+kind, name, owner)
	}
	return nil
}
