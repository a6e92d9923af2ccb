package deploy

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy/l4"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// portTargets are the containers that serve svc's port p in the new
// release: those it started and the stateful ones it keeps.
func portTargets(x *execution, plan Plan, svc spec.Service, p spec.Port) []l4.Target {
	cs := slices.Clone(plan.Keep[svc.Name])
	for _, c := range x.started {
		if c.Labels[engine.LabelService] == svc.Name {
			cs = append(cs, c)
		}
	}
	return containerTargets(cs, x.app.Name, x.env, p)
}

// containerTargets are cs's addresses at p's container port, on the
// network the proxy reaches each one at (ContainerAddress: a service on
// networks of its own is reached on them).
func containerTargets(cs []engine.Container, app, env string, p spec.Port) []l4.Target {
	var ts []l4.Target
	for _, c := range cs {
		if ip := ContainerAddress(c, app, env); ip != "" {
			ts = append(ts, l4.Target{ID: c.ID, Name: c.Name, Addr: net.JoinHostPort(ip, strconv.Itoa(p.Target))})
		}
	}
	return ts
}

// portsReady reports whether every new container of a service that
// publishes TCP ports accepts connections on each of them (a service
// with a Compose healthcheck is gated on it instead, by checkContainers).
// After the service's health deadline it is an error naming the port.
func (d *Deployer) portsReady(x *execution, waited time.Duration) (bool, error) {
	for _, c := range x.started {
		svc, ok := x.app.Service(c.Labels[engine.LabelService])
		if !ok || len(svc.Ports) == 0 || svc.Check != nil {
			continue
		}
		for _, p := range svc.Ports {
			if p.Protocol != "tcp" {
				continue
			}
			addr := net.JoinHostPort(ContainerAddress(c, x.app.Name, x.env), strconv.Itoa(p.Target))
			conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
			if err == nil {
				conn.Close()
				continue
			}
			if waited > svc.Healthcheck.Deadline.D() {
				return false, fmt.Errorf("service %q: container %s accepts no connections on port %d (ports: %s) within %s: %v; make the app listen on %d, or raise x-berth.healthcheck.deadline%s",
					svc.Name, c.Name, p.Target, p.PublishedLabel(), svc.Healthcheck.Deadline.D(), err, p.Target, d.logTail(c.ID))
			}
			return false, nil
		}
	}
	return true, nil
}

// switchedPort is a listener swapped to the new release, with the pool
// it replaced (or, when the release dropped the port, the listener to
// close once drained).
type switchedPort struct {
	service string
	label   string
	old     *l4.Pool
	remove  *l4.Listener
}

// switchPorts points every published port of the new release at its
// containers, each in one atomic swap, and takes the ports the release
// no longer publishes off their listeners. It returns what to drain.
func (d *Deployer) switchPorts(x *execution, plan Plan) []switchedPort {
	var out []switchedPort
	keep := map[string]bool{}
	for _, svc := range x.app.Services {
		if !svc.Proxied() || x.skip[svc.Name] {
			continue
		}
		for _, p := range svc.Ports {
			key := portKey(x.app.Name, x.env, svc.Name, p)
			keep[key] = true
			l := d.ports.Get(key)
			if from, ok := x.ports.moved[key]; ok && l == nil {
				if l = d.ports.Remove(from); l != nil {
					d.ports.Put(key, portOwner(x.app.Name, x.env, svc.Name), l)
					x.t.say("%s %s takes over host port %s", svc.Name, p.PublishedLabel(), l.Addr())
				}
			}
			if l == nil {
				if l = x.ports.fresh[key]; l == nil {
					// reservePorts binds every port before anything
					// starts; a port freed since is bound now.
					var err error
					if l, err = listenPort(p); err != nil {
						x.t.say("warning: %s %s: %v: the port is not published; free it and deploy again", svc.Name, p.PublishedLabel(), err)
						continue
					}
				}
				delete(x.ports.fresh, key)
				d.ports.Put(key, portOwner(x.app.Name, x.env, svc.Name), l)
			}
			ts := portTargets(x, plan, svc, p)
			old := l.Swap(l4.NewPool(releaseLabel(x.rel.ID), ts))
			x.t.say("switched %s %s (on %s) to release %d (%d container(s))", svc.Name, p.PublishedLabel(), l.Addr(), x.rel.ID, len(ts))
			if old != nil {
				out = append(out, switchedPort{service: svc.Name, label: p.PublishedLabel(), old: old})
			}
		}
	}
	for _, e := range d.ports.List() {
		if !strings.HasPrefix(e.Key, portKeyPrefix(x.app.Name, x.env)) || keep[e.Key] {
			continue
		}
		if x.skip[strings.SplitN(strings.TrimPrefix(e.Key, portKeyPrefix(x.app.Name, x.env)), "/", 2)[0]] {
			continue
		}
		d.ports.Remove(e.Key)
		x.ports.gone = append(x.ports.gone, e.Listener)
		x.t.say("host port %s (%s) is no longer published", e.Listener.Addr(), e.Owner)
		if p := e.Listener.Current(); p != nil {
			out = append(out, switchedPort{service: e.Owner, label: e.Listener.Addr().String(), old: p, remove: e.Listener})
		} else {
			e.Listener.Close()
		}
	}
	d.closeFresh(x)
	return out
}

