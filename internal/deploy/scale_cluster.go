package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
)

// Scale on a cluster engine (engine.Workloads: Swarm) changes the
// replica count of each service's one workload (ScaleWorkload: no
// rollout, the tasks it keeps are untouched).
//
// Scale-out: Swarm places the new tasks (deploy.resources.reservations,
// placement), and berth routes each once it passes berth's health check
// (syncClusterRoutes health-checks new targets before they get traffic);
// the scale waits until the service runs its new count, every task
// healthy. A task that never passes, or that Swarm cannot place (no node
// with room), fails the scale after the service's health deadline and
// the service goes back to its count, by the scale-in path.
//
// Scale-in: berth works out which tasks Swarm will remove
// (swarmScaleInVictims), takes them out of rotation through the proxy's
// switch, waits until what they had in flight is done (drain_timeout at
// most), and only then lowers the replica count, so Swarm stops tasks
// that serve nothing. It then checks what Swarm chose: a task Swarm
// marks for removal that berth did not drain leaves rotation at once
// (Docker waits 2 s after marking a task on an overlay network before it
// stops it, and then its stop_grace_period), and the drained tasks Swarm
// kept are health-checked back in.

// scaleCluster is Scale's executor on a cluster: the scale-outs first,
// then the scale-ins. It returns the steps that went through.
func (d *Deployer) scaleCluster(ctx context.Context, x *execution, w engine.Workloads, steps []scaleStep) (done []scaleStep, err error) {
	order := slices.Clone(steps)
	slices.SortStableFunc(order, func(a, b scaleStep) int { return (b.to - b.from) - (a.to - a.from) })
	for _, st := range order {
		switch {
		case st.to > st.from:
			err = d.clusterScaleOut(ctx, x, w, st)
		case st.to < st.from:
			err = d.clusterScaleIn(ctx, x, w, st)
		default:
			x.t.say("%s already runs %d replica(s)", st.svc.Name, st.to)
		}
		if err != nil {
			return done, err
		}
		done = append(done, st)
	}
	return done, nil
}

// clusterScaleOut raises st's workload to st.to replicas and waits until
// they all serve, healthy; on failure it goes back to st.from.
func (d *Deployer) clusterScaleOut(ctx context.Context, x *execution, w engine.Workloads, st scaleStep) error {
	name := WorkloadName(x.app.Name, x.env, st.svc.Name)
	x.t.say("%s: %d → %d replica(s): Swarm places %d new task(s)", st.svc.Name, st.from, st.to, st.to-st.from)
	if err := w.ScaleWorkload(ctx, name, uint64(st.to)); err != nil {
		return fmt.Errorf("service %q: %w", st.svc.Name, err)
	}
	err := d.followClusterScale(ctx, x, w, st)
	if err == nil {
		return nil
	}
	x.t.say("%s: %v; going back to %d replica(s)", st.svc.Name, err, st.from)
	back := st
	back.from, back.to = st.to, st.from
	back.svc.Replicas = st.from
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if berr := d.clusterScaleIn(bctx, x, w, back); berr != nil {
		x.t.say("warning: %s: going back to %d replica(s) failed: %v", st.svc.Name, st.from, berr)
	}
	return err
}

