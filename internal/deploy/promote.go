package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Promote makes app/env's canary the live release through the
// zero-downtime path: its workers start and are gated, the store records
// it live (the previous release superseded, kept for rollback), each
// route swaps to the canary's pool and the old pools drain before their
// containers stop. A canary without a healthy container is not promoted.
func (d *Deployer) Promote(ctx context.Context, app, env string, progress ProgressFunc) (store.Deployment, error) {
	if env == "" {
		env = spec.DefaultEnv
	}
	unlock, err := d.tryLock(app, env, store.KindPromote)
	if err != nil {
		return store.Deployment{}, err
	}
	defer unlock()
	c, err := d.store.GetCanary(app, env)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Deployment{}, fmt.Errorf("%w: %s/%s runs no canary: berth deploy --canary PERCENT -f FILE starts one", ErrCanary, app, env)
		}
		return store.Deployment{}, err
	}
	rel, err := d.store.GetRelease(app, env, c.ReleaseID)
	if err != nil {
		return store.Deployment{}, err
	}
	live, err := d.store.LiveRelease(app, env)
	if err != nil {
		return store.Deployment{}, err
	}
	run := d.canaryRunOf(app, env)
	if run == nil || run.rel != rel.ID {
		return store.Deployment{}, fmt.Errorf("%w: berth is still restoring canary release %d of %s/%s; try again in a few seconds", ErrCanary, rel.ID, app, env)
	}
	if why := run.unhealthy(); why != "" {
		return store.Deployment{}, fmt.Errorf("%w: not promoted: %s; fix it and deploy again, or remove it with berth rollback %s", ErrCanary, why, app)
	}
	t := newTracker(d.now, progress)
	t.say("promoting canary release %d of %s/%s (%d%% of clients) over release %d", rel.ID, app, env, c.Weight, live.ID)
	dep, err := d.store.CreateDeployment(store.Deployment{CreatedBy: ActorOf(ctx), App: app, Env: env, Kind: store.KindPromote, ReleaseID: rel.ID, FromReleaseID: live.ID})
	if err != nil {
		return store.Deployment{}, err
	}
	d.setRunningID(app, env, dep.ID, t)
	a := rel.Spec
	x := &execution{app: &a, env: env, rel: rel, dep: dep, t: t, previous: store.StatusSuperseded}
	d.withScales(x)
	return d.promote(ctx, x, run)
}

// promote is Promote once the deployment is recorded.
func (d *Deployer) promote(ctx context.Context, x *execution, run *canaryRun) (store.Deployment, error) {
	d.startCounting(x)
	x.pools = maps.Clone(run.pools)
	x.jobs = map[string]bool{}
	plan, err := d.prepare(ctx, x)
	if err == nil {
		x.adopted, err = d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: x.app.Name, engine.LabelEnv: x.env, engine.LabelRelease: releaseLabel(x.rel.ID)})
		x.adopted = d.notRetiring(x.adopted)
	}
	if err == nil && len(plan.Conflicts) > 0 {
		err = fmt.Errorf("%w: %s", ErrInvalid, strings.Join(plan.Conflicts, "; "))
	}
	if err == nil {
		err = d.reservePorts(x, &plan)
	}
	if err == nil {
		promotionPlan(x, &plan)
		err = d.replaceStateful(ctx, x, plan)
	}
	if err == nil {
		err = d.stopDirect(ctx, x, &plan)
	}
	if err == nil {
		err = d.startAll(ctx, x, plan)
	}
	if err == nil {
		err = d.gate(ctx, x)
	}
	var prev int64
	if err == nil {
		prev, err = d.store.Activate(x.app.Name, x.env, x.rel.ID, x.previous)
	}
	if err != nil {
		x.pools = nil // the canary's: they keep serving it
		d.abandon(x)
		return d.finish(x.dep, x.rel, x.t, d.counted(x), fmt.Errorf("promotion of release %d refused: %w; the canary keeps running (berth rollback %s removes it)", x.rel.ID, err, x.app.Name))
	}
	d.liveCommitted()
	d.dropCanaryRun(x.app.Name, x.env)
	d.applyErrorPages(x.app, x.env)
	old := d.switchRoutes(ctx, x)
	x.t.say("release %d is live (release %d superseded)", x.rel.ID, prev)
	return d.afterSwitch(ctx, x, plan, old), nil
}