// convergePorts points the listeners of app/env's live release at its
// running containers (binding them again after a restart of berth) and
// closes the listeners of ports it does not publish.
func (d *Deployer) convergePorts(app, env string, live *store.Release, observed []engine.Container) {
	keep := map[string]bool{}
	if live != nil {
		label := releaseLabel(live.ID)
		for _, svc := range live.Spec.Services {
			if !svc.Proxied() {
				continue
			}
			var cs []engine.Container
			for _, c := range observed {
				if c.Labels[engine.LabelService] != svc.Name || !c.Running() || c.Labels[LabelOneOff] == "true" {
					continue
				}
				if c.Labels[engine.LabelRelease] == label || (svc.Stateful && c.Labels[LabelStateful] == "true") {
					cs = append(cs, c)
				}
			}
			for _, p := range svc.Ports {
				key := portKey(app, env, svc.Name, p)
				keep[key] = true
				ts := containerTargets(cs, app, env, p)
				l := d.ports.Get(key)
				if l == nil {
					picked := 0
					for _, c := range cs {
						if n, err := strconv.Atoi(c.Labels[labelPicked+p.PublishedLabel()]); err == nil {
							picked = n
						}
					}
					var err error
					if l, err = listenPicked(p, picked); err != nil {
						d.log.Error("converge: publish port", "app", app, "env", env, "service", svc.Name, "port", p.PublishedLabel(), "error", err)
						continue
					}
					d.ports.Put(key, portOwner(app, env, svc.Name), l)
					d.log.Info("port restored", "app", app, "env", env, "service", svc.Name, "port", p.PublishedLabel(), "addr", l.Addr().String(), "release", live.ID, "targets", len(ts))
				} else if cur := l.Current(); cur != nil && cur.Release() == label && sameL4Targets(cur.Targets(), ts) {
					continue
				}
				if old := l.Swap(l4.NewPool(label, ts)); old != nil {
					d.drains.Go(func() { old.DrainContext(d.bg, svc.DrainTimeout.D()) })
				}
			}
		}
	}
	for _, e := range d.ports.List() {
		if strings.HasPrefix(e.Key, portKeyPrefix(app, env)) && !keep[e.Key] {
			d.ports.Remove(e.Key)
			d.drains.Go(func() {
				if p := e.Listener.Current(); p != nil {
					p.DrainContext(d.bg, spec.DefaultDrainTimeout)
				}
				e.Listener.Close()
			})
		}
	}
}

func sameL4Targets(a, b []l4.Target) bool {
	key := func(ts []l4.Target) []string {
		out := make([]string, 0, len(ts))
		for _, t := range ts {
			out = append(out, t.ID+"@"+t.Addr)
		}
		return out
	}
	return sameStrings(key(a), key(b))
}
