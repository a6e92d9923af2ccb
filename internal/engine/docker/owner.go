package docker

import (
	"context"

	"github.com/docker/docker/api/types/network"

	"github.com/berth-dev/berth/internal/engine"
)

// Two berth servers on one engine (a staging and a production berth, or
// one started twice by mistake) must not take each other's objects for
// their own: converge would remove the other's containers, and a route
// could serve the other's release. A backend with a server id stamps it
// on what it creates and does not see what carries another id. Objects
// without an id (made before servers had one) are everyone's.

// stamp returns labels with the server's id (a copy when it adds it).
func (b *Backend) stamp(labels map[string]string) map[string]string {
	if b.server == "" {
		return labels
	}
	out := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		out[k] = v
	}
	out[engine.LabelServer] = b.server
	return out
}

// imageLabels are the labels of an image built with labels: an app's
// image (engine.LabelApp) gets the server's id, so that another server's
// prune leaves it alone.
func (b *Backend) imageLabels(labels map[string]string) map[string]string {
	if _, ok := labels[engine.LabelApp]; !ok {
		return labels
	}
	return b.stamp(labels)
}

// foreign returns the id of the other server whose object has labels, or
// "" when it is this server's (or no server's).
func (b *Backend) foreign(labels map[string]string) string {
	return engine.ForeignOwner(b.server, labels)
}

// errForeign says that the named object is another server's and what to
// do.
func errForeign(kind, name, owner string) error {
	return engine.ForeignError(kind, name, owner)
}

// checkNetwork refuses the network id when another server made it.
func (b *Backend) checkNetwork(ctx context.Context, name, id string) error {
	if b.server == "" || id == "" {
		return nil
	}
	n, err := b.cli.NetworkInspect(ctx, id, network.InspectOptions{})
	if err != nil {
		return b.wrap("inspect network "+name, err)
	}
	if owner := b.foreign(n.Labels); owner != "" {
		return errForeign("network", name, owner)
	}
	return nil
}
