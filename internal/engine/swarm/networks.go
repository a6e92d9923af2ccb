package swarm

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

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
	resp, err := b.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "overlay", Attachable: true, Labels: labels})
	if err != nil {
		if id, ferr := b.findNetwork(ctx, name); ferr == nil && id != "" {
			return id, nil
		}
		return "", wrap("create overlay network "+name, err)
	}
	return resp.ID, nil
}

// findNetwork returns the ID of the swarm-scoped network named exactly
// name, "" when there is none, and an error when name is a node-local one.
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
		return n.ID, nil
	}
	return "", nil
}

// RemoveNetwork removes a network by name or ID; a missing one is not an
// error. Tasks of removed services release it a moment later, so a
// network still in use is retried for a few seconds.
func (b *Backend) RemoveNetwork(ctx context.Context, name string) error {
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

// EnsureVolume creates a named local volume on the manager. Swarm has no
// cluster volumes at API 1.41: on other nodes a task's volume mount
// creates the volume where the task lands, so a stateful service must be
// pinned to one node (placement) to keep its data.
func (b *Backend) EnsureVolume(ctx context.Context, name string, labels map[string]string) error {
	if _, err := b.cli.VolumeInspect(ctx, name); err == nil {
		return nil
	} else if !isNotFound(err) {
		return wrap("inspect volume "+name, err)
	}
	_, err := b.cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Driver: "local", Labels: labels})
	return wrap("create volume "+name, err)
}

// ListVolumes lists the manager's volumes whose labels match (sizes are
// not reported: -1).
func (b *Backend) ListVolumes(ctx context.Context, labels map[string]string) ([]engine.Volume, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	resp, err := b.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return nil, wrap("list volumes", err)
	}
	out := make([]engine.Volume, 0, len(resp.Volumes))
	for _, v := range resp.Volumes {
		if v == nil {
			continue
		}
		created, _ := time.Parse(time.RFC3339, v.CreatedAt)
		out = append(out, engine.Volume{Name: v.Name, Labels: v.Labels, Created: created, Size: -1, RefCount: -1})
	}
	return out, nil
}

// RemoveVolume removes a volume from the manager; a missing one is not an
// error.
func (b *Backend) RemoveVolume(ctx context.Context, name string) error {
	if err := b.cli.VolumeRemove(ctx, name, false); err != nil && !isNotFound(err) {
		return wrap("remove volume "+name, err)
	}
	return nil
}