// followClusterScale waits until st's service runs st.to tasks of the
// live release, each serving and (when routed) healthy in the proxy,
// keeping the route on its serving tasks and reporting each task's
// changes. No task changing for the service's health deadline (or
// workerDeadline) fails it, saying what waits; so does a serving task
// that does not pass the health check by the deadline.
func (d *Deployer) followClusterScale(ctx context.Context, x *execution, w engine.Workloads, st scaleStep) error {
	deadline := max(st.svc.Healthcheck.Deadline.D(), workerDeadline, st.svc.Check.Wait())
	want := releaseLabel(x.rel.ID)
	labels := map[string]string{engine.LabelApp: x.app.Name, engine.LabelEnv: x.env, engine.LabelService: st.svc.Name}
	seen := map[string]string{}
	firstServing := map[string]time.Time{}
	lastProgress := d.now()
	reported := 0
	tick := time.NewTicker(clusterPollInterval)
	defer tick.Stop()
	for {
		insts, err := w.ListInstances(ctx, labels)
		if err != nil {
			return fmt.Errorf("follow the scale: %w", err)
		}
		if reportTasks(x, insts, seen) {
			lastProgress = d.now()
		}
		d.syncClusterRoutes(ctx, x.app, x.env, want, insts)
		healthy := d.healthyTargets(x.app.Name, x.env, st.svc.Name)
		n, ready := 0, 0
		for _, in := range insts {
			if in.Desired != engine.DesiredRunning {
				continue
			}
			n++
			if in.Labels[engine.LabelRelease] != want || !in.Serving() {
				continue
			}
			if !st.svc.Routed() || healthy[in.ID] {
				ready++
				continue
			}
			t0, ok := firstServing[in.ID]
			if !ok {
				firstServing[in.ID], t0 = d.now(), d.now()
			}
			if d.now().Sub(t0) > st.svc.Healthcheck.Deadline.D() {
				return d.clusterUnhealthy(st.svc, in)
			}
		}
		if ready > reported {
			reported = ready
			lastProgress = d.now()
			x.t.say("healthy %s %d/%d", st.svc.Name, ready, st.to)
		}
		if ready == st.to && n == st.to {
			return nil
		}
		if since := d.now().Sub(lastProgress); since > deadline {
			pending := pendingTasks(insts, want)
			return fmt.Errorf("the scale made no progress for %s: %s%s", since.Round(time.Second), pending, noRoomAdvice(pending, st.svc.Name))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// noRoomAdvice says what to do when Swarm cannot place a task of
// service (its pending tasks' errors, pending), or "".
func noRoomAdvice(pending, service string) string {
	switch {
	case strings.Contains(pending, "host-mode port"):
		return "; a fixed published port (ports: in mode host) lets one task of " + service + " run per node: scale to at most the nodes it may run on, or drop the published port and let Swarm pick one"
	case strings.Contains(pending, "no suitable node"):
		return "; no node has room for another task of " + service + " (deploy.resources.reservations, deploy.placement): add a node, lower the reservations, or scale to fewer"
	}
	return ""
}

// healthyTargets are the targets of service's route the proxy has in
// rotation, by ID.
func (d *Deployer) healthyTargets(app, env, service string) map[string]bool {
	out := map[string]bool{}
	if pool, _ := d.proxy.Route(routeKey(app, env, service)); pool != nil {
		for _, s := range pool.Status() {
			if s.Healthy {
				out[s.ID] = true
			}
		}
	}
	return out
}

// clusterScaleIn drains the tasks Swarm will remove, then lowers st's
// workload to st.to replicas (see the top of this file).
func (d *Deployer) clusterScaleIn(ctx context.Context, x *execution, w engine.Workloads, st scaleStep) error {
	name := WorkloadName(x.app.Name, x.env, st.svc.Name)
	labels := map[string]string{engine.LabelApp: x.app.Name, engine.LabelEnv: x.env, engine.LabelService: st.svc.Name}
	insts, err := w.ListInstances(ctx, labels)
	if err != nil {
		return fmt.Errorf("service %q: list its tasks: %w", st.svc.Name, err)
	}
	victims := swarmScaleInVictims(insts, st.to)
	gone := map[string]bool{}
	for _, v := range victims {
		gone[v.ID] = true
	}
	wanted := map[string]bool{} // desired running before the scale
	for _, in := range insts {
		if in.Desired == engine.DesiredRunning {
			wanted[in.ID] = true
		}
	}
	if st.svc.Routed() && len(victims) > 0 {
		if err := d.drainVictims(ctx, x, st, insts, victims); err != nil {
			return err
		}
	}
	x.t.say("%s: %d → %d replica(s): Swarm stops %s", st.svc.Name, st.from, st.to, taskNames(victims))
	if err := w.ScaleWorkload(ctx, name, uint64(st.to)); err != nil {
		// The drained tasks still run: the next route sync (a poll of
		// the cluster) health-checks them back into rotation.
		return fmt.Errorf("service %q: %w", st.svc.Name, err)
	}
	return d.checkSwarmChoice(ctx, x, w, st, labels, wanted, gone)
}

// drainVictims switches st's route to a pool of its serving tasks but
// victims and waits until the pool it replaced has drained.
func (d *Deployer) drainVictims(ctx context.Context, x *execution, st scaleStep, insts, victims []engine.Instance) error {
	key := routeKey(x.app.Name, x.env, st.svc.Name)
	gone := map[string]bool{}
	for _, v := range victims {
		gone[v.ID] = true
	}
	keep := slices.DeleteFunc(slices.Clone(insts), func(in engine.Instance) bool { return gone[in.ID] })
	cur, _ := d.proxy.Route(key)
	pool := proxy.NewPoolFrom(cur, key, releaseLabel(x.rel.ID), targetsOf(keep, st.svc.Name), healthConfig(st.svc), d.log)
	wctx, cancel := context.WithTimeout(ctx, st.svc.Healthcheck.Deadline.D())
	defer cancel()
	dr, err := d.proxy.Switch(wctx, proxy.SwitchRequest{Key: key, Hosts: st.svc.Hosts, Pool: pool, Options: routeOptions(st.svc),
		Healthy: max(pool.Healthy(), 1), DrainTimeout: st.svc.DrainTimeout.D()})
	if err != nil {
		pool.Close()
		return fmt.Errorf("switch %s: %w", st.svc.Name, err)
	}
	if dr == nil {
		x.t.say("%s: took %s out of rotation", st.svc.Name, taskNames(victims))
		return nil
	}
	x.t.say("%s: took %s out of rotation; draining until %s (%s) before Swarm stops them",
		st.svc.Name, taskNames(victims), dr.Deadline.Format(time.TimeOnly), inFlight(dr))
	t0 := d.now()
	if _, ok := dr.Wait(ctx); !ok {
		return fmt.Errorf("interrupted while %s drained: %w", st.svc.Name, ctx.Err())
	}
	x.t.say("%s: drained in %s", st.svc.Name, d.now().Sub(t0).Round(time.Millisecond))
	return nil
}

// checkSwarmChoice waits until st's service has st.to tasks desired
// running and compares the tasks Swarm marked for removal among those
// wanted before the scale with those berth drained (gone): any other
// leaves rotation at once and is named; drained ones Swarm kept go back
// into rotation once healthy.
func (d *Deployer) checkSwarmChoice(ctx context.Context, x *execution, w engine.Workloads, st scaleStep, labels map[string]string, wanted, gone map[string]bool) error {
	want := releaseLabel(x.rel.ID)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := d.now().Add(30 * time.Second)
	for {
		insts, err := w.ListInstances(ctx, labels)
		if err != nil {
			return fmt.Errorf("follow the scale: %w", err)
		}
		n := 0
		var other []engine.Instance
		kept := 0
		for _, in := range insts {
			switch {
			case in.Desired == engine.DesiredRunning:
				n++
				if gone[in.ID] {
					kept++
				}
			case wanted[in.ID] && !gone[in.ID] && in.State == engine.StateRunning:
				other = append(other, in)
			}
		}
		if len(other) > 0 || (n <= st.to && kept > 0) {
			// Not what berth predicted: route by what Swarm does.
			d.syncClusterRoutes(ctx, x.app, x.env, want, insts)
		}
		if len(other) > 0 {
			x.t.say("warning: %s: Swarm also stops %s, which berth had not drained: taken out of rotation now", st.svc.Name, taskNames(other))
			for _, o := range other {
				gone[o.ID] = true
			}
		}
		if n <= st.to {
			if kept > 0 {
				x.t.say("%s: Swarm kept %d drained task(s): back in rotation once healthy", st.svc.Name, kept)
			}
			return nil
		}
		if d.now().After(deadline) {
			return fmt.Errorf("service %q: Swarm still wants %d task(s) running 30s after the scale to %d", st.svc.Name, n, st.to)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// taskNames names tasks as status does (service.slot@node).
func taskNames(ts []engine.Instance) string {
	if len(ts) == 0 {
		return "no task"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = instanceName(t)
	}
	return strings.Join(names, ", ")
}
