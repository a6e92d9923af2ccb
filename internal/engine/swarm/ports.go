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

// proxyPort is the node port of a task the proxy sends traffic to: the
// host-mode port of the container port target (LabelProxyPort; empty
// for a workload without Compose ports: its only one), preferring the
// port Swarm picked over a Compose port the file fixed on that target.
func proxyPort(s swarm.Service, t swarm.Task, target string) uint32 {
	fixed := map[uint32]bool{}
	if e := s.Spec.EndpointSpec; e != nil {
		for _, p := range e.Ports {
			if p.PublishedPort != 0 {
				fixed[p.PublishedPort] = true
			}
		}
	}
	var fallback uint32
	for _, p := range t.Status.PortStatus.Ports {
		if p.PublishMode != swarm.PortConfigPublishModeHost || p.PublishedPort == 0 {
			continue
		}
		if target == "" {
			return p.PublishedPort
		}
		if strconv.Itoa(int(p.TargetPort)) != target || p.Protocol == swarm.PortConfigProtocolUDP {
			continue
		}
		if !fixed[p.PublishedPort] {
			return p.PublishedPort
		}
		if fallback == 0 {
			fallback = p.PublishedPort
		}
	}
	return fallback
}
