package deploy

// Published ports (Compose ports:) on one host. berth's own listener
// (proxy/l4) holds each host port of a service for the service's whole
// life and forwards to the live release: a deploy starts the new
// containers without host ports, gates them on a TCP connect check of
// each target port (or their Compose healthcheck), swaps the listener to
// them, drains the old release's connections up to drain_timeout, then
// stops the old containers. x-berth.publish: direct publishes the port on
// the container instead, as docker compose does: stop, then start.

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy/l4"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// portsExec is an execution's state for published ports.
type portsExec struct {
	// fresh are listeners bound by this execution, not yet in the set
	// (closed when the release is refused).
	fresh map[string]*l4.Listener
	// moved maps a port's key to the key of the listener of the app/env
	// it takes over: the same host address under another key (its target
	// port or service changed), handed over at the switch, never unbound.
	moved map[string]string
	// Mode changes of a service between releases: unbind are listeners
	// of services that now publish directly, closed before their new
	// containers start; late are ports of services that now go through
	// berth's listener while their old container still binds the port
	// itself, bound once it is stopped; stopFirst names those services.
	unbind    []string
	late      map[string]spec.Port
	stopFirst map[string]bool
	// before are the app/env's listener counts as the execution began;
	// live says whether any listener served then (the tally counts).
	before l4.Counters
	live   bool
	// gone are listeners the release no longer has: their counts still
	// belong to this deployment's tally.
	gone []*l4.Listener
}

// portKey names the listener of one port of a service.
func portKey(app, env, service string, p spec.Port) string {
	return app + "/" + env + "/" + service + "/" + p.PublishedLabel()
}

func portKeyPrefix(app, env string) string { return app + "/" + env + "/" }

func portOwner(app, env, service string) string {
	return fmt.Sprintf("service %q of %s/%s", service, app, env)
}

// bindAddr is the host address a port's listener binds, at published
// port n (0: any free port).
func bindAddr(p spec.Port, n int) string {
	return net.JoinHostPort(p.HostIP, strconv.Itoa(n))
}

// startPortCounting notes the app/env's listener counts as an execution
// begins.
func (d *Deployer) startPortCounting(x *execution) {
	x.ports.before = l4.Counters{}
	x.ports.live = false
	for _, e := range d.ports.List() {
		if strings.HasPrefix(e.Key, portKeyPrefix(x.app.Name, x.env)) && e.Listener.Current() != nil {
			x.ports.live = true
			c := e.Listener.Counters()
			x.ports.before.Served += c.Served
			x.ports.before.Failed += c.Failed
			x.ports.before.Cut += c.Cut
		}
	}
}

// countPorts adds the connections of the app/env's listeners since the
// execution began to its tally.
func (d *Deployer) countPorts(x *execution, dep *store.Deployment) {
	var now l4.Counters
	ls := slices.Clone(x.ports.gone)
	for _, e := range d.ports.List() {
		if strings.HasPrefix(e.Key, portKeyPrefix(x.app.Name, x.env)) && !slices.Contains(ls, e.Listener) {
			ls = append(ls, e.Listener)
		}
	}
	for _, l := range ls {
		c := l.Counters()
		now.Served += c.Served
		now.Failed += c.Failed
		now.Cut += c.Cut
	}
	dep.Connections = now.Served - x.ports.before.Served
	dep.ConnectionsFailed = now.Failed - x.ports.before.Failed
	dep.ConnectionsCut = now.Cut - x.ports.before.Cut
	dep.ConnectionsCounted = x.ports.live
}

