package deploy

import (
	"fmt"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// clusterNetworks makes the template's further networks the workload's
// (the first stays the template's), as WorkloadSpec wants them.
func clusterNetworks(w *engine.WorkloadSpec) {
	w.Networks = append(w.Networks, w.Template.Networks...)
	w.Template.Networks = nil
}

// clusterNetworkRefusals lists the network settings a Swarm cluster
// cannot apply, as docker stack deploy cannot: network_mode, fixed,
// link-local and MAC addresses of a task, and a bridge network (a
// service's tasks on several nodes need an overlay).
func clusterNetworkRefusals(app *spec.App) []string {
	var out []string
	for _, n := range app.Networks {
		if n.Driver != "" && n.Driver != "overlay" && !n.External {
			out = append(out, fmt.Sprintf("networks.%s: driver %s is node-local, and a cluster's tasks on several nodes need an overlay network: remove driver: (berth creates an overlay) or write driver: overlay", n.Key, n.Driver))
		}
	}
	for _, svc := range app.Services {
		if svc.NetworkMode != "" {
			out = append(out, fmt.Sprintf("service %q: network_mode %s: a Swarm service's tasks join overlay networks, not a host's or a container's namespace (docker stack deploy ignores network_mode too): remove it and use networks:", svc.Name, svc.NetworkMode))
		}
		for _, sn := range svc.Networks {
			for _, f := range []struct {
				key string
				set bool
			}{
				{"ipv4_address", sn.IPv4Address != ""}, {"ipv6_address", sn.IPv6Address != ""},
				{"link_local_ips", len(sn.LinkLocalIPs) > 0}, {"mac_address", sn.MacAddress != ""},
			} {
				if f.set {
					out = append(out, fmt.Sprintf("service %q: networks.%s.%s: Swarm assigns each task its address on an overlay network and cannot fix it: remove %s and reach the service by its name or an alias", svc.Name, sn.Key, f.key, f.key))
				}
			}
		}
	}
	return out
}
