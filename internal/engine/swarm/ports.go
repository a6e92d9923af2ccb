package swarm

import (
	"strconv"

	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// publishedPorts are a workload's Compose ports as Swarm publishes them
// in mode host: on the node of each task (a published port of 0 lets the
// node pick one).
func publishedPorts(ps []engine.PortBinding) []swarm.PortConfig {
	out := make([]swarm.PortConfig, 0, len(ps))
	for _, p := range ps {
		proto := swarm.PortConfigProtocolTCP
		if p.Protocol == "udp" {
			proto = swarm.PortConfigProtocolUDP
		}
		n, _ := strconv.Atoi(p.HostPort)
		out = append(out, swarm.PortConfig{Protocol: proto, TargetPort: uint32(p.Target), PublishedPort: uint32(n), PublishMode: swarm.PortConfigPublishModeHost})
	}
	return out
}
