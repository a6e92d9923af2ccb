package deploy

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// stopDirect stops the old containers of services that publish their
// ports directly (x-berth.publish: direct), before their successors
// start: one host port has room for one container. The service is down
// until the new ones start, and the output says so.
func (d *Deployer) stopDirect(ctx context.Context, x *execution, plan *Plan) error {
	for _, key := range x.ports.unbind {
		if l := d.ports.Remove(key); l != nil {
			x.ports.gone = append(x.ports.gone, l)
			x.t.say("releasing host port %s from berth's listener: the container publishes it from now on (x-berth.publish: direct)", l.Addr())
			l.Close()
		}
	}
	for _, svc := range x.app.Services {
		if (svc.Publish != spec.PublishDirect && !x.ports.stopFirst[svc.Name]) || len(plan.Retire[svc.Name]) == 0 || x.skip[svc.Name] {
			continue
		}
		if svc.Publish == spec.PublishDirect {
			x.t.say("%s publishes its ports on the container (x-berth.publish: direct): stopping its old container(s) first; it is down until the new one starts", svc.Name)
		} else {
			x.t.say("%s published its ports on its old container: stopping it first so that berth's listener can take the ports; it is down until the new one starts", svc.Name)
		}
		for _, c := range plan.Retire[svc.Name] {
			if err := d.eng.StopContainer(ctx, c.ID, svc.StopGracePeriod.D()); err != nil {
				return fmt.Errorf("stop %s: %w", c.Name, err)
			}
			if err := d.eng.RemoveContainer(ctx, c.ID); err != nil {
				return fmt.Errorf("remove %s: %w", c.Name, err)
			}
		}
		delete(plan.Retire, svc.Name)
		if x.replaced == nil {
			x.replaced = map[string]bool{}
		}
		x.replaced[svc.Name] = true
	}
	for _, key := range slices.Sorted(mapsKeys(x.ports.late)) {
		lp := x.ports.late[key]
		l, err := listenPort(lp.port)
		if err != nil {
			return fmt.Errorf("%w: ports %s: %v, after its old container stopped: another program holds the port; stop it, or publish another port", ErrInvalid, lp.port.PublishedLabel(), err)
		}
		x.ports.fresh[key] = l
		sayPicked(x, lp.service, lp.port, l)
	}
	d.annotatePorts(x, plan) // the ports bound late are berth's picks too
	return nil
}

// directPorts are the host port bindings of a service that publishes
// its ports on the container.
func directPorts(svc spec.Service) []engine.PortBinding {
	if svc.Publish != spec.PublishDirect {
		return nil
	}
	out := make([]engine.PortBinding, 0, len(svc.Ports))
	for _, p := range svc.Ports {
		b := engine.PortBinding{HostIP: p.HostIP, Target: p.Target, Protocol: p.Protocol}
		if p.Published != 0 {
			b.HostPort = strconv.Itoa(p.Published)
			if p.PublishedEnd != 0 {
				b.HostPort += "-" + strconv.Itoa(p.PublishedEnd)
			}
		}
		out = append(out, b)
	}
	return out
}
