package swarm

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// The calls that find and remove what an app environment left on the
// cluster: its networks (overlays) and configs, by label.

// NetworksByLabel lists the names of the networks whose labels match,
// sorted.
func (b *Backend) NetworksByLabel(ctx context.Context, labels map[string]string) ([]string, error) {
	nets, err := b.cli.NetworkList(ctx, network.ListOptions{Filters: labelFilter(labels)})
	if err != nil {
		return nil, wrap("list networks", err)
	}
	var out []string
	for _, n := range nets {
		if b.foreign(n.Labels) != "" {
			continue // another berth server's
		}
		if !slices.Contains(out, n.Name) {
			out = append(out, n.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ConfigsByLabel lists the names of the configs whose labels match,
// sorted.
func (b *Backend) ConfigsByLabel(ctx context.Context, labels map[string]string) ([]string, error) {
	cs, err := b.cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: labelFilter(labels)})
	if err != nil {
		return nil, wrap("list configs", err)
	}
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		if b.foreign(c.Spec.Labels) != "" {
			continue // another berth server's
		}
		out = append(out, c.Spec.Name)
	}
	slices.Sort(out)
	return out, nil
}

// RemoveConfig removes a config by name or ID; a missing one is not an
// error, one a service still uses is engine.ErrConflict.
func (b *Backend) RemoveConfig(ctx context.Context, name string) error {
	err := b.cli.ConfigRemove(ctx, name)
	switch {
	case err == nil || isNotFound(err):
		return nil
	case strings.Contains(err.Error(), "in use"):
		return fmt.Errorf("swarm: remove config %s: %w: %v", name, engine.ErrConflict, err)
	}
	return wrap("remove config "+name, err)
}

func labelFilter(labels map[string]string) filters.Args {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	return f
}
