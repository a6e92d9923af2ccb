package swarm

import (
	"context"
	"maps"

	"github.com/docker/docker/api/types/network"

	"github.com/berth-dev/berth/internal/engine"
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
	driver := s.Driver
	if driver == "" {
		driver = "overlay"
	}
	opts := network.CreateOptions{
		Driver: driver, Scope: "swarm", Options: maps.Clone(s.DriverOpts), Labels: maps.Clone(s.Labels),
		Internal: s.Internal, Attachable: true,
	}
	if s.EnableIPv6 {
		on := true
		opts.EnableIPv6 = &on
	}
	if s.IPAM != nil {
		opts.IPAM = &network.IPAM{Driver: s.IPAM.Driver, Options: maps.Clone(s.IPAM.Options)}
		if opts.IPAM.Driver == "" {
			opts.IPAM.Driver = "default"
		}
		for _, p := range s.IPAM.Config {
			opts.IPAM.Config = append(opts.IPAM.Config, network.IPAMConfig{Subnet: p.Subnet, IPRange: p.IPRange, Gateway: p.Gateway, AuxAddress: maps.Clone(p.AuxAddresses)})
		}
	}
	resp, err := b.cli.NetworkCreate(ctx, s.Name, opts)
	if err != nil {
		if id, ferr := b.findNetwork(ctx, s.Name); ferr == nil && id != "" {
			return b.InspectNetwork(ctx, id)
		}
		return engine.Network{}, wrap("create overlay network "+s.Name, err)
	}
	return b.InspectNetwork(ctx, resp.ID)
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
