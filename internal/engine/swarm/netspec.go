package swarm

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/docker/docker/api/types/network"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
)

// EnsureNetworkSpec creates the overlay network s describes unless one
// of its name exists (returned as it is), as docker stack deploy creates
// a stack's networks: driver (overlay when empty), driver_opts,
// internal, labels and ipam as the file says. It is always attachable,
// so that berth's one-off containers (berth run, release commands) can
// join it as the service's tasks do.
func (b *Backend) EnsureNetworkSpec(ctx context.Context, s engine.NetworkSpec) (engine.Network, error) {
	b.netMu.Lock()
	defer b.netMu.Unlock()
	if id, err := b.findNetwork(ctx, s.Name); err != nil {
		return engine.Network{}, err
	} else if id != "" {
		return b.InspectNetwork(ctx, id)
	}
	s.Labels = b.stamp(s.Labels)
	opts := docker.NetworkCreateOptions(s, "overlay")
	opts.Scope, opts.Attachable = "swarm", true
	driver := opts.Driver
	if s.IPAM != nil {
		if err := b.checkSubnets(ctx, s); err != nil {
			return engine.Network{}, err
		}
	}
	resp, err := b.cli.NetworkCreate(ctx, s.Name, opts)
	if err != nil {
		if id, ferr := b.findNetwork(ctx, s.Name); ferr == nil && id != "" {
			return b.InspectNetwork(ctx, id)
		}
		return engine.Network{}, wrap("create overlay network "+s.Name, err)
	}
	if s.IPAM != nil && len(s.IPAM.Config) > 0 {
		if err := b.allocated(ctx, s.Name, resp.ID); err != nil {
			return engine.Network{}, err
		}
	}
	n, err := b.InspectNetwork(ctx, resp.ID)
	if err != nil {
		return n, err
	}
	// The managers allocate a new network's driver and subnets a moment
	// later; until then it is as it was asked for.
	if n.Driver == "" {
		n.Driver = driver
	}
	if len(n.Subnets) == 0 && opts.IPAM != nil {
		for _, c := range opts.IPAM.Config {
			n.Subnets = append(n.Subnets, c.Subnet)
		}
	}
	return n, nil
}

// InspectNetwork returns the named (or identified) network.
func (b *Backend) InspectNetwork(ctx context.Context, name string) (engine.Network, error) {
	n, err := b.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil {
		return engine.Network{}, wrap("inspect network "+name, err)
	}
	out := engine.Network{ID: n.ID, Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: n.Internal, Labels: n.Labels}
	for _, c := range n.IPAM.Config {
		out.Subnets = append(out.Subnets, c.Subnet)
	}
	return out, nil
}

// checkSubnets refuses a subnet s gives that overlaps another network's
// of the cluster, naming both: the managers accept such a network and
// then never allocate it, leaving its tasks pending for good.
func (b *Backend) checkSubnets(ctx context.Context, s engine.NetworkSpec) error {
	nets, err := b.cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return wrap("list networks", err)
	}
	for _, p := range s.IPAM.Config {
		sub, err := netip.ParsePrefix(p.Subnet)
		if err != nil {
			continue // the engine says what is wrong with it
		}
		for _, n := range nets {
			for _, c := range n.IPAM.Config {
				if q, err := netip.ParsePrefix(c.Subnet); err == nil && q.Overlaps(sub.Masked()) {
					return fmt.Errorf("swarm: network %s: subnet %s overlaps network %s's subnet %s: give each network its own subnet (each environment of an app gets its own networks, so a fixed subnet fits one environment)", s.Name, sub.Masked(), n.Name, q)
				}
			}
		}
	}
	return nil
}

// allocated waits until the managers have allocated the subnets of a new
// network. They accept a network whose subnet overlaps one of another
// network created a moment before (not yet listed with its subnet) and
// then never allocate it; such a network is removed and refused.
func (b *Backend) allocated(ctx context.Context, name, id string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := b.cli.NetworkInspect(ctx, id, network.InspectOptions{})
		if err != nil {
			return wrap("inspect network "+name, err)
		}
		if len(n.IPAM.Config) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err := b.cli.NetworkRemove(ctx, id); err != nil && !isNotFound(err) {
				b.log.Warn("remove unallocated network", "network", name, "error", err)
			}
			return fmt.Errorf("swarm: network %s: the managers did not allocate its subnet within 10s, which they do when it overlaps another network's: give each network its own subnet", name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
