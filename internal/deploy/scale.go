package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Scale sets the replica counts of services of app/env's live release,
// without a new release. It holds the app environment's lock, as a
// deploy, rollback or promote does, and is refused while a canary runs.
//
// Scale-out starts the new containers from the live release's
// definition, images, configuration and secrets and gates each on
// health (berth's check for a routed service; a worker's Compose
// healthcheck, or staying up) before a successor pool with the kept and
// the new containers is switched in (proxy.Switch). Scale-in switches to
// a pool without the containers that go, so they get no new request,
// and hands them to a retirement: they drain (in-flight requests,
// WebSockets, streams, up to drain_timeout) in the background and are
// stopped and removed after it, as an old release's are (retire.go).
// The scale is recorded (a deployment of kind scale with who, when and
// each from → to; the count per service in the store; an event).
//
// On a cluster engine it scales each service's workload instead, with
// the same gates and drain (scale_cluster.go).
func (d *Deployer) Scale(ctx context.Context, app, env string, targets []ScaleTarget, progress ProgressFunc) (store.Deployment, error) {
	if env == "" {
		env = spec.DefaultEnv
	}
	if len(targets) == 0 {
		return store.Deployment{}, fmt.Errorf("%w: name a service and its replica count, e.g. web=3", ErrInvalid)
	}
	if _, err := d.store.GetApp(app); err != nil {
		return store.Deployment{}, fmt.Errorf("app %q: %w", app, err)
	}
	unlock, err := d.tryLock(app, env, store.KindScale)
	if err != nil {
		return store.Deployment{}, err
	}
	defer unlock()
	if err := d.refuseDuringCanary(app, env); err != nil {
		return store.Deployment{}, err
	}
	live, err := d.store.LiveRelease(app, env)
	if errors.Is(err, store.ErrNotFound) {
		return store.Deployment{}, fmt.Errorf("%w: %s/%s has no live release to scale: deploy it first (berth deploy -f FILE --env %s)", ErrNoRelease, app, env, env)
	}
	if err != nil {
		return store.Deployment{}, err
	}
	scales, err := d.store.Scales(app, env)
	if err != nil {
		return store.Deployment{}, err
	}
	eff, _ := ScaledApp(live.Spec, scales)
	var steps []scaleStep
	if d.cluster != nil {
		steps, err = d.planClusterSteps(ctx, &eff, env, live.ID, targets)
	} else {
		steps, err = d.planHostSteps(ctx, &eff, env, live.ID, targets)
	}
	if err == nil {
		err = scaleDependents(&eff, steps)
	}
	if err != nil {
		return store.Deployment{}, err
	}
	scaled := eff
	scaled.Services = slices.Clone(eff.Services)
	var changes []store.ScaleChange
	for _, st := range steps {
		changes = append(changes, store.ScaleChange{Service: st.svc.Name, From: st.from, To: st.to})
		for i := range scaled.Services {
			if scaled.Services[i].Name == st.svc.Name {
				scaled.Services[i].Replicas = st.to
			}
		}
	}
	dep, err := d.store.CreateDeployment(store.Deployment{CreatedBy: ActorOf(ctx), App: app, Env: env, Kind: store.KindScale,
		ReleaseID: live.ID, FromReleaseID: live.ID, Scaled: changes})
	if err != nil {
		return store.Deployment{}, err
	}
	t := newTracker(d.now, progress)
	d.setRunningID(app, env, dep.ID, t)
	var what []string
	for _, c := range changes {
		what = append(what, fmt.Sprintf("%s %d → %d", c.Service, c.From, c.To))
	}
	t.say("scaling %s/%s release %d: %s (deployment %d)", app, env, live.ID, strings.Join(what, ", "), dep.ID)
	x := &execution{app: &scaled, env: env, rel: live, dep: dep, t: t, pools: map[string]*proxy.Pool{}, jobs: map[string]bool{}}
	for _, svc := range scaled.Services {
		for name, cond := range svc.DependsOn {
			if cond == "service_completed_successfully" {
				x.jobs[name] = true // a new replica of it may exit 0
			}
		}
	}
	d.startCounting(x)
	x.recorded = make(chan struct{})
	defer close(x.recorded)
	var done []scaleStep
	if d.cluster != nil {
		done, err = d.scaleCluster(ctx, x, d.cluster, steps)
	} else {
		done, err = d.scaleHost(ctx, x, steps)
	}
	d.recordScale(x, &live, done)
	if err != nil {
		return d.finish(x.dep, x.rel, x.t, d.counted(x), fmt.Errorf("scale refused: %w; %s", err, scaledSoFar(live.ID, done)))
	}
	x.t.say("done in %s", x.t.elapsed().Round(time.Millisecond))
	return d.finish(x.dep, x.rel, x.t, d.counted(x), nil)
}

