package spec

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// validateNetworks checks the top-level networks: that an external one
// sets nothing berth would have to ignore, and that every ipam address
// parses and lies in its subnet.
func validateNetworks(c *collector, a *App) {
	for _, n := range a.Networks {
		field := "networks." + n.Key
		if n.Key == "" {
			c.add("", "networks", "a network name must not be empty")
			continue
		}
		if n.External {
			for _, f := range []struct {
				key string
				set bool
			}{
				{"driver", n.Driver != ""}, {"driver_opts", len(n.DriverOpts) > 0}, {"labels", len(n.Labels) > 0},
				{"internal", n.Internal}, {"attachable", n.Attachable}, {"enable_ipv6", n.EnableIPv6}, {"ipam", n.IPAM != nil},
			} {
				if f.set {
					c.add("", field+"."+f.key, fmt.Sprintf("an external network is used as it is: berth never creates it, so its %s would be ignored; remove %s, or remove external: true to have berth create the network", f.key, f.key))
				}
			}
		}
		if n.IPAM == nil {
			continue
		}
		for i, p := range n.IPAM.Config {
			pf := fmt.Sprintf("%s.ipam.config[%d]", field, i)
			if p.Subnet == "" {
				if p.IPRange != "" || p.Gateway != "" || len(p.AuxAddresses) > 0 {
					c.add("", pf+".subnet", "required with ip_range, gateway or aux_addresses: give the subnet they are part of (e.g. subnet: 172.28.0.0/24)")
				}
				continue
			}
			sub, err := netip.ParsePrefix(p.Subnet)
			if err != nil {
				c.add("", pf+".subnet", fmt.Sprintf("%s is not a subnet in CIDR form (e.g. 172.28.0.0/24)", quote(p.Subnet)))
				continue
			}
			if sub != sub.Masked() {
				c.add("", pf+".subnet", fmt.Sprintf("%s is not the start of its /%d: did you mean %s?", sub, sub.Bits(), sub.Masked()))
				continue
			}
			if sub.Addr().Is6() && !n.EnableIPv6 {
				c.add("", pf+".subnet", fmt.Sprintf("%s is an IPv6 subnet: set enable_ipv6: true on networks.%s too, as Docker requires", sub, n.Key))
			}
			if p.IPRange != "" {
				r, err := netip.ParsePrefix(p.IPRange)
				if err != nil || !sub.Contains(r.Addr()) || r.Bits() < sub.Bits() {
					c.add("", pf+".ip_range", fmt.Sprintf("%s must be a range in CIDR form inside the subnet %s", quote(p.IPRange), sub))
				}
			}
			if p.Gateway != "" {
				if g, err := netip.ParseAddr(p.Gateway); err != nil || !sub.Contains(g) {
					c.add("", pf+".gateway", fmt.Sprintf("%s must be an address inside the subnet %s", quote(p.Gateway), sub))
				}
			}
			for host, addr := range p.AuxAddresses {
				if ad, err := netip.ParseAddr(addr); err != nil || !sub.Contains(ad) {
					c.add("", pf+".aux_addresses."+host, fmt.Sprintf("%s must be an address inside the subnet %s", quote(addr), sub))
				}
			}
		}
	}
}

// validateServiceNetworks checks a service's networks: and network_mode
// against the top-level networks and against how berth runs the service:
// a routed service runs two releases side by side behind the proxy, a
// worker starts its new container before it stops the old one, and only
// a stateful service stops its container before the next one starts.
func validateServiceNetworks(c *collector, a *App, s *Service) {
	n := s.Name
	if s.NetworkMode != "" && len(s.Networks) > 0 {
		c.add(n, "network_mode", "network_mode and networks: exclude each other (as in Compose): remove one")
		return
	}
	validateNetworkMode(c, a, s)
	addrs := map[string]string{} // network key + address → service, within the app
	for _, sn := range s.Networks {
		field := "networks." + sn.Key
		def, ok := a.Network(sn.Key)
		if !ok {
			c.add(n, field, fmt.Sprintf("no top-level network named %s: declare it under networks:", quote(sn.Key)))
			continue
		}
		for i, al := range sn.Aliases {
			if al == "" || strings.ContainsAny(al, " \t\r\n/:") {
				c.add(n, fmt.Sprintf("%s.aliases[%d]", field, i), fmt.Sprintf("%s is not a DNS name: use letters, digits, '-', '_' and '.'", quote(al)))
			}
		}
		for _, f := range []struct {
			key, addr string
			v6        bool
		}{{"ipv4_address", sn.IPv4Address, false}, {"ipv6_address", sn.IPv6Address, true}} {
			if f.addr == "" {
				continue
			}
			ad, err := netip.ParseAddr(f.addr)
			switch {
			case err != nil || ad.Is6() != f.v6:
				c.add(n, field+"."+f.key, fmt.Sprintf("%s is not an IPv%s address", quote(f.addr), map[bool]string{false: "4", true: "6"}[f.v6]))
			case def.External:
				// The engine checks it against the network as it is.
			case !def.HasUserSubnet(ad):
				c.add(n, field+"."+f.key, fmt.Sprintf("%s is not in a subnet that networks.%s.ipam.config gives: Docker assigns fixed addresses only on a network with a user-configured subnet; add ipam: {config: [{subnet: ...}]} containing it to networks.%s", ad, sn.Key, sn.Key))
			}
			if !s.Stateful {
				c.add(n, field+"."+f.key, "a fixed address is held by one container, and berth starts a service's new container before it stops the old one (blue-green for a routed service, start-first for a worker): mark the service x-berth.stateful: true (stopped before its successor starts, one replica) or remove the fixed address and reach it by its service name or an alias")
			}
			key := sn.Key + " " + ad.String()
			if other, dup := addrs[key]; dup {
				c.add(n, field+"."+f.key, fmt.Sprintf("%s is service %s's address on networks.%s too: give each its own", ad, quote(other), sn.Key))
			}
			addrs[key] = n
		}
		for i, ll := range sn.LinkLocalIPs {
			if ad, err := netip.ParseAddr(ll); err != nil || !ad.IsLinkLocalUnicast() {
				c.add(n, fmt.Sprintf("%s.link_local_ips[%d]", field, i), fmt.Sprintf("%s is not a link-local address (169.254.0.0/16 or fe80::/10)", quote(ll)))
			}
		}
	}
}

