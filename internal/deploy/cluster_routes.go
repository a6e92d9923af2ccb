package deploy

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
)

// On a cluster, routes follow the instances: every pass lists them and,
// for each routed service whose set of serving instances changed, builds
// a successor pool (instances it kept stay healthy, new ones are
// health-checked before they get traffic), swaps it in and drains the
// one it replaced. An instance the cluster is stopping (replaced, scaled
// in, drained off its node) leaves the pool on the first pass that sees
// it; a task on a node that went down fails its health checks and leaves
// rotation after UnhealthyThreshold intervals, before Swarm notices.

// clusterPollInterval is how often a deployment on a cluster polls its
// workloads' rollout and instances.
const clusterPollInterval = 250 * time.Millisecond

// targetsOf are the proxy targets of svc's serving instances, sorted.
func targetsOf(insts []engine.Instance, svc string) []proxy.Target {
	var out []proxy.Target
	for _, in := range insts {
		if in.Labels[engine.LabelService] != svc || !in.Serving() {
			continue
		}
		out = append(out, proxy.Target{ID: in.ID, Name: instanceName(in), Addr: in.Addr})
	}
	slices.SortFunc(out, func(a, b proxy.Target) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// instanceName is how status and logs name a task: service.slot@node.
func instanceName(in engine.Instance) string {
	name := in.Labels[engine.LabelService]
	if name == "" {
		name = in.WorkloadName
	}
	s := name + "." + strconv.Itoa(in.Slot)
	if in.Node != "" {
		s += "@" + in.Node
	}
	return s
}

// syncClusterRoutes points every routed service of app in env at its
// serving instances (see above), labelling new pools with release. It
// returns how many routes it changed. Old pools drain in the background,
// bounded by each service's drain timeout.
func (d *Deployer) syncClusterRoutes(ctx context.Context, app *spec.App, env, release string, insts []engine.Instance) int {
	changed := 0
	for _, svc := range app.Services {
		if !svc.Routed() {
			continue
		}
		key := routeKey(app.Name, env, svc.Name)
		targets := targetsOf(insts, svc.Name)
		cur, _ := d.proxy.Route(key)
		if cur != nil && sameTargets(cur, targets) {
			if o, ok := d.proxy.RouteOptionsOf(key); ok && o.Equal(routeOptions(svc)) {
				d.pending.drop(key)
				continue
			}
		}
		pool, since := d.pending.get(key, targets, func() *proxy.Pool {
			return proxy.NewPoolFrom(cur, key, release, targets, healthConfig(svc), d.log)
		}, d.now())
		// Never swap a route that serves onto a successor with no healthy
		// target (every task got a new address, e.g. its node rejoined):
		// it waits, health-checked, for up to the health deadline.
		if cur != nil && cur.Healthy() > 0 && pool.Healthy() == 0 && d.now().Sub(since) < svc.Healthcheck.Deadline.D() {
			continue
		}
		d.pending.take(key)
		// The wait for health is the pass's (above): Switch swaps at once
		// and drains the pool it replaced in the background.
		if _, err := d.proxy.Switch(ctx, proxy.SwitchRequest{Key: key, Hosts: svc.Hosts, Pool: pool, Options: routeOptions(svc), DrainTimeout: svc.DrainTimeout.D()}); err != nil {
			pool.Close()
			d.log.Warn("route cluster service", "app", app.Name, "env", env, "service", svc.Name, "error", err)
			continue
		}
		changed++
	}
	return changed
}

// SyncClusterRoutes keeps the routes of every live app environment in
// line with its instances, once: what converge does for containers, for
// a cluster's tasks (reconcile.FollowCluster calls it periodically). It
// does nothing on a single-host engine. An app environment being
// deployed is followed by its deployment instead.
func (d *Deployer) SyncClusterRoutes(ctx context.Context) error {
	if d.cluster == nil {
		return nil
	}
	d.clusterPagesMu.Lock()
	defer d.clusterPagesMu.Unlock()
	if d.clusterPages == nil {
		d.clusterPages = map[[2]string]int64{}
	}
	return d.clusterSyncOnce(ctx, d.cluster, d.clusterPages)
}

func (d *Deployer) clusterSyncOnce(ctx context.Context, w engine.Workloads, pages map[[2]string]int64) error {
	apps, err := d.store.ListApps()
	if err != nil {
		return err
	}
	insts, err := w.ListInstances(ctx, map[string]string{engine.LabelManaged: "true"})
	if err != nil {
		return err
	}
	byEnv := map[[2]string][]engine.Instance{}
	for _, in := range insts {
		k := [2]string{in.Labels[engine.LabelApp], in.Labels[engine.LabelEnv]}
		byEnv[k] = append(byEnv[k], in)
	}
	for _, a := range apps {
		for _, env := range a.Envs {
			unlock, err := d.tryLockOnceQuiet(a.Name, env)
			if err != nil {
				continue // a deployment follows it
			}
			live, err := d.store.LiveRelease(a.Name, env)
			if err == nil {
				if k := [2]string{a.Name, env}; pages[k] != live.ID {
					d.restoreMaintenance(a.Name, env)
					d.applyErrorPages(&live.Spec, env)
					pages[k] = live.ID
				}
				d.syncClusterRoutes(ctx, &live.Spec, env, releaseLabel(live.ID), byEnv[[2]string{a.Name, env}])
				d.recordTaskEnds(ctx, a.Name, env, byEnv[[2]string{a.Name, env}])
			}
			unlock()
		}
	}
	return nil
}

// tryLockOnceQuiet claims app/env for a sync pass without waiting.
func (d *Deployer) tryLockOnceQuiet(app, env string) (func(), error) {
	unlock, err, _ := d.tryLockOnce(app, env, "reconcile")
	return unlock, err
}

// statusContainers lists app/env's containers for status: on a cluster,
// its tasks, each named service.slot@node, so status shows where every
// task runs.
func (d *Deployer) statusContainers(ctx context.Context, app, env string) ([]engine.Container, error) {
	labels := map[string]string{engine.LabelApp: app, engine.LabelEnv: env}
	w := d.cluster
	if w == nil {
		return d.eng.ListContainers(ctx, labels)
	}
	insts, err := w.ListInstances(ctx, labels)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Container, 0, len(insts))
	for _, in := range insts {
		state := in.State
		if in.Desired != engine.DesiredRunning && state == engine.StateRunning {
			state = engine.StateRemoving
		}
		out = append(out, engine.Container{ID: in.ID, Name: instanceName(in), Image: in.Image, State: state,
			ExitCode: in.ExitCode, StartedAt: in.Since, Labels: in.Labels, Addresses: map[string]string{NetworkName(app, env): in.Addr}})
	}
	return out, nil
}

// pendingPools are successor pools waiting for a healthy target before
// they replace a route's pool, by route.
type pendingPools struct {
	mu sync.Mutex
	m  map[proxy.RouteKey]pendingPool
}

type pendingPool struct {
	pool  *proxy.Pool
	since time.Time
}

// get returns key's pending pool when it serves exactly targets, or
// replaces it (closing the old one) with a new one from create.
func (pp *pendingPools) get(key proxy.RouteKey, targets []proxy.Target, create func() *proxy.Pool, now time.Time) (*proxy.Pool, time.Time) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if p, ok := pp.m[key]; ok {
		if sameTargets(p.pool, targets) {
			return p.pool, p.since
		}
		p.pool.Close()
	}
	if pp.m == nil {
		pp.m = map[proxy.RouteKey]pendingPool{}
	}
	p := pendingPool{pool: create(), since: now}
	pp.m[key] = p
	return p.pool, p.since
}

// take forgets key's pending pool: the caller routes it.
func (pp *pendingPools) take(key proxy.RouteKey) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	delete(pp.m, key)
}

// drop closes and forgets key's pending pool: it is not needed.
func (pp *pendingPools) drop(key proxy.RouteKey) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if p, ok := pp.m[key]; ok {
		p.pool.Close()
		delete(pp.m, key)
	}
}

// closeAll closes every pending pool (the deployer stops).
func (pp *pendingPools) closeAll() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for k, p := range pp.m {
		p.pool.Close()
		delete(pp.m, k)
	}
}
