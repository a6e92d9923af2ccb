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
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

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
	late      map[string]latePort
	stopFirst map[string]bool
	// before are the app/env's listener counts as the execution began;
	// live says whether any listener served then (the tally counts).
	before l4.Counters
	live   bool
	// gone are listeners the release no longer has: their counts still
	// belong to this deployment's tally.
	gone []*l4.Listener
}

// latePort is a port bound once its service's old container stopped.
type latePort struct {
	service string
	port    spec.Port
}

// sayPicked prints the host port berth picked for p, when the file let
// it pick (no published port, or a range).
func sayPicked(x *execution, service string, p spec.Port, l *l4.Listener) {
	if p.Published == 0 || p.PublishedEnd != 0 {
		x.t.say("%s: container port %d/%s is published on %s (berth picked it; set published: to choose)", service, p.Target, p.Protocol, l.Addr())
	}
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
// The new containers record the host ports berth picked (annotatePorts).
func (d *Deployer) reservePorts(x *execution, plan *Plan) error {
	x.ports.fresh = map[string]*l4.Listener{}
	x.ports.moved = map[string]string{}
	x.ports.unbind, x.ports.late, x.ports.stopFirst = nil, map[string]latePort{}, map[string]bool{}
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
				x.ports.late[key] = latePort{svc.Name, p}
				x.ports.stopFirst[svc.Name] = true
				continue
			}
			if err != nil && d.proxyPort(p) != "" {
				msgs = append(msgs, fmt.Sprintf("service %q: ports[%d] %s: host port %s is berth's own HTTP proxy (berth server --http-addr/--https-addr), which routes services by Host header%s; remove this port, or publish another host port (e.g. %d:%d)",
					svc.Name, i, p.PublishedLabel(), d.proxyPort(p), routedNote(svc), 8000+p.Target%1000, p.Target))
				continue
			}
			if err != nil {
				msgs = append(msgs, fmt.Sprintf("service %q: ports[%d] %s: %v: another program (or a container publishing it itself) holds the port; stop it, or publish another port", svc.Name, i, p.PublishedLabel(), err))
				continue
			}
			x.ports.fresh[key] = l
			if x.canary == 0 { // a canary closes it again
				sayPicked(x, svc.Name, p, l)
			}
		}
	}
	if len(msgs) > 0 {
		d.closeFresh(x)
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(msgs, "; "))
	}
	d.annotatePorts(x, plan)
	return nil
}

// proxyPort is the address of berth's own proxy that p's host port
// would take, or "".
func (d *Deployer) proxyPort(p spec.Port) string {
	if p.Protocol != "tcp" || p.Published == 0 {
		return ""
	}
	for _, a := range d.proxyAt {
		host, port, err := net.SplitHostPort(a)
		n, _ := strconv.Atoi(port)
		if err != nil || n < p.Published || n > max(p.PublishedEnd, p.Published) {
			continue
		}
		if host == "" || p.HostIP == "" || host == p.HostIP || net.ParseIP(host).IsUnspecified() || net.ParseIP(p.HostIP).IsUnspecified() {
			return a
		}
	}
	return ""
}

// routedNote says where svc is routed, for a refusal of its port.
func routedNote(svc spec.Service) string {
	if !svc.Routed() {
		return ""
	}
	return " (it routes this service at " + strings.Join(svc.Hosts, ", ") + ")"
}

// labelPicked, followed by a port as the file has it, labels a container
// with the host port berth picked for it (a port without published, or a
// range), so that after a restart berth binds the same one again.
const labelPicked = "berth.published."

// annotatePorts labels the containers the plan starts with the host
// ports berth picked for their service.
func (d *Deployer) annotatePorts(x *execution, plan *Plan) {
	for _, pl := range plan.Start {
		svc, ok := x.app.Service(pl.Service)
		if !ok || !svc.Proxied() || pl.Spec.Labels == nil {
			continue
		}
		for _, p := range svc.Ports {
			if p.Published != 0 && p.PublishedEnd == 0 {
				continue
			}
			key := portKey(x.app.Name, x.env, svc.Name, p)
			l := d.ports.Get(key)
			if l == nil {
				l = x.ports.fresh[key]
			}
			if l != nil {
				pl.Spec.Labels[labelPicked+p.PublishedLabel()] = strconv.Itoa(l.Port())
			}
		}
	}
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
func listenPort(p spec.Port) (*l4.Listener, error) { return listenPicked(p, 0) }

// listenPicked is listenPort trying the port berth picked before first
// (0: none), when p lets berth pick.
func listenPicked(p spec.Port, picked int) (*l4.Listener, error) {
	first, last := p.Published, max(p.PublishedEnd, p.Published)
	if picked > 0 && (p.Published == 0 || (picked >= first && picked <= last)) {
		if l, err := l4.Listen(p.Protocol, bindAddr(p, picked), l4.Options{}); err == nil {
			return l, nil
		}
	}
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
