package docker

import (
	"context"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// EnsureNetwork creates the bridge network name unless it exists.
//
// Engine 20.10's duplicate-name check is not atomic: two creates at once
// both succeed and leave two networks of one name. So callers of one
// Backend are serialised, and a caller that still sees a duplicate after
// creating (another process raced it) keeps the oldest and removes its own.
func (b *Backend) EnsureNetwork(ctx context.Context, name string, labels map[string]string) (string, error) {
	b.netMu.Lock()
	defer b.netMu.Unlock()
	if id, err := b.findNetwork(ctx, name); err != nil || id != "" {
		return id, err
	}
	resp, err := b.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: labels})
	if err != nil {
		// Another caller may have created it between the list and now.
		if id, ferr := b.findNetwork(ctx, name); ferr == nil && id != "" {
			return id, nil
		}
		return "", b.wrap("create network "+name, err)
	}
	winner, err := b.findNetwork(ctx, name)
	if err != nil || winner == "" {
		return resp.ID, nil
	}
	if winner != resp.ID {
		b.log.Info("network created twice at once; keeping the oldest", "network", name, "id", winner)
		if err := b.cli.NetworkRemove(ctx, resp.ID); err != nil && !isNotFound(err) {
			b.log.Warn("remove duplicate network", "network", name, "id", resp.ID, "error", err)
		}
	}
	return winner, nil
}

// findNetwork returns the ID of the oldest network named exactly name, or
// "" when there is none.
func (b *Backend) findNetwork(ctx context.Context, name string) (string, error) {
	nets, err := b.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return "", b.wrap("list networks", err)
	}
	var best *network.Summary
	for i := range nets {
		n := &nets[i]
		if n.Name != name { // the filter matches substrings
			continue
		}
		if best == nil || n.Created.Before(best.Created) || (n.Created.Equal(best.Created) && n.ID < best.ID) {
			best = n
		}
	}
	if best == nil {
		return "", nil
	}
	return best.ID, nil
}

// RemoveNetwork removes a network by name; a missing one is not an error.
func (b *Backend) RemoveNetwork(ctx context.Context, name string) error {
	if err := b.cli.NetworkRemove(ctx, name); err != nil && !isNotFound(err) {
		return b.wrap("remove network "+name, err)
	}
	return nil
}