// planHostSteps is planScale of app/env's running containers of
// release rel on one host.
func (d *Deployer) planHostSteps(ctx context.Context, eff *spec.App, env string, rel int64, targets []ScaleTarget) ([]scaleStep, error) {
	if err := d.checkRestoredBinds(eff, env); err != nil {
		return nil, fmt.Errorf("cannot scale release %d: %w", rel, err)
	}
	observed, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: eff.Name, engine.LabelEnv: env, engine.LabelRelease: releaseLabel(rel)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var running []engine.Container
	for _, c := range d.notRetiring(observed) {
		if c.Running() && c.Labels[LabelOneOff] != "true" {
			running = append(running, c)
		}
	}
	return planScale(eff, rel, targets, running, d.inRotation(eff.Name, env))
}

// planClusterSteps is planClusterScale, each step from the count its
// workload has now.
func (d *Deployer) planClusterSteps(ctx context.Context, eff *spec.App, env string, rel int64, targets []ScaleTarget) ([]scaleStep, error) {
	steps, err := planClusterScale(eff, rel, targets)
	if err != nil {
		return nil, err
	}
	for i := range steps {
		st, err := d.cluster.InspectWorkload(ctx, WorkloadName(eff.Name, env, steps[i].svc.Name))
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", steps[i].svc.Name, err)
		}
		steps[i].from = int(st.Replicas)
	}
	return steps, nil
}

// scaleDependents refuses to scale to 0 a service another one waits
// for (depends_on): its next deploy would wait for it forever.
func scaleDependents(app *spec.App, steps []scaleStep) error {
	for _, st := range steps {
		if st.to != 0 {
			continue
		}
		for _, o := range app.Services {
			if _, ok := o.DependsOn[st.svc.Name]; ok {
				return fmt.Errorf("%w: service %q: %s depends on it (depends_on), so it needs a replica: scale it to 1 or more", ErrInvalid, st.svc.Name, o.Name)
			}
		}
	}
	return nil
}

// inRotation says whether the proxy has container id of app/env in
// rotation on its service's route.
func (d *Deployer) inRotation(app, env string) func(string) bool {
	healthy := map[string]bool{}
	for _, r := range d.proxy.Routes() {
		if r.Key.App != app || r.Key.Env != env {
			continue
		}
		if p, _ := d.proxy.Route(r.Key); p != nil {
			for _, s := range p.Status() {
				healthy[s.Target.ID] = healthy[s.Target.ID] || s.Healthy
			}
		}
	}
	return func(id string) bool { return healthy[id] }
}

// scaleHost is Scale on one host: every scale-out first (start, gate,
// switch), then every scale-in (switch, retire in the background). A
// scale-out that fails removes what it started and changes nothing.
func (d *Deployer) scaleHost(ctx context.Context, x *execution, steps []scaleStep) (done []scaleStep, err error) {
	if err := d.scaleOut(ctx, x, steps); err != nil {
		d.abandon(x)
		return nil, err
	}
	for _, c := range x.started {
		if err := d.eng.SetRestartPolicy(ctx, c.ID, restartPolicyOf(x.app, c)); err != nil {
			d.log.Warn("set restart policy", "container", c.Name, "error", err)
		}
	}
	for _, st := range steps {
		pool, ok := x.pools[st.svc.Name]
		if !ok {
			continue
		}
		if _, err := d.scaleSwitch(ctx, x, st, pool); err != nil {
			d.abandon(x) // the services not switched yet
			return done, err
		}
		if len(st.remove) == 0 {
			done = append(done, st)
		}
		// Routed now: no longer abandon's to close or remove.
		delete(x.pools, st.svc.Name)
		x.started = slices.DeleteFunc(x.started, func(c engine.Container) bool { return c.Labels[engine.LabelService] == st.svc.Name })
		x.t.say("switched %s to %d replica(s) (%d healthy)", st.svc.Name, st.to, pool.Healthy())
	}
	for _, st := range steps {
		if !st.svc.Routed() && len(st.start) > 0 {
			done = append(done, st) // the workers' new containers stay
		}
	}
	x.started = nil
	for _, st := range steps {
		switch {
		case len(st.remove) > 0:
			if err := d.scaleIn(ctx, x, st); err != nil {
				return done, err
			}
		case len(st.start) == 0:
			x.t.say("%s already runs %d replica(s)", st.svc.Name, len(st.keep))
		}
		if len(st.start) == 0 {
			done = append(done, st)
		}
	}
	return done, nil
}

