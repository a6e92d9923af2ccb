package swarm

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/berth-dev/berth/internal/engine"
)

// EnsureNetwork creates the named attachable overlay network unless it
// exists. The managers' Raft store refuses a second network of one name,
// so concurrent callers all get the one network.
func (b *Backend) EnsureNetwork(ctx context.Context, name string, labels map[string]string) (string, error) {
	b.netMu.Lock()
	defer b.netMu.Unlock()
	if id, err := b.findNetwork(ctx, name); err != nil || id != "" {
		return id, err
	}
	resp, err := b.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "overlay", Attachable: true, Labels: b.stamp(labels)})
	if err != nil {
		if id, ferr := b.findNetwork(ctx, name); ferr == nil && id != "" {
			return id, nil
		}
		return "", wrap("create overlay network "+name, err)
	}
	return resp.ID, nil
}

// findNetwork returns the ID of the swarm-scoped network named exactly
// name, "" when there is none, and an error when name is a node-local one
// or another berth server's (engine.ErrForeign).
func (b *Backend) findNetwork(ctx context.Context, name string) (string, error) {
	nets, err := b.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return "", wrap("list networks", err)
	}
	for _, n := range nets {
		if n.Name != name { // the filter matches substrings
			continue
		}
		if n.Scope != "swarm" {
			return "", fmt.Errorf("swarm: network %s is a %s %s network; services need an overlay: %w", name, n.Scope, n.Driver, engine.ErrConflict)
		}
		if owner := b.foreign(n.Labels); owner != "" {
			return "", engine.ForeignError("swarm: network", name, owner)
		}
		return n.ID, nil
	}
	return "", nil
}

// RemoveNetwork removes a network by name or ID; a missing one is not an
// error, another berth server's is refused (engine.ErrForeign). Tasks of
// removed services release it a moment later, so a network still in use
// is retried for a few seconds.
func (b *Backend) RemoveNetwork(ctx context.Context, name string) error {
	if err := b.ownNetwork(ctx, name); err != nil {
		return err
	}
	return b.every(ctx, 20*time.Second, "remove network "+name, func() (bool, error) {
		err := b.cli.NetworkRemove(ctx, name)
		switch {
		case err == nil || isNotFound(err):
			return true, nil
		case strings.Contains(err.Error(), "in use"):
			return false, nil
		}
		return false, wrap("remove network "+name, err)
	})
}
