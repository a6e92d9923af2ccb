package deploy

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
)

// A scale's moving parts (scale.go): the new replicas of a scale-out,
// their gate, and the successor pools both directions switch to.

// startedOf are the containers x started for service.
func startedOf(x *execution, service string) []engine.Container {
	var out []engine.Container
	for _, c := range x.started {
		if c.Labels[engine.LabelService] == service {
			out = append(out, c)
		}
	}
	return out
}

// scaleOut starts the new replicas of every step that adds some, from
// the live release's definition, and gates them.
func (d *Deployer) scaleOut(ctx context.Context, x *execution, steps []scaleStep) error {
	indexes := map[string][]int{}
	for _, st := range steps {
		if len(st.start) > 0 {
			indexes[st.svc.Name] = st.start
		}
	}
	if len(indexes) == 0 {
		return nil
	}
	if err := d.ensureNetworks(ctx, x.app, x.env, x.t.say); err != nil {
		return err
	}
	vars, err := d.releaseEnv(x.rel)
	if err != nil {
		return err
	}
	files, err := d.releaseFiles(x.rel, x.app)
	if err != nil {
		return err
	}
	images := map[string]string{}
	for name, si := range x.rel.Services {
		images[name] = si.ImageID
	}
	plan := MakePlan(Desired{App: x.app, Env: x.env, Release: x.rel.ID, Images: images, Suffix: randomSuffix(), Vars: vars, Files: files}, nil)
	vols := map[string]spec.Volume{} // of the services that grow only
	for _, st := range steps {
		if len(st.start) > 0 {
			addVolumes(vols, x.app, x.env, st.svc)
		}
	}
	if err := d.ensureVolumes(ctx, x.app, x.env, vols, x.t.say); err != nil {
		return err
	}
	var ps []Placement
	for _, p := range plan.Start {
		if slices.Contains(indexes[p.Service], p.Index) {
			ps = append(ps, p)
		}
	}
	if err := d.startPlacements(ctx, x, ps); err != nil {
		return err
	}
	for _, st := range steps {
		if st.svc.Routed() && len(st.start) > 0 {
			x.pools[st.svc.Name] = d.successorPool(x, st, append(slices.Clone(st.keep), startedOf(x, st.svc.Name)...))
		}
	}
	return d.scaleGate(ctx, x, steps)
}

// scaleGate waits until every new container is ready: a routed one
// passes berth's health check, a worker stays up for workerSettle (or
// its Compose healthcheck says healthy); an exited or unhealthy one
// fails the scale at once, one not ready by its service's deadline at
// the deadline.
func (d *Deployer) scaleGate(ctx context.Context, x *execution, steps []scaleStep) error {
	deadline := time.Duration(0)
	for _, st := range steps {
		if len(st.start) == 0 {
			continue
		}
		if st.svc.Routed() {
			deadline = max(deadline, st.svc.Healthcheck.Deadline.D())
		} else {
			deadline = max(deadline, workerDeadline, st.svc.Check.Wait())
		}
	}
	start := d.now()
	reported := map[string]int{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	lastInspect := time.Time{}
	for {
		now := d.now()
		ready := true
		for _, st := range steps {
			pool, ok := x.pools[st.svc.Name]
			if !ok {
				continue
			}
			n := healthyOf(pool, startedOf(x, st.svc.Name))
			if n > reported[st.svc.Name] {
				reported[st.svc.Name] = n
				x.t.say("healthy %s %d/%d new", st.svc.Name, n, len(st.start))
			}
			if n < len(st.start) {
				ready = false
				if now.Sub(start) > st.svc.Healthcheck.Deadline.D() {
					return d.unhealthyError(st.svc, pool)
				}
			}
		}
		if now.Sub(lastInspect) >= 100*time.Millisecond || ready {
			lastInspect = now
			workersReady, err := d.checkContainers(ctx, x)
			if err != nil {
				return err
			}
			if ready && workersReady {
				return nil
			}
			if now.Sub(start) > deadline {
				return fmt.Errorf("new workers did not stay up for %s within %s", workerSettle, deadline)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// successorPool is st's next pool, of containers cs: those the current
// pool has in rotation start in rotation (NewPoolFrom), the others once
// they pass their health checks. It is not routed until scaleSwitch.
func (d *Deployer) successorPool(x *execution, st scaleStep, cs []engine.Container) *proxy.Pool {
	key := routeKey(x.app.Name, x.env, st.svc.Name)
	cur, _ := d.proxy.Route(key)
	var targets []proxy.Target
	for _, c := range cs {
		if ip := ContainerAddress(c, x.app.Name, x.env); ip != "" {
			targets = append(targets, proxy.Target{ID: c.ID, Name: c.Name, Addr: net.JoinHostPort(ip, strconv.Itoa(st.svc.Port))})
		}
	}
	return proxy.NewPoolFrom(cur, key, releaseLabel(x.rel.ID), targets, healthConfig(st.svc), d.log)
}

// scaleSwitch swaps pool into st's route through the proxy's switch,
// once as many of its targets are healthy as are now; the pool it
// replaced drains in the proxy's background (the returned Drain).
func (d *Deployer) scaleSwitch(ctx context.Context, x *execution, st scaleStep, pool *proxy.Pool) (*proxy.Drain, error) {
	wctx, cancel := context.WithTimeout(ctx, st.svc.Healthcheck.Deadline.D())
	defer cancel()
	dr, err := d.proxy.Switch(wctx, proxy.SwitchRequest{Key: routeKey(x.app.Name, x.env, st.svc.Name), Hosts: st.svc.Hosts, Pool: pool,
		Options: routeOptions(st.svc), Healthy: max(pool.Healthy(), 1), DrainTimeout: st.svc.DrainTimeout.D()})
	if err != nil {
		return nil, fmt.Errorf("switch %s: %w", st.svc.Name, err)
	}
	return dr, nil
}

// healthyOf counts the containers of cs that pool has in rotation.
func healthyOf(pool *proxy.Pool, cs []engine.Container) int {
	ids := map[string]bool{}
	for _, c := range cs {
		ids[c.ID] = true
	}
	n := 0
	for _, s := range pool.Status() {
		if s.Healthy && ids[s.Target.ID] {
			n++
		}
	}
	return n
}