// promotionPlan keeps the canary's running containers: only the services
// the canary did not start (workers, jobs) start now, and the canary's
// own containers are not retired.
func promotionPlan(x *execution, plan *Plan) {
	have := map[string]bool{}
	ids := map[string]bool{}
	for _, c := range x.adopted {
		if c.Labels[LabelOneOff] != "true" {
			have[c.Labels[engine.LabelService]] = true
			ids[c.ID] = true
		}
	}
	x.skip = map[string]bool{}
	start := plan.Start[:0:0]
	for _, p := range plan.Start {
		if have[p.Service] {
			x.skip[p.Service] = true
			continue
		}
		start = append(start, p)
	}
	plan.Start = start
	for svc, cs := range plan.Retire {
		keep := cs[:0:0]
		for _, c := range cs {
			if !ids[c.ID] {
				keep = append(keep, c)
			}
		}
		plan.Retire[svc] = keep
	}
}

// rollbackCanary removes app/env's canary c: the store records it rolled
// back, its routes' canary slots go (their clients back to live), its
// pools drain and its containers stop. The live release is untouched.
func (d *Deployer) rollbackCanary(ctx context.Context, app, env string, c store.Canary, to int64, progress ProgressFunc) (store.Deployment, error) {
	live, err := d.store.LiveRelease(app, env)
	if err != nil {
		return store.Deployment{}, err
	}
	if to != 0 && to != live.ID {
		return store.Deployment{}, fmt.Errorf("%w: release %d of %s/%s is a canary: berth rollback %s (without --to) removes it first", ErrCanary, c.ReleaseID, app, env, app)
	}
	rel, err := d.store.GetRelease(app, env, c.ReleaseID)
	if err != nil {
		return store.Deployment{}, err
	}
	t := newTracker(d.now, progress)
	t.say("removing canary release %d of %s/%s; release %d keeps serving", rel.ID, app, env, live.ID)
	dep, err := d.store.CreateDeployment(store.Deployment{CreatedBy: ActorOf(ctx), App: app, Env: env, Kind: store.KindRollback, ReleaseID: live.ID, FromReleaseID: rel.ID})
	if err != nil {
		return store.Deployment{}, err
	}
	d.setRunningID(app, env, dep.ID, t)
	a := rel.Spec
	x := &execution{app: &a, env: env, rel: live, dep: dep, t: t}
	d.startCounting(x)
	reason := "canary removed by berth rollback"
	if c.Unhealthy != "" {
		reason += " (" + c.Unhealthy + ")"
	}
	if err := d.store.EndCanary(app, env, rel.ID, reason); err != nil {
		return d.finish(x.dep, live, t, d.counted(x), fmt.Errorf("record the canary rolled back: %w", err))
	}
	drains := d.removeCanaryRoutes(app, env, &a)
	cs, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: env, engine.LabelRelease: releaseLabel(rel.ID)})
	if err != nil {
		return d.finish(x.dep, live, t, d.counted(x), fmt.Errorf("list the canary's containers: %w", err))
	}
	retire := map[string][]engine.Container{}
	for _, c := range d.notRetiring(cs) {
		if c.Labels[LabelOneOff] != "true" && c.Labels[LabelStateful] != "true" {
			retire[c.Labels[engine.LabelService]] = append(retire[c.Labels[engine.LabelService]], c)
		}
	}
	d.retireLater(x, retire, drains, nil)
	t.say("canary release %d removed; release %d is live", rel.ID, live.ID)
	return d.finish(x.dep, live, t, d.counted(x), nil)
}

// removeCanaryRoutes forgets app/env's canary run and takes the canary
// slot off each of its routes with a proxy Switch (their clients go back
// to live; the pools drain in the background, each up to its service's
// drain timeout in def, when given). It returns the drains by service,
// and closes the run's pools that were never routed.
func (d *Deployer) removeCanaryRoutes(app, env string, def *spec.App) map[string]*proxy.Drain {
	old := map[string]*proxy.Drain{}
	routed := map[*proxy.Pool]bool{}
	run := d.dropCanaryRun(app, env)
	for _, r := range d.proxy.Routes() {
		if r.Key.App != app || r.Key.Env != env || r.Canary == nil {
			continue
		}
		req := proxy.SwitchRequest{Key: r.Key, Slot: proxy.SlotCanary}
		if def != nil {
			if svc, ok := def.Service(r.Key.Service); ok {
				req.DrainTimeout = svc.DrainTimeout.D()
			}
		}
		routed[r.Canary] = true
		if dr, err := d.proxy.Switch(context.Background(), req); err == nil && dr != nil {
			old[r.Key.Service] = dr
		}
	}
	if run != nil {
		for _, p := range run.pools {
			if !routed[p] {
				p.Close() // never routed
			}
		}
	}
	return old
}