// reservePorts checks, before anything starts, that every host port the
// release publishes is free for it: not held by berth for another app
// environment or service, and bindable. A proxied port without a
// listener yet is bound now (the listener serves from the switch on).
func (d *Deployer) reservePorts(x *execution) error {
	x.ports.fresh = map[string]*l4.Listener{}
	x.ports.moved = map[string]string{}
	x.ports.unbind, x.ports.late, x.ports.stopFirst = nil, map[string]spec.Port{}, map[string]bool{}
	var live *spec.App
	if rel, err := d.store.LiveRelease(x.app.Name, x.env); err == nil {
		live = &rel.Spec
	}
	var msgs []string
	held := d.ports.List()
	keys := map[string]bool{}
	for _, svc := range x.app.Services {
		if svc.Proxied() {
			for _, p := range svc.Ports {
				keys[portKey(x.app.Name, x.env, svc.Name, p)] = true
			}
		}
	}
	for _, svc := range x.app.Services {
		for i, p := range svc.Ports {
			key := portKey(x.app.Name, x.env, svc.Name, p)
			conflict := false
			for _, e := range held {
				if e.Key == key && svc.Proxied() {
					continue
				}
				if svc.Proxied() && d.ports.Get(key) == nil && movable(e, x, keys, p) {
					x.ports.moved[key] = e.Key
					conflict = true // not bound again: taken over
					break
				}
				if !svc.Proxied() && strings.HasPrefix(e.Key, portKeyPrefix(x.app.Name, x.env)) && !keys[e.Key] && heldOverlaps(e.Listener, p) {
					if !slices.Contains(x.ports.unbind, e.Key) {
						x.ports.unbind = append(x.ports.unbind, e.Key) // proxied before, direct now
					}
					conflict = true
					break
				}
				if heldOverlaps(e.Listener, p) {
					conflict = true
					msgs = append(msgs, fmt.Sprintf("service %q: ports[%d] %s: berth already publishes host port %s/%s for %s; publish another port, or remove it there first", svc.Name, i, p.PublishedLabel(), e.Listener.Addr(), e.Listener.Network(), e.Owner))
					break
				}
			}
			if conflict || !svc.Proxied() || d.ports.Get(key) != nil {
				continue
			}
			l, err := listenPort(p)
			if err != nil && wasDirect(live, svc.Name, p) {
				// Direct before, through berth now: its old container
				// holds the port until stopDirect stops it.
				x.ports.late[key] = p
				x.ports.stopFirst[svc.Name] = true
				continue
			}
			if err != nil {
				msgs = append(msgs, fmt.Sprintf("service %q: ports[%d] %s: %v: another program (or a container publishing it itself) holds the port; stop it, or publish another port", svc.Name, i, p.PublishedLabel(), err))
				continue
			}
			x.ports.fresh[key] = l
			if p.Published == 0 || p.PublishedEnd != 0 {
				x.t.say("%s: container port %d/%s is published on %s (berth picked it; set published: to choose)", svc.Name, p.Target, p.Protocol, l.Addr())
			}
		}
	}
	if len(msgs) > 0 {
		d.closeFresh(x)
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(msgs, "; "))
	}
	return nil
}

// wasDirect reports whether the live release's service name published a
// port overlapping p on its container.
func wasDirect(live *spec.App, name string, p spec.Port) bool {
	if live == nil {
		return false
	}
	svc, ok := live.Service(name)
	if !ok || svc.Publish != spec.PublishDirect {
		return false
	}
	for _, q := range svc.Ports {
		if spec.PortsOverlap(q, p) {
			return true
		}
	}
	return false
}

// movable reports whether port p of the release may take over listener
// e: one of the app/env's that the release no longer has, on exactly the
// address and protocol p binds.
func movable(e l4.Entry, x *execution, keys map[string]bool, p spec.Port) bool {
	if !strings.HasPrefix(e.Key, portKeyPrefix(x.app.Name, x.env)) || keys[e.Key] || e.Listener.Network() != p.Protocol || p.Published == 0 || p.PublishedEnd != 0 {
		return false
	}
	host, port, _ := net.SplitHostPort(e.Listener.Addr().String())
	want := p.HostIP
	if want == "" {
		want = "::" // Go binds every address as [::] (dual stack)
	}
	return port == strconv.Itoa(p.Published) && (host == want || anyHost(host) && anyHost(want))
}

func anyHost(h string) bool { return h == "" || h == "::" || h == "0.0.0.0" }

// heldOverlaps reports whether listener l, held by berth, claims a host
// port p would.
func heldOverlaps(l *l4.Listener, p spec.Port) bool {
	host, port, _ := net.SplitHostPort(l.Addr().String())
	n, _ := strconv.Atoi(port)
	return spec.PortsOverlap(spec.Port{Protocol: l.Network(), HostIP: host, Published: n}, p)
}

// listenPort binds the listener of p: its published port, the first
// free one of its range, or any free port.
func listenPort(p spec.Port) (*l4.Listener, error) {
	first, last := p.Published, max(p.PublishedEnd, p.Published)
	var err error
	for n := first; n <= last; n++ {
		var l *l4.Listener
		if l, err = l4.Listen(p.Protocol, bindAddr(p, n), l4.Options{}); err == nil {
			return l, nil
		}
	}
	return nil, err
}

// closeFresh closes the listeners a refused execution bound.
func (d *Deployer) closeFresh(x *execution) {
	for k, l := range x.ports.fresh {
		l.Close()
		delete(x.ports.fresh, k)
	}
}

// portTargets are the containers that serve svc's port p in the new
// release: those it started and the stateful ones it keeps.
func portTargets(x *execution, plan Plan, svc spec.Service, p spec.Port) []l4.Target {
	cs := slices.Clone(plan.Keep[svc.Name])
	for _, c := range x.started {
		if c.Labels[engine.LabelService] == svc.Name {
			cs = append(cs, c)
		}
	}
	return containerTargets(cs, NetworkName(x.app.Name, x.env), p)
}

