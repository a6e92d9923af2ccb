package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Canary releases: `deploy --canary N` starts the new release's routed
// services beside the live ones, gates them on health like any deploy,
// records the release as the environment's canary (store.StartCanary, the
// commit point) and gives each route a canary slot at N% of clients.
// Workers (services without hosts) and stateful services stay on the live
// release until Promote: two releases of a worker consuming one queue is
// rarely what anyone wants from a 10% experiment. Promote starts the
// canary's workers, gates them, records the canary live (store.Activate)
// and swaps each route to the canary's pool (the old pool is drained,
// then its containers stopped). Rollback while a canary runs removes it:
// recorded rolled back first, then its traffic goes back to live, its
// pools drain and its containers stop.
//
// A canary survives a restart of berth: the store keeps it, and Converge
// rebuilds its pools from its running containers and its split.

// ErrCanary is returned (wrapped) for what a running canary, or the lack
// of one, forbids: another deploy while a canary runs, a promote without
// a canary, a promote of an unhealthy canary.
var ErrCanary = errors.New("canary")

// canaryWatchEvery is how often a canary's health is looked at.
const canaryWatchEvery = 250 * time.Millisecond

// canaryRun is a canary's pools in this process and the goroutine that
// watches their health. Deployer.canaries owns it, keyed by app/env.
type canaryRun struct {
	app, env string
	rel      int64 // the canary release
	live     int64 // the live release it splits with
	// pools holds a pool for every routed service of the canary release;
	// those whose service the live release routes are the routes' canary
	// slots, the others wait for Promote.
	pools  map[string]*proxy.Pool
	cancel context.CancelFunc
	done   chan struct{}
}

// canaryRunOf returns app/env's canary in this process (nil if none).
func (d *Deployer) canaryRunOf(app, env string) *canaryRun {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.canaries[lockKey(app, env)]
}

// setCanaryRun registers run and starts its health watch on ctx; a run it
// replaces stops being watched. unhealthy is what the store last recorded.
func (d *Deployer) setCanaryRun(ctx context.Context, run *canaryRun, unhealthy string) {
	d.dropCanaryRun(run.app, run.env)
	wctx, cancel := context.WithCancel(ctx)
	run.cancel, run.done = cancel, make(chan struct{})
	d.mu.Lock()
	d.canaries[lockKey(run.app, run.env)] = run
	d.mu.Unlock()
	go d.watchCanary(wctx, run, unhealthy)
}

// dropCanaryRun stops watching app/env's canary and forgets it, returning
// it (nil if none); its pools are the caller's.
func (d *Deployer) dropCanaryRun(app, env string) *canaryRun {
	d.mu.Lock()
	run := d.canaries[lockKey(app, env)]
	delete(d.canaries, lockKey(app, env))
	d.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
	return run
}

// Close stops the canary health watches and waits for them, closes the
// cluster routes' successor pools still waiting to be routed, stops the
// background retirements (their containers are left to converge at the
// next start) and published ports' drains, and waits for them. Routed
// pools and routes stay as they are (the daemon is stopping; the proxy's
// own drains end with ShutdownDrains).
func (d *Deployer) Close() {
	d.stopBg()
	d.pending.closeAll()
	d.mu.Lock()
	keys := make([]string, 0, len(d.canaries))
	for k := range d.canaries {
		keys = append(keys, k)
	}
	d.mu.Unlock()
	for _, k := range keys {
		app, env, _ := strings.Cut(k, "/")
		d.dropCanaryRun(app, env)
	}
	// Every background goroutine watches d.bg: they end at once but for
	// an engine call under way, so wait a little, not for it.
	done := make(chan struct{})
	go func() { d.drains.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		d.log.Warn("pools still draining at exit")
	}
}

