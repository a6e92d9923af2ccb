package docker

import (
	"context"
	"slices"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// NetworksByLabel lists the names of the networks whose labels match
// every key/value in labels, sorted: what an app environment created, for
// its removal.
func (b *Backend) NetworksByLabel(ctx context.Context, labels map[string]string) ([]string, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	nets, err := b.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, b.wrap("list networks", err)
	}
	var out []string
	for _, n := range nets {
		if !slices.Contains(out, n.Name) {
			out = append(out, n.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}
