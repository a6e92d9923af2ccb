package swarm

import (
	"context"
	"maps"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// Two berth servers on one swarm (a staging and a production berth, or
// one started twice by mistake) must not take each other's objects for
// their own, as on one host (engine/docker's owner.go): an update of the
// other's service would roll the other's app over to this one's
// release, a removal would take it down, and its tasks would join this
// server's routes. A backend with a server id (Options.ServerID) stamps
// it (engine.LabelServer) on the services it creates and their tasks'
// containers, on its overlays, volumes, secrets and configs; it does not
// list or watch what carries another id, and refuses to update, roll
// back, inspect by name or remove another server's service, or to take
// over its network, with that server's id. Objects without an id (made
// before servers had one) are everyone's.

// stamp returns labels with the server's id (a copy when it adds it).
func (b *Backend) stamp(labels map[string]string) map[string]string {
	if b.server == "" {
		return labels
	}
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[engine.LabelServer] = b.server
	return out
}

// foreign returns the id of the other server whose object carries
// labels, or "" when it is this server's (or no server's).
func (b *Backend) foreign(labels map[string]string) string {
	return engine.ForeignOwner(b.server, labels)
}

// ownService refuses svc when another server made it.
func (b *Backend) ownService(svc swarm.Service) error {
	if owner := b.foreign(svc.Spec.Labels); owner != "" {
		return engine.ForeignError("swarm: service", svc.Spec.Name, owner)
	}
	return nil
}

// inspectOwn inspects the service ref (a name or an ID), refusing it
// when another server made it.
func (b *Backend) inspectOwn(ctx context.Context, ref string) (swarm.Service, error) {
	svc, _, err := b.cli.ServiceInspectWithRaw(ctx, ref, swarm.ServiceInspectOptions{})
	if err != nil {
		return svc, wrap("inspect service "+ref, err)
	}
	return svc, b.ownService(svc)
}

// ownNetwork refuses the network name (or ID) when another server made
// it; a missing one is this server's to create.
func (b *Backend) ownNetwork(ctx context.Context, name string) error {
	if b.server == "" {
		return nil
	}
	n, err := b.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap("inspect network "+name, err)
	}
	if owner := b.foreign(n.Labels); owner != "" {
		return engine.ForeignError("swarm: network", n.Name, owner)
	}
	return nil
}
