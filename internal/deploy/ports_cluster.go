package deploy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// clusterPortRefusals refuses what berth cannot publish on a Swarm
// cluster. berth runs its services there with DNS round-robin endpoints
// (its proxy reaches each task), which Swarm's ingress routing mesh
// cannot publish: ports are published in mode host, on the node of each
// task, as docker stack deploy does with mode: host. A host address or a
// range of published ports has no Swarm form.
func clusterPortRefusals(svc spec.Service) []string {
	var out []string
	for i, p := range svc.Ports {
		where := fmt.Sprintf("service %q: ports[%d] %s", svc.Name, i, p.PublishedLabel())
		switch {
		case p.Mode != "host":
			out = append(out, where+": Swarm's ingress routing mesh cannot publish berth's services (they use DNS round-robin endpoints, which berth's proxy reaches task by task): write the long form with mode: host (published on each node that runs a task), or route HTTP with x-berth.port and x-berth.hosts")
		case p.HostIP != "":
			out = append(out, where+": Swarm publishes a port on every address of the node: remove host_ip")
		case p.PublishedEnd != 0:
			out = append(out, where+": Swarm publishes one port per entry: list the ports one by one")
		}
	}
	if svc.Publish == spec.PublishDirect {
		out = append(out, fmt.Sprintf("service %q: x-berth.publish: direct has no meaning on a Swarm cluster (ports in mode host are always published by the task's node): remove it", svc.Name))
	}
	return out
}

// clusterPorts publishes svc's ports on its tasks' nodes. A task that
// holds a fixed host port leaves no room on its node for its successor,
// so such a service updates stop-first unless its update_config or
// rollback_config says otherwise (docker stack deploy's default too).
func clusterPorts(w *engine.WorkloadSpec, svc spec.Service) {
	fixed := false
	for _, p := range svc.Ports {
		b := engine.PortBinding{Target: p.Target, Protocol: p.Protocol}
		if p.Published != 0 {
			b.HostPort = strconv.Itoa(p.Published)
			fixed = true
		}
		w.Published = append(w.Published, b)
	}
	if fixed {
		w.Update.Order = engine.OrderStopFirst
		w.Rollback.Order = engine.OrderStopFirst
	}
	if w.Port > 0 && len(w.Published) > 0 {
		w.Template.Labels[engine.LabelProxyPort] = strconv.Itoa(w.Port)
	}
}

func portLabels(ps []spec.Port) string {
	s := make([]string, 0, len(ps))
	for _, p := range ps {
		s = append(s, p.PublishedLabel())
	}
	return strings.Join(s, ", ")
}