// validateNetworkMode checks network_mode.
func validateNetworkMode(c *collector, a *App, s *Service) {
	n, mode := s.Name, s.NetworkMode
	if mode == "" {
		return
	}
	routed := s.Routed()
	switch {
	case mode == "host":
		if routed {
			c.add(n, "network_mode", "a routed service runs two releases side by side during a deploy (blue-green), and on the host's network both would bind the same port: remove network_mode: host (the proxy reaches the service on its own network), or remove x-berth.hosts to run it as a worker")
		}
	case mode == "none":
		if routed {
			c.add(n, "network_mode", "with network_mode: none the proxy cannot reach the service: remove network_mode or x-berth.hosts")
		}
	case mode == "bridge":
	case strings.HasPrefix(mode, "service:"):
		dep := strings.TrimPrefix(mode, "service:")
		other, ok := a.Service(dep)
		switch {
		case !ok:
			c.add(n, "network_mode", fmt.Sprintf("no service named %s to share the network of", quote(dep)))
		case dep == n:
			c.add(n, "network_mode", "a service cannot share its own network namespace")
		case routed:
			c.add(n, "network_mode", fmt.Sprintf("a routed service needs an address of its own for the proxy: route service %s instead (x-berth on it), or remove network_mode", quote(dep)))
		case len(s.ReleaseCommand) > 0:
			c.add(n, "network_mode", fmt.Sprintf("x-berth.release_command runs before any container of the release starts, so it has no %s container to share the network of: run the command in service %s, or remove network_mode", quote(dep), quote(dep)))
		case s.Stateful && !other.Stateful:
			c.add(n, "network_mode", fmt.Sprintf("a stateful service keeps its container across deploys while %s gets a new one each deploy, which would cut the stateful one off the network: make %s stateful too, or remove network_mode", quote(dep), quote(dep)))
		}
	case strings.HasPrefix(mode, "container:"):
		if strings.TrimPrefix(mode, "container:") == "" {
			c.add(n, "network_mode", "container: needs the name of a container (e.g. container:vpn)")
		}
		if routed {
			c.add(n, "network_mode", "a routed service needs an address of its own for the proxy, and with container: it shares another container's: remove network_mode or x-berth.hosts")
		}
	default:
		c.add(n, "network_mode", fmt.Sprintf("%s is not a network mode berth knows: use host, none, bridge, service:NAME or container:NAME, or networks: for the app's own networks", quote(mode)))
	}
	validateSharedNamespace(c, s)
}

// validateSharedNamespace refuses the per-container keys the engine
// rejects in the network namespace network_mode gives, which it would
// only say at container creation or start, after the old release had
// begun to be replaced: in another container's namespace (service: and
// container:) the hostname, DNS servers and /etc/hosts entries are that
// container's; in the host's, a net.* sysctl would change the host.
func validateSharedNamespace(c *collector, s *Service) {
	o, mode := s.Container, s.NetworkMode
	if o == nil {
		return
	}
	if owner, ok := strings.CutPrefix(mode, "service:"); ok || strings.HasPrefix(mode, "container:") {
		where := "the container it names"
		if ok {
			where = "service " + quote(owner)
		}
		for _, f := range []struct {
			key string
			set bool
		}{{"hostname", o.Hostname != ""}, {"dns", len(o.DNS) > 0}, {"extra_hosts", len(o.ExtraHosts) > 0}} {
			if f.set {
				c.add(s.Name, f.key, fmt.Sprintf("with network_mode %s the container shares another's network namespace, and Docker refuses to set its %s there: remove %s, or set it on %s", mode, f.key, f.key, where))
			}
		}
	}
	if mode == "host" {
		keys := make([]string, 0, len(o.Sysctls))
		for k := range o.Sysctls {
			if strings.HasPrefix(k, "net.") {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			c.add(s.Name, "sysctls."+k, "with network_mode: host the container is in the host's network namespace, where Docker refuses a net.* sysctl (it would change the host): remove it, set it on the host (sysctl -w), or remove network_mode: host")
		}
	}
}