// scaledSoFar says what a scale that failed part-way changed.
func scaledSoFar(rel int64, done []scaleStep) string {
	if len(done) == 0 {
		return fmt.Sprintf("release %d keeps running as it was", rel)
	}
	var names []string
	for _, st := range done {
		names = append(names, fmt.Sprintf("%s (%d → %d)", st.svc.Name, st.from, st.to))
	}
	return "scaled before it failed: " + strings.Join(names, ", ")
}

// scaleIn takes st.remove out of rotation at once (a switch to a pool
// of the containers kept) and hands them to a retirement: the pool they
// were in drains in the proxy's background, then they are stopped with
// their stop grace period and removed (retire.go), by a goroutine the
// Deployer owns. A worker's containers have no pool: they stop at once,
// in the background too.
func (d *Deployer) scaleIn(ctx context.Context, x *execution, st scaleStep) error {
	var dr *proxy.Drain
	if st.svc.Routed() {
		var err error
		pool := d.successorPool(x, st, st.keep)
		if dr, err = d.scaleSwitch(ctx, x, st, pool); err != nil {
			pool.Close()
			return err
		}
		x.t.say("switched %s to %d replica(s): %d taken out of rotation", st.svc.Name, st.to, len(st.remove))
	}
	if dr != nil {
		x.t.say("draining %d container(s) of %s in the background until %s (%s), then stopping them",
			len(st.remove), st.svc.Name, dr.Deadline.Format(time.TimeOnly), inFlight(dr))
	} else {
		x.t.say("stopping %d container(s) of %s in the background", len(st.remove), st.svc.Name)
	}
	ret := d.retiring.add(x.app.Name, x.env, st.remove)
	app, env, name, cs, depID, start, recorded := *x.app, x.env, st.svc.Name, st.remove, x.dep.ID, x.t.start, x.recorded
	d.drains.Go(func() {
		defer d.retiring.end(ret)
		msg, _, long := d.retireService(&app, env, name, dr, nil, cs)
		select { // after the scale's own record, which it adds to
		case <-recorded:
			d.noteOnDeployment(depID, start, []string{msg}, 0, long)
		case <-d.bg.Done():
		}
	})
	return nil
}

// recordScale records a scale that went through: each service's count
// in the store (forgotten when it is back at the file's), and an event.
func (d *Deployer) recordScale(x *execution, live *store.Release, steps []scaleStep) {
	by := x.dep.CreatedBy
	var set []store.Scale
	var back []string
	for _, st := range steps {
		if st.from == st.to && len(st.start)+len(st.remove) == 0 {
			continue // nothing changed
		}
		file, _ := live.Spec.Service(st.svc.Name)
		if st.to == file.Replicas {
			back = append(back, st.svc.Name)
		} else {
			set = append(set, store.Scale{Service: st.svc.Name, Replicas: st.to, File: file.Replicas, From: st.from, By: by, At: d.now()})
		}
		msg := fmt.Sprintf("scaled %s from %d to %d replica(s)", st.svc.Name, st.from, st.to)
		if by != "" {
			msg += " by " + by
		}
		e := store.Event{Time: d.now(), Kind: "scaled", Service: st.svc.Name, Release: releaseLabel(live.ID), Message: msg}
		if err := d.store.AppendEvent(x.app.Name, x.env, e); err != nil {
			d.log.Warn("record event", "app", x.app.Name, "env", x.env, "error", err)
		}
	}
	if err := d.store.SetScales(x.app.Name, x.env, set); err != nil {
		d.log.Error("record scale", "app", x.app.Name, "env", x.env, "error", err)
		x.t.say("warning: the new counts could not be recorded (%v): a later deploy or restart goes back to the file's", err)
	}
	if err := d.store.DropScales(x.app.Name, x.env, back...); err != nil {
		d.log.Error("record scale", "app", x.app.Name, "env", x.env, "error", err)
	}
}