func containerTargets(cs []engine.Container, network string, p spec.Port) []l4.Target {
	var ts []l4.Target
	for _, c := range cs {
		if ip := c.Addresses[network]; ip != "" {
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
	network := NetworkName(x.app.Name, x.env)
	for _, c := range x.started {
		svc, ok := x.app.Service(c.Labels[engine.LabelService])
		if !ok || len(svc.Ports) == 0 || svc.Check != nil {
			continue
		}
		for _, p := range svc.Ports {
			if p.Protocol != "tcp" {
				continue
			}
			addr := net.JoinHostPort(c.Addresses[network], strconv.Itoa(p.Target))
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

// drainPorts lets the old pools' connections finish, up to each
// service's drain timeout, then cuts the rest; ports the release dropped
// are unbound after.
func (d *Deployer) drainPorts(x *execution, sw []switchedPort) {
	var wg sync.WaitGroup
	for _, s := range sw {
		timeout := spec.DefaultDrainTimeout
		if svc, ok := x.app.Service(s.service); ok {
			timeout = svc.DrainTimeout.D()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			what := "connection(s)"
			if strings.HasSuffix(s.label, "/udp") {
				what = "UDP flow(s)"
			}
			n := s.old.Open()
			r := s.old.Drain(timeout)
			switch {
			case r.Cut > 0:
				x.t.say("drained %s %s release %s in %s; %d %s cut at the drain timeout", s.service, s.label, s.old.Release(), r.Waited.Round(time.Millisecond), r.Cut, what)
			case n > 0:
				x.t.say("drained %s %s release %s in %s (%d open %s finished)", s.service, s.label, s.old.Release(), r.Waited.Round(time.Millisecond), n, what)
			}
			if s.remove != nil {
				s.remove.Close()
			}
		}()
	}
	wg.Wait()
}

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
		p := x.ports.late[key]
		l, err := listenPort(p)
		if err != nil {
			return fmt.Errorf("%w: ports %s: %v, after its old container stopped: another program holds the port; stop it, or publish another port", ErrInvalid, p.PublishedLabel(), err)
		}
		x.ports.fresh[key] = l
	}
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
				ts := containerTargets(cs, NetworkName(app, env), p)
				l := d.ports.Get(key)
				if l == nil {
					var err error
					if l, err = listenPort(p); err != nil {
						d.log.Error("converge: publish port", "app", app, "env", env, "service", svc.Name, "port", p.PublishedLabel(), "error", err)
						continue
					}
					d.ports.Put(key, portOwner(app, env, svc.Name), l)
					d.log.Info("port restored", "app", app, "env", env, "service", svc.Name, "port", p.PublishedLabel(), "addr", l.Addr().String(), "release", live.ID, "targets", len(ts))
				} else if cur := l.Current(); cur != nil && cur.Release() == label && sameL4Targets(cur.Targets(), ts) {
					continue
				}
				if old := l.Swap(l4.NewPool(label, ts)); old != nil {
					go old.Drain(svc.DrainTimeout.D())
				}
			}
		}
	}
	for _, e := range d.ports.List() {
		if strings.HasPrefix(e.Key, portKeyPrefix(app, env)) && !keep[e.Key] {
			d.ports.Remove(e.Key)
			go func() {
				if p := e.Listener.Current(); p != nil {
					p.Drain(spec.DefaultDrainTimeout)
				}
				e.Listener.Close()
			}()
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

// PublishedStatus is one published port of a service.
type PublishedStatus struct {
	// Port is the port as the file has it ("127.0.0.1:8080:80/tcp").
	Port string `json:"port"`
	// Addr is the host address berth's listener holds; empty for a port
	// the container publishes itself (x-berth.publish: direct), or one
	// not bound (see the server's log).
	Addr   string `json:"addr,omitempty"`
	Direct bool   `json:"direct,omitempty"`
	// Served counts the connections (UDP flows) the listener forwarded
	// since berth started; Open is how many are open now, over every
	// release still draining.
	Served uint64 `json:"served,omitempty"`
	Open   int    `json:"open,omitempty"`
}

// publishedStatus fills in the published ports of the live release's
// services.
func (d *Deployer) publishedStatus(st *EnvStatus) {
	if st.Live == nil {
		return
	}
	for i := range st.Services {
		svc, ok := st.Live.Spec.Service(st.Services[i].Name)
		if !ok {
			continue
		}
		for _, p := range svc.Ports {
			ps := PublishedStatus{Port: p.PublishedLabel(), Direct: !svc.Proxied()}
			if l := d.ports.Get(portKey(st.App, st.Env, svc.Name, p)); l != nil && svc.Proxied() {
				ps.Addr = l.Addr().String()
				ps.Served = l.Counters().Served
				if cur := l.Current(); cur != nil {
					ps.Open = cur.Open()
				}
			}
			st.Services[i].Published = append(st.Services[i].Published, ps)
		}
	}
}
