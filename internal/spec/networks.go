package spec

import (
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// DefaultNetwork is the key of the network a service without networks:
// joins, as in Compose. berth creates it per app environment (see
// deploy.NetworkName) unless the file declares it otherwise.
const DefaultNetwork = "default"

// Network is one top-level Compose network, as the file declares it.
// Only networks the file declares are kept (the implicit default network
// is not), so an app that declares none stores none.
type Network struct {
	// Key is the network's key under the top-level networks:, the name
	// the services' networks: use.
	Key string `json:"key"`
	// Name is the engine's name when the file fixes it: Compose's name:,
	// or the key of an external network without one. It is not scoped to
	// the app and environment. Empty: berth names the network
	// berth-<app>-<env>-<key> (berth-<app>-<env> for default).
	Name string `json:"name,omitempty"`
	// External networks exist outside berth: they are joined by Name,
	// never created or removed; a deploy is refused when one is missing.
	External bool `json:"external,omitempty"`
	// Driver is the network driver ("bridge" when empty on one host,
	// "overlay" on Swarm).
	Driver     string            `json:"driver,omitempty"`
	DriverOpts map[string]string `json:"driver_opts,omitempty"`
	Internal   bool              `json:"internal,omitempty"`
	Attachable bool              `json:"attachable,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	EnableIPv6 bool              `json:"enable_ipv6,omitempty"`
	// IPAM is the file's ipam:, nil when it sets none: berth then gives
	// the network a subnet of its own pool.
	IPAM *IPAM `json:"ipam,omitempty"`
}

// IPAM is a network's address management, as Compose's ipam:.
type IPAM struct {
	Driver  string            `json:"driver,omitempty"`
	Options map[string]string `json:"options,omitempty"`
	Config  []IPAMPool        `json:"config,omitempty"`
}

// IPAMPool is one subnet of a network.
type IPAMPool struct {
	Subnet       string            `json:"subnet,omitempty"`
	IPRange      string            `json:"ip_range,omitempty"`
	Gateway      string            `json:"gateway,omitempty"`
	AuxAddresses map[string]string `json:"aux_addresses,omitempty"`
}

// ServiceNetwork is one network a service joins (Compose's service
// networks:, short or long form).
type ServiceNetwork struct {
	// Key is the top-level network's key.
	Key     string   `json:"key"`
	Aliases []string `json:"aliases,omitempty"`
	// NoServiceAlias is Compose's use_service_name_alias: false; the
	// service's name is otherwise an alias on every network it joins.
	NoServiceAlias bool              `json:"no_service_alias,omitempty"`
	IPv4Address    string            `json:"ipv4_address,omitempty"`
	IPv6Address    string            `json:"ipv6_address,omitempty"`
	LinkLocalIPs   []string          `json:"link_local_ips,omitempty"`
	MacAddress     string            `json:"mac_address,omitempty"`
	DriverOpts     map[string]string `json:"driver_opts,omitempty"`
	// Priority orders the networks the container joins: highest first.
	Priority int `json:"priority,omitempty"`
}

// Network returns the top-level network with the given key; the
// default network, undeclared, is returned bare.
func (a *App) Network(key string) (Network, bool) {
	for _, n := range a.Networks {
		if n.Key == key {
			return n, true
		}
	}
	if key == DefaultNetwork {
		return Network{Key: DefaultNetwork}, true
	}
	return Network{}, false
}

// ServiceNetworks are the networks s joins, in the order the container
// joins them (the first one at creation): its networks: by priority, or
// the default network when it sets none and has no network_mode.
func (s Service) ServiceNetworks() []ServiceNetwork {
	if s.NetworkMode != "" {
		return nil
	}
	if len(s.Networks) == 0 {
		return []ServiceNetwork{{Key: DefaultNetwork}}
	}
	return s.Networks
}

// HasUserSubnet reports whether the network's ipam gives a subnet that
// contains addr (Docker assigns fixed addresses only there).
func (n Network) HasUserSubnet(addr netip.Addr) bool {
	if n.IPAM == nil {
		return false
	}
	for _, p := range n.IPAM.Config {
		if pre, err := netip.ParsePrefix(p.Subnet); err == nil && pre.Contains(addr) {
			return true
		}
	}
	return false
}

// convertNetworks reads the top-level networks the files declare, sorted
// by key. compose-go names every network (project_key when the file does
// not) and adds an implicit default; only a name the file gives, or an
// external network's, is kept, and the implicit default is dropped.
func convertNetworks(files []*sourceFile, project string, nets types.Networks) []Network {
	var out []Network
	for key, nc := range nets {
		declared, named := false, false
		for _, f := range files {
			declared = declared || has(f.doc, []string{"networks", key})
			named = named || has(f.doc, []string{"networks", key, "name"})
		}
		if !declared {
			continue
		}
		n := Network{Key: key, External: bool(nc.External), Driver: nc.Driver, Internal: nc.Internal, Attachable: nc.Attachable}
		if n.External || named || nc.Name != project+"_"+key {
			n.Name = nc.Name
		}
		if nc.EnableIPv6 != nil && *nc.EnableIPv6 {
			n.EnableIPv6 = true
		}
		if len(nc.DriverOpts) > 0 {
			n.DriverOpts = maps.Clone(map[string]string(nc.DriverOpts))
		}
		if len(nc.Labels) > 0 {
			n.Labels = maps.Clone(map[string]string(nc.Labels))
		}
		if ip := nc.Ipam; ip.Driver != "" || len(ip.Config) > 0 || len(ip.Options) > 0 {
			n.IPAM = &IPAM{Driver: ip.Driver}
			if len(ip.Options) > 0 {
				n.IPAM.Options = maps.Clone(map[string]string(ip.Options))
			}
			for _, p := range ip.Config {
				if p == nil {
					continue
				}
				pool := IPAMPool{Subnet: p.Subnet, IPRange: p.IPRange, Gateway: p.Gateway}
				if len(p.AuxiliaryAddresses) > 0 {
					pool.AuxAddresses = maps.Clone(map[string]string(p.AuxiliaryAddresses))
				}
				n.IPAM.Config = append(n.IPAM.Config, pool)
			}
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// convertServiceNetworks reads a service's networks: and network_mode.
// A service that joins only the default network, with nothing said of
// it, keeps Networks nil (its stored form is the one it had before
// networks were applied).
func convertServiceNetworks(s *Service, sc types.ServiceConfig) {
	s.NetworkMode = sc.NetworkMode
	if dep, ok := strings.CutPrefix(sc.NetworkMode, types.NetworkModeServicePrefix); ok && dep != "" {
		// The container joins dep's container: start it after dep, as
		// Compose does.
		if _, set := s.DependsOn[dep]; !set {
			if s.DependsOn == nil {
				s.DependsOn = map[string]string{}
			}
			s.DependsOn[dep] = types.ServiceConditionStarted
		}
	}
	for key, nc := range sc.Networks {
		sn := ServiceNetwork{Key: key}
		if nc != nil {
			sn.Aliases = slices.Clone(nc.Aliases)
			sn.NoServiceAlias = !nc.ServiceNameAliasEnabled()
			sn.IPv4Address = nc.Ipv4Address
			sn.IPv6Address = nc.Ipv6Address
			sn.LinkLocalIPs = slices.Clone(nc.LinkLocalIPs)
			sn.MacAddress = nc.MacAddress
			sn.Priority = nc.Priority
			if len(nc.DriverOpts) > 0 {
				sn.DriverOpts = maps.Clone(map[string]string(nc.DriverOpts))
			}
		}
		s.Networks = append(s.Networks, sn)
	}
	sort.SliceStable(s.Networks, func(i, j int) bool {
		a, b := s.Networks[i], s.Networks[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.Key < b.Key
	})
	if len(s.Networks) == 1 && s.Networks[0].bare() && s.Networks[0].Key == DefaultNetwork {
		s.Networks = nil
	}
}

func (sn ServiceNetwork) bare() bool {
	return len(sn.Aliases) == 0 && !sn.NoServiceAlias && sn.IPv4Address == "" && sn.IPv6Address == "" &&
		len(sn.LinkLocalIPs) == 0 && sn.MacAddress == "" && len(sn.DriverOpts) == 0 && sn.Priority == 0
}
