package docker

import (
	"strconv"

	"github.com/docker/go-connections/nat"

	"github.com/berth-dev/berth/internal/engine"
)

// portBindings turns a container's published ports into the engine's
// exposed ports and host bindings, as docker compose sends them.
func portBindings(ps []engine.PortBinding) (nat.PortSet, nat.PortMap) {
	if len(ps) == 0 {
		return nil, nil
	}
	set, bindings := nat.PortSet{}, nat.PortMap{}
	for _, p := range ps {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port := nat.Port(strconv.Itoa(p.Target) + "/" + proto)
		set[port] = struct{}{}
		bindings[port] = append(bindings[port], nat.PortBinding{HostIP: p.HostIP, HostPort: p.HostPort})
	}
	return set, bindings
}