// convergeCanary brings the proxy in line with the store's canary of
// app/env (after a restart, or when its containers changed): a pool per
// routed service of the canary release over its running containers,
// health-checked before it gets traffic, in the routes' canary slots. With
// no canary in the store, any canary slot left in the proxy goes. It
// returns the release label of the store's canary ("" when none).
func (d *Deployer) convergeCanary(ctx context.Context, app, env string, observed []engine.Container) (string, error) {
	c, err := d.store.GetCanary(app, env)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// A passing store error must not take a canary off its routes,
		// nor let converge remove its containers.
		return "", fmt.Errorf("read the canary: %w", err)
	}
	if err != nil {
		d.removeCanaryRoutes(app, env, nil) // the drains go on in the proxy
		return "", nil
	}
	rel, err := d.store.GetRelease(app, env, c.ReleaseID)
	if err != nil {
		d.log.Error("converge: canary release", "app", app, "env", env, "release", c.ReleaseID, "error", err)
		return releaseLabel(c.ReleaseID), nil
	}
	live, _ := d.store.LiveRelease(app, env)
	// The watched run is never changed in place: a changed pool makes a
	// new run (and a new watch).
	pools := map[string]*proxy.Pool{}
	changed := true
	if run := d.canaryRunOf(app, env); run != nil && run.rel == rel.ID {
		maps.Copy(pools, run.pools)
		changed = false
	}
	label := releaseLabel(rel.ID)
	for _, svc := range canaryServices(&rel.Spec) {
		var targets []proxy.Target
		for _, ct := range observed {
			if ct.Labels[engine.LabelRelease] == label && ct.Labels[engine.LabelService] == svc.Name && ct.Running() && ct.Labels[LabelOneOff] != "true" {
				if ip := ContainerAddress(ct, app, env); ip != "" {
					targets = append(targets, proxy.Target{ID: ct.ID, Name: ct.Name, Addr: net.JoinHostPort(ip, strconv.Itoa(svc.Port))})
				}
			}
		}
		key := routeKey(app, env, svc.Name)
		pool := pools[svc.Name]
		if pool == nil || !sameTargets(pool, targets) {
			prevPool := pool
			pool = proxy.NewPool(key, label, targets, healthConfig(svc), d.log)
			if len(targets) > 0 {
				wctx, cancel := context.WithTimeout(ctx, min(svc.Healthcheck.Deadline.D(), 10*time.Second))
				_ = pool.WaitHealthy(wctx, 1) // an unhealthy canary gets no traffic; the watch reports it
				cancel()
			}
			pools[svc.Name] = pool
			changed = true
			if prevPool != nil {
				if cur, _ := d.proxy.Canary(key); cur != prevPool {
					defer prevPool.Close()
				}
			}
		}
		if cur, _ := d.proxy.Route(key); cur == nil {
			continue // routed only by the canary: traffic at promote
		}
		if cur, w := d.proxy.Canary(key); cur == pool && w == c.Weight {
			continue
		}
		// An unhealthy canary gets no traffic: it is waited for above,
		// not refused.
		if _, err := d.proxy.Switch(ctx, proxy.SwitchRequest{Key: key, Slot: proxy.SlotCanary, Pool: pool, Weight: c.Weight, DrainTimeout: svc.DrainTimeout.D()}); err != nil {
			d.log.Error("converge: canary", "app", app, "env", env, "service", svc.Name, "error", err)
			continue
		}
		d.log.Info("canary restored", "app", app, "env", env, "service", svc.Name, "release", rel.ID, "weight", c.Weight, "targets", len(targets), "healthy", pool.Healthy())
	}
	if changed {
		d.setCanaryRun(ctx, &canaryRun{app: app, env: env, rel: rel.ID, live: live.ID, pools: pools}, c.Unhealthy)
	}
	return label, nil
}
