package docker

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// EnsureNetwork creates the bridge network name unless it exists. A new
// network gets the lowest free subnet of the backend's pool (see
// createNetwork); one that exists keeps the subnet it has.
//
// Engine 20.10's duplicate-name check is not atomic: two creates at once
// both succeed and leave two networks of one name. So callers of one
// Backend are serialised, and a caller that still sees a duplicate after
// creating (another process raced it) keeps the oldest and removes its own.
func (b *Backend) EnsureNetwork(ctx context.Context, name string, labels map[string]string) (string, error) {
	b.netMu.Lock()
	defer b.netMu.Unlock()
	if id, err := b.findNetwork(ctx, name); err != nil || id != "" {
		if err == nil {
			err = b.checkNetwork(ctx, name, id)
		}
		return id, err
	}
	resp, err := b.createNetwork(ctx, name, network.CreateOptions{Driver: "bridge", Labels: b.stamp(labels)})
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

// createNetwork creates a bridge network on a subnet of the pool that
// overlaps no network of the engine and no route of the host, or, without
// a pool, on the subnet the engine picks.
//
// Another process may take the subnet between the list and the create
// (two berth servers, or docker network create): the engine refuses the
// overlap, and the next attempt skips that subnet even before the
// winner's network shows in the list.
func (b *Backend) createNetwork(ctx context.Context, name string, opts network.CreateOptions) (network.CreateResponse, error) {
	if b.pool == nil {
		resp, err := b.cli.NetworkCreate(ctx, name, opts)
		if err != nil && strings.Contains(err.Error(), "non-overlapping IPv4 address pool") {
			err = fmt.Errorf("%w: the engine's default-address-pools are full; let berth cut subnets from a range of its own (berth server --network-pool %s, the default) or give the engine larger pools (default-address-pools in its daemon.json)", err, DefaultNetworkPool)
		}
		return resp, err
	}
	var refused []taken
	for attempt := 1; ; attempt++ {
		used, err := b.usedSubnets(ctx)
		if err != nil {
			return network.CreateResponse{}, err
		}
		subnet, err := b.pool.next(append(used, refused...))
		if err != nil {
			return network.CreateResponse{}, err
		}
		opts.IPAM = &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: subnet.String()}}}
		resp, err := b.cli.NetworkCreate(ctx, name, opts)
		if err == nil {
			b.log.Info("network created", "network", name, "subnet", subnet.String())
			return resp, nil
		}
		if !strings.Contains(err.Error(), "overlaps") || attempt == 32 {
			return resp, fmt.Errorf("subnet %s: %w", subnet, err)
		}
		b.log.Debug("subnet taken meanwhile; trying the next", "network", name, "subnet", subnet.String(), "error", err)
		refused = append(refused, taken{prefix: subnet, name: "taken meanwhile"})
	}
}

// usedSubnets lists the IPv4 subnets of every network of the engine
// (berth's or not, of any driver) and the host's routes.
func (b *Backend) usedSubnets(ctx context.Context) ([]taken, error) {
	nets, err := b.cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, b.wrap("list networks", err)
	}
	var used []taken
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil {
				used = append(used, taken{prefix: p.Masked(), name: n.Name})
			}
		}
	}
	routes, err := b.routes()
	if err != nil {
		// Docker does not check a subnet it is given against the routes
		// either; a network over a route only shadows that route.
		b.log.Warn("host routes unreadable; new networks may overlap them", "error", err)
	}
	return append(used, routes...), nil
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