// watchCanary reports each change of the canary's health: an event in the
// environment's log, and the store's canary record (a failure is also
// kept as the release's reason). The proxy needs no telling: a canary
// pool without a healthy target gets no traffic.
func (d *Deployer) watchCanary(ctx context.Context, run *canaryRun, was string) {
	defer close(run.done)
	tick := time.NewTicker(canaryWatchEvery)
	defer tick.Stop()
	for {
		if why := run.unhealthy(); why != was {
			d.reportCanaryHealth(run, why)
			was = why
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// unhealthy says which services of the canary have no healthy container,
// with each container's last check error; "" when all have one.
func (run *canaryRun) unhealthy() string {
	var b strings.Builder
	for _, name := range slices.Sorted(mapsKeys(run.pools)) {
		p := run.pools[name]
		if p.Healthy() > 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s has no healthy container", name)
		for _, st := range p.Status() {
			if st.LastError != "" {
				fmt.Fprintf(&b, " (%s: %s)", st.Name, st.LastError)
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return fmt.Sprintf("canary release %d is unhealthy: %s; its clients go to release %d", run.rel, b.String(), run.live)
}

func (d *Deployer) reportCanaryHealth(run *canaryRun, why string) {
	if err := d.store.SetCanaryHealth(run.app, run.env, run.rel, why); err != nil && !errors.Is(err, store.ErrNotFound) {
		d.log.Warn("record canary health", "app", run.app, "env", run.env, "release", run.rel, "error", err)
	}
	e := store.Event{Time: d.now(), Kind: "canary_unhealthy", Release: releaseLabel(run.rel), Message: why}
	if why == "" {
		e.Kind = "canary_healthy"
		e.Message = fmt.Sprintf("canary release %d is healthy again", run.rel)
		if c, err := d.store.GetCanary(run.app, run.env); err == nil && c.ReleaseID == run.rel {
			e.Message += fmt.Sprintf(": it takes %d%% of clients", c.Weight) // the store's: the weight may have moved
		}
		d.log.Info("canary healthy", "app", run.app, "env", run.env, "release", run.rel)
	} else {
		d.log.Warn("canary unhealthy", "app", run.app, "env", run.env, "release", run.rel, "error", why)
	}
	if err := d.store.AppendEvent(run.app, run.env, e); err != nil {
		d.log.Warn("record canary event", "app", run.app, "env", run.env, "error", err)
	}
}

// canaryPlan trims a canary deploy's plan to its routed services: only
// they start now. A canary cannot replace a stateful service.
func canaryPlan(x *execution, plan *Plan) error {
	for _, name := range slices.Sorted(mapsKeys(plan.Replace)) {
		return fmt.Errorf("%w: service %q is stateful and this release changes it: a canary runs beside the live release and cannot replace it; deploy without --canary", ErrInvalid, name)
	}
	x.skip = map[string]bool{}
	start := plan.Start[:0:0]
	for _, p := range plan.Start {
		if svc, ok := x.app.Service(p.Service); ok && svc.Routed() {
			start = append(start, p)
		} else {
			x.skip[p.Service] = true
		}
	}
	for _, svc := range x.app.Services {
		if !svc.Routed() {
			x.skip[svc.Name] = true
		}
	}
	plan.Start = start
	return nil
}

// startCanary is the end of a canary deploy whose containers are healthy:
// the store records the canary, then each route gets its canary slot.
func (d *Deployer) startCanary(ctx context.Context, x *execution) (store.Deployment, error) {
	err := d.store.StartCanary(store.Canary{App: x.app.Name, Env: x.env, ReleaseID: x.rel.ID, Weight: x.canary, DeploymentID: x.dep.ID})
	if err != nil {
		d.abandon(x)
		return d.finish(x.dep, x.rel, x.t, d.counted(x), fmt.Errorf("release %d: record it as the canary: %w", x.rel.ID, err))
	}
	run := &canaryRun{app: x.app.Name, env: x.env, rel: x.rel.ID, live: x.dep.FromReleaseID, pools: x.pools}
	for _, svc := range x.app.Services {
		pool, ok := x.pools[svc.Name]
		if !ok {
			continue
		}
		key := routeKey(x.app.Name, x.env, svc.Name)
		if live, _ := d.proxy.Route(key); live == nil {
			x.t.say("%s is not routed by release %d: it gets traffic when the canary is promoted", svc.Name, x.dep.FromReleaseID)
			continue
		}
		// The gate saw the pool healthy; a canary replaced (none, as a
		// deploy is refused during a canary) drains in the proxy.
		if _, err := d.proxy.Switch(ctx, proxy.SwitchRequest{Key: key, Slot: proxy.SlotCanary, Pool: pool, Weight: x.canary, DrainTimeout: svc.DrainTimeout.D()}); err != nil {
			x.t.say("warning: canary of %s: %v", svc.Name, err)
			continue
		}
		x.t.say("%s: release %d takes %d%% of clients (sticky by the %s cookie), release %d the rest", svc.Name, x.rel.ID, x.canary, proxy.CanaryCookie, x.dep.FromReleaseID)
	}
	for _, c := range x.started {
		if err := d.eng.SetRestartPolicy(ctx, c.ID, restartPolicyOf(x.app, c)); err != nil {
			d.log.Warn("set restart policy", "container", c.Name, "error", err)
		}
	}
	d.setCanaryRun(ctx, run, "")
	x.t.say("release %d is a canary; finish with berth promote %s, or remove it with berth rollback %s", x.rel.ID, x.app.Name, x.app.Name)
	return d.finish(x.dep, x.rel, x.t, d.counted(x), nil)
}

// refuseDuringCanary is the error for a deployment of app/env while a
// canary runs there (nil when none does).
func (d *Deployer) refuseDuringCanary(app, env string) error {
	c, err := d.store.GetCanary(app, env)
	if err != nil {
		return nil
	}
	return fmt.Errorf("%w: release %d of %s/%s is a canary taking %d%% of clients: promote or roll back the canary first (berth promote %s --env %s, or berth rollback %s --env %s)",
		ErrCanary, c.ReleaseID, app, env, c.Weight, app, env, app, env)
}

// canaryServices lists the routed services of a release, for status and
// restore.
func canaryServices(a *spec.App) []spec.Service {
	var out []spec.Service
	for _, svc := range a.Services {
		if svc.Routed() {
			out = append(out, svc)
		}
	}
	return out
}

// CanaryStatus is the canary of an app environment.
type CanaryStatus struct {
	Release store.Release `json:"release"`
	// Weight is the percentage of clients it gets while healthy.
	Weight    int       `json:"weight"`
	StartedAt time.Time `json:"started_at"`
	// Healthy is false while a routed service of the canary has no
	// healthy container (its clients then go to the live release);
	// Unhealthy says why.
	Healthy        bool      `json:"healthy"`
	Unhealthy      string    `json:"unhealthy,omitempty"`
	UnhealthySince time.Time `json:"unhealthy_since,omitzero"`
}

// Share is the share of clients a release gets now.
type Share struct {
	Release int64  `json:"release"`
	Role    string `json:"role"` // live or canary
	Percent int    `json:"percent"`
}

// canaryStatus fills st's canary and shares.
func (d *Deployer) canaryStatus(st *EnvStatus) {
	if st.Live == nil {
		return
	}
	c, err := d.store.GetCanary(st.App, st.Env)
	if err != nil {
		st.Shares = []Share{{Release: st.Live.ID, Role: "live", Percent: 100}}
		return
	}
	cs := &CanaryStatus{Weight: c.Weight, StartedAt: c.StartedAt, Unhealthy: c.Unhealthy, UnhealthySince: c.UnhealthySince}
	if rel, err := d.store.GetRelease(st.App, st.Env, c.ReleaseID); err == nil {
		cs.Release = rel
	}
	run := d.canaryRunOf(st.App, st.Env)
	if run != nil && run.rel == c.ReleaseID {
		if why := run.unhealthy(); why == "" {
			cs.Healthy = true
		} else {
			cs.Unhealthy = why
		}
	} else if cs.Unhealthy == "" {
		cs.Unhealthy = "berth is restoring the canary's pools"
	}
	share := 0
	if cs.Healthy {
		share = c.Weight
	}
	st.Canary = cs
	st.Shares = []Share{{Release: st.Live.ID, Role: "live", Percent: 100 - share}, {Release: c.ReleaseID, Role: "canary", Percent: share}}
}

// poolsOf returns the pools serving service of app/env: the route's, and
// the canary's (routed or waiting for promote).
func (d *Deployer) poolsOf(app, env, service string) []*proxy.Pool {
	var out []*proxy.Pool
	if p, _ := d.proxy.Route(routeKey(app, env, service)); p != nil {
		out = append(out, p)
	}
	if run := d.canaryRunOf(app, env); run != nil {
		if p := run.pools[service]; p != nil {
			out = append(out, p)
		}
	}
	return out
}
