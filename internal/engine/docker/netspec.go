package docker

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"strings"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"

	"github.com/berth-dev/berth/internal/engine"
)

// EnsureNetworkSpec creates the network s describes unless one of its
// name exists (which is returned as it is). A bridge network without
// ipam gets a subnet of the pool, as EnsureNetwork's do; a subnet the
// file gives must overlap neither the pool nor another network.
func (b *Backend) EnsureNetworkSpec(ctx context.Context, s engine.NetworkSpec) (engine.Network, error) {
	b.netMu.Lock()
	defer b.netMu.Unlock()
	if id, err := b.findNetwork(ctx, s.Name); err != nil {
		return engine.Network{}, err
	} else if id != "" {
		return b.InspectNetwork(ctx, id)
	}
	opts := NetworkCreateOptions(s, "bridge")
	driver := opts.Driver
	var resp network.CreateResponse
	var err error
	switch {
	case s.IPAM != nil:
		if err := b.checkSubnets(ctx, s); err != nil {
			return engine.Network{}, err
		}
		resp, err = b.cli.NetworkCreate(ctx, s.Name, opts)
	case driver == "bridge":
		resp, err = b.createNetwork(ctx, s.Name, opts)
	default:
		// Another driver (macvlan, a plugin) has address ranges of its
		// own: the pool is for berth's bridges.
		resp, err = b.cli.NetworkCreate(ctx, s.Name, opts)
	}
	if err != nil {
		if id, ferr := b.findNetwork(ctx, s.Name); ferr == nil && id != "" {
			return b.InspectNetwork(ctx, id)
		}
		if s.EnableIPv6 && strings.Contains(err.Error(), "IPv6") {
			err = fmt.Errorf("%w: enable_ipv6 needs an IPv6 subnet: give the network's ipam.config an IPv6 subnet (e.g. subnet: fd00:db8:1::/64), or give the engine an IPv6 range in default-address-pools (daemon.json)", err)
		}
		return engine.Network{}, b.wrap("create network "+s.Name, err)
	}
	b.log.Info("network created", "network", s.Name, "driver", driver, "internal", s.Internal)
	return b.InspectNetwork(ctx, resp.ID)
}

// NetworkCreateOptions is the engine's request for the network s
// describes: its driver (driver when s names none), driver_opts, labels,
// internal, attachable, enable_ipv6 and ipam, as the Compose file says.
func NetworkCreateOptions(s engine.NetworkSpec, driver string) network.CreateOptions {
	if s.Driver != "" {
		driver = s.Driver
	}
	opts := network.CreateOptions{
		Driver: driver, Options: maps.Clone(s.DriverOpts), Labels: maps.Clone(s.Labels),
		Internal: s.Internal, Attachable: s.Attachable,
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
	return opts
}

// checkSubnets refuses a subnet s gives that overlaps the pool (where
// berth cuts other app environments' networks) or a network of the
// engine, naming both.
func (b *Backend) checkSubnets(ctx context.Context, s engine.NetworkSpec) error {
	used, err := b.usedSubnets(ctx)
	if err != nil {
		return err
	}
	for _, p := range s.IPAM.Config {
		sub, err := netip.ParsePrefix(p.Subnet)
		if err != nil {
			continue // the engine says what is wrong with it
		}
		sub = sub.Masked()
		if b.pool != nil && sub.Overlaps(b.pool.Prefix) {
			return fmt.Errorf("network %s: subnet %s overlaps berth's network pool %s, where berth cuts the subnets of app environments' networks: give the network a subnet outside %s, or start berth server with another --network-pool", s.Name, sub, b.pool.Prefix, b.pool.Prefix)
		}
		for _, u := range used {
			if u.route || !sub.Overlaps(u.prefix) {
				continue
			}
			return fmt.Errorf("network %s: subnet %s overlaps network %s's subnet %s: give each network its own subnet (each environment of an app gets its own networks, so a fixed subnet fits one environment: set it per environment with another Compose file, -f)", s.Name, sub, u.name, u.prefix)
		}
	}
	return nil
}

// InspectNetwork returns the named (or identified) network.
func (b *Backend) InspectNetwork(ctx context.Context, name string) (engine.Network, error) {
	n, err := b.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil {
		return engine.Network{}, b.wrap("inspect network "+name, err)
	}
	out := engine.Network{ID: n.ID, Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: n.Internal, Labels: n.Labels}
	for _, c := range n.IPAM.Config {
		out.Subnets = append(out.Subnets, c.Subnet)
	}
	return out, nil
}

// endpoint is a container's settings on one network.
func (b *Backend) endpoint(aliases []string, a engine.NetworkAttachment) (*network.EndpointSettings, error) {
	ep := &network.EndpointSettings{Aliases: aliases, DriverOpts: maps.Clone(a.DriverOpts)}
	if a.IPv4Address != "" || a.IPv6Address != "" || len(a.LinkLocalIPs) > 0 {
		ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a.IPv4Address, IPv6Address: a.IPv6Address, LinkLocalIPs: a.LinkLocalIPs}
	}
	if a.MacAddress != "" {
		if v := b.cli.ClientVersion(); versions.LessThan(v, "1.44") {
			return nil, fmt.Errorf("mac_address on network %s needs Docker Engine API 1.44 (Engine 25) or later, and this engine speaks %s: remove it, or upgrade the engine", a.Name, v)
		}
		ep.MacAddress = a.MacAddress
	}
	return ep, nil
}

// connectNetworks joins a created container to its further networks,
// before it starts, as docker compose does.
func (b *Backend) connectNetworks(ctx context.Context, id string, s engine.ContainerSpec) error {
	for _, a := range s.Networks {
		ep, err := b.endpoint(a.Aliases, a)
		if err != nil {
			return err
		}
		if err := b.cli.NetworkConnect(ctx, a.Name, id, ep); err != nil {
			return b.wrap(fmt.Sprintf("connect container %s to network %s", s.Name, a.Name), err)
		}
	}
	return nil
}
