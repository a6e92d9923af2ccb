package deploy

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// workerSettle is how long a worker (a service without hosts) must stay
// running before its release counts as started.
const workerSettle = time.Second

// workerDeadline bounds how long workers may take to start.
const workerDeadline = 30 * time.Second

// execution is one deployment or rollback in flight.
type execution struct {
	app      *spec.App
	env      string
	rel      store.Release
	dep      store.Deployment
	t        *tracker
	previous store.ReleaseStatus // what the live release becomes

	started []engine.Container     // new containers, for cleanup
	pools   map[string]*proxy.Pool // new pools by service
	// before are the proxy's request counts for the app/env when the
	// execution began; routed says whether it had a route then, so that
	// the counts since measure how live traffic fared.
	before proxy.Counters
	routed bool
	// jobs are services others wait on to complete: they may exit 0.
	jobs map[string]bool
	// replaceStateful confirms replacing changed stateful services;
	// replaced records the services whose old container was stopped.
	replaceStateful bool
	replaced        map[string]bool
	// canary, when positive, makes this deploy a canary taking that
	// percentage of clients (canary.go); skip are the services it does not
	// start, adopted the canary's containers a promote keeps.
	canary  int
	skip    map[string]bool
	adopted []engine.Container
	// ports is the state of published ports (ports.go).
	ports portsExec
	// unswitched are routed services whose route could not be switched:
	// their old containers still serve, converge routes them later.
	unswitched []string
	// staleScales are the services whose berth scale this release's file
	// overrides (scale_rule.go).
	staleScales []string
	// recorded, for a scale, is closed once its deployment is recorded:
	// its retirements add to that record after (scale.go).
	recorded chan struct{}
}

func (d *Deployer) execute(ctx context.Context, x *execution) (store.Deployment, error) {
	d.withScales(x)
	if d.cluster != nil {
		return d.executeCluster(ctx, x, d.cluster)
	}
	d.startCounting(x)
	x.pools = map[string]*proxy.Pool{}
	x.jobs = map[string]bool{}
	for _, svc := range x.app.Services {
		for dep, cond := range svc.DependsOn {
			if cond == "service_completed_successfully" {
				x.jobs[dep] = true
			}
		}
	}
	var plan Plan
	err := d.refuseOnHost(ctx, x) // container_options.go
	if err == nil {
		plan, err = d.prepare(ctx, x)
	}
	if err == nil && len(plan.Conflicts) > 0 {
		err = fmt.Errorf("%w: %s", ErrInvalid, strings.Join(plan.Conflicts, "; "))
	}
	if err == nil {
		err = d.reservePorts(x, &plan)
	}
	if err == nil && x.dep.Kind != store.KindRollback {
		err = d.releasePhase(ctx, x, plan)
	}
	if err == nil && x.canary > 0 {
		err = canaryPlan(x, &plan)
	}
	if err == nil && x.canary > 0 {
		err = d.canaryVolumesFrom(ctx, x, &plan) // container_options.go
	}
	if err == nil {
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
	if err != nil {
		d.abandon(x)
		cause := fmt.Errorf("release %d refused: %w; %s", x.rel.ID, err, d.stillServing(x.app.Name, x.env))
		if len(x.started) == 0 && len(x.replaced) == 0 && x.dep.Kind != store.KindRollback {
			return d.refuseUnstarted(x.dep, x.rel, x.t, cause)
		}
		return d.finish(x.dep, x.rel, x.t, d.counted(x), cause)
	}
	if x.canary > 0 {
		d.closeFresh(x) // the live release keeps its published ports
		return d.startCanary(ctx, x)
	}

	// Commit point: the store says the new release is live.
	prev, err := d.store.Activate(x.app.Name, x.env, x.rel.ID, x.previous)
	if err != nil {
		d.abandon(x)
		return d.finish(x.dep, x.rel, x.t, d.counted(x), fmt.Errorf("release %d: record it as live: %w", x.rel.ID, err))
	}
	d.liveCommitted()
	if x.previous == store.StatusRolledBack {
		// Later deploys keep the configuration the rollback restored.
		if err := d.store.RestoreConfig(x.app.Name, x.env, x.rel.ID); err != nil {
			d.log.Error("restore configuration of rolled-back-to release", "app", x.app.Name, "env", x.env, "release", x.rel.ID, "error", err)
		}
	}
	d.applyErrorPages(x.app, x.env)
	old := d.switchRoutes(ctx, x)
	if prev != 0 {
		x.t.say("release %d is live (release %d %s)", x.rel.ID, prev, strings.ReplaceAll(string(x.previous), "_", " "))
	} else {
		x.t.say("release %d is live", x.rel.ID)
	}
	return d.afterSwitch(ctx, x, plan, old), nil
}

// afterSwitch finishes a release whose routes were just switched: its
// containers restart with the host from now on, its published ports
// switch, and the deployment is recorded as done. The old pools drain
// and the old containers stop in the background (retire.go).
func (d *Deployer) afterSwitch(ctx context.Context, x *execution, plan Plan, old map[string]*proxy.Drain) store.Deployment {
	for _, c := range x.started {
		if err := d.eng.SetRestartPolicy(ctx, c.ID, restartPolicyOf(x.app, c)); err != nil {
			d.log.Warn("set restart policy", "container", c.Name, "error", err)
		}
	}
	d.keptRestartPolicies(ctx, x, plan) // container_options.go
	ports := d.drainPortsLater(x.app, d.switchPorts(x, plan))
	for _, name := range x.unswitched {
		delete(plan.Retire, name) // still serving: converge retires them once it routed the live release
	}
	d.retireLater(x, plan.Retire, old, ports)
	d.dropStaleScales(x)
	x.t.say("done in %s", x.t.elapsed().Round(time.Millisecond))
	dep, _ := d.finish(x.dep, x.rel, x.t, d.counted(x), nil)
	return dep
}

// startCounting notes the proxy's request counts for the app/env and
// whether it routes any of its services, as an execution begins.
func (d *Deployer) startCounting(x *execution) {
	d.startPortCounting(x)
	x.before = d.proxy.Counters(x.app.Name, x.env)
	x.routed = false
	for _, r := range d.proxy.Routes() {
		if r.Key.App == x.app.Name && r.Key.Env == x.env {
			x.routed = true
			break
		}
	}
}

// counted returns the proxy's served/failed counts for the app since the
// execution began, and whether there was live traffic to count.
func (d *Deployer) counted(x *execution) store.Deployment {
	now := d.proxy.Counters(x.app.Name, x.env)
	dep := store.Deployment{Served: now.Served - x.before.Served, Failed: now.Failed - x.before.Failed, Counted: x.routed}
	d.countPorts(x, &dep)
	return dep
}

func (d *Deployer) stillServing(app, env string) string {
	if live, err := d.store.LiveRelease(app, env); err == nil {
		return fmt.Sprintf("release %d keeps serving", live.ID)
	}
	return "nothing was live before, nothing is live now"
}

func (d *Deployer) prepare(ctx context.Context, x *execution) (Plan, error) {
	if err := d.ensureNetworks(ctx, x.app, x.env, x.t.say); err != nil {
		return Plan{}, err
	}
	observed, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: x.app.Name, engine.LabelEnv: x.env})
	if err != nil {
		return Plan{}, fmt.Errorf("list containers: %w", err)
	}
	// An old release still draining keeps its containers: its retirement
	// stops them at the end of its drain, not this plan.
	observed = d.notRetiring(observed)
	images := map[string]string{}
	for name, si := range x.rel.Services {
		images[name] = si.ImageID
	}
	vars, err := d.releaseEnv(x.rel)
	if err != nil {
		return Plan{}, err
	}
	files, err := d.releaseFiles(x.rel, x.app)
	if err != nil {
		return Plan{}, err
	}
	plan := MakePlan(Desired{App: x.app, Env: x.env, Release: x.rel.ID, Images: images, Suffix: randomSuffix(), Vars: vars, ReplaceStateful: x.replaceStateful, Files: files}, observed)
	if err := d.ensureVolumes(ctx, x.app, x.env, plan.Volumes, x.t.say); err != nil {
		return Plan{}, err
	}
	return plan, nil
}

// releaseEnv is a release's configuration with its secrets decrypted.
func (d *Deployer) releaseEnv(rel store.Release) (map[string]string, error) {
	secrets, err := d.store.ReleaseSecrets(rel.App, rel.Env, rel.ID)
	if err != nil {
		return nil, fmt.Errorf("secrets of release %d: %w", rel.ID, err)
	}
	vars := make(map[string]string, len(rel.Config)+len(secrets))
	for k, v := range rel.Config {
		vars[k] = v
	}
	for k, v := range secrets {
		vars[k] = v
	}
	return vars, nil
}

// gate waits until every routed service has all its replicas healthy
// and every worker has stayed up for workerSettle, failing fast when a
// container exits.
func (d *Deployer) gate(ctx context.Context, x *execution) error {
	deadline := time.Duration(0)
	for _, svc := range x.app.Services {
		if !svc.Routed() {
			// A worker with a Compose healthcheck is up once the engine
			// calls it healthy, which may take longer than 30s.
			deadline = max(deadline, workerDeadline, svc.Check.Wait())
			if len(svc.Ports) > 0 {
				deadline = max(deadline, svc.Healthcheck.Deadline.D()) // portsReady
			}
			continue
		}
		if _, ok := x.pools[svc.Name]; !ok {
			d.makePool(x, svc)
		}
		deadline = max(deadline, svc.Healthcheck.Deadline.D())
	}

	start := d.now()
	reported := map[string]int{}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	lastInspect := time.Time{}
	for {
		now := d.now()
		waited := now.Sub(start)
		ready := true
		for _, svc := range x.app.Services {
			if !svc.Routed() {
				continue
			}
			n := x.pools[svc.Name].Healthy()
			if n > reported[svc.Name] {
				reported[svc.Name] = n
				x.t.say("healthy %s %d/%d", svc.Name, n, svc.Replicas)
			}
			if n < svc.Replicas {
				ready = false
				if waited > svc.Healthcheck.Deadline.D() {
					return d.unhealthyError(svc, x.pools[svc.Name])
				}
			}
		}
		// Inspect containers now and then: an exited container fails the
		// release at once instead of at the health deadline.
		if now.Sub(lastInspect) >= 100*time.Millisecond || ready {
			lastInspect = now
			workersReady, err := d.checkContainers(ctx, x)
			if err == nil && workersReady {
				workersReady, err = d.portsReady(x, waited)
			}
			if err != nil {
				return err
			}
			if ready && workersReady {
				return nil
			}
			if ready && waited > deadline {
				return fmt.Errorf("workers did not stay up for %s within %s", workerSettle, deadline)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// checkContainers inspects the new containers: an exited one is an
// error carrying its exit code and log tail. It reports whether every
// worker has been up for workerSettle.
func (d *Deployer) checkContainers(ctx context.Context, x *execution) (bool, error) {
	workersReady := true
	for _, c := range x.started {
		ci, err := d.eng.InspectContainer(ctx, c.ID)
		if err != nil {
			return false, fmt.Errorf("container %s disappeared: %w", c.Name, err)
		}
		svcName := c.Labels[engine.LabelService]
		if x.jobs[svcName] && ci.State == engine.StateExited && ci.ExitCode == 0 {
			continue // a job that completed, as its dependents wanted
		}
		if ci.Health == "unhealthy" {
			return false, fmt.Errorf("service %q: container %s reports unhealthy (its Compose healthcheck fails)%s", svcName, c.Name, d.logTail(c.ID))
		}
		svc, _ := x.app.Service(svcName)
		if ci.Health == "starting" && (svc == nil || !svc.Routed()) {
			// A routed container is ready when berth's own health check
			// passes (its Compose healthcheck may first probe minutes
			// later); a worker's Compose healthcheck is all there is.
			workersReady = false
		}
		if !ci.Running() {
			why := fmt.Sprintf("exited with code %d", ci.ExitCode)
			if ci.OOMKilled {
				why = "was killed for running out of memory (OOM)"
			}
			return false, fmt.Errorf("service %q: container %s %s before it became ready%s", c.Labels[engine.LabelService], c.Name, why, d.logTail(c.ID))
		}
		if svc != nil && !svc.Routed() && d.now().Sub(ci.StartedAt) < workerSettle {
			workersReady = false
		}
	}
	return workersReady, nil
}

func (d *Deployer) unhealthyError(svc spec.Service, pool *proxy.Pool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "service %q: health check GET %s did not pass on %d/%d containers within %s:", svc.Name, svc.Healthcheck.Path, svc.Replicas-pool.Healthy(), svc.Replicas, svc.Healthcheck.Deadline.D())
	refused := false
	for _, s := range pool.Status() {
		if s.Healthy {
			continue
		}
		fmt.Fprintf(&b, "\n  %s (%s): %s", s.Target.Name, s.Target.Addr, s.LastError)
		if strings.Contains(s.LastError, "refused") {
			refused = true
		}
	}
	if refused {
		fmt.Fprintf(&b, "\nnothing is listening on port %d: make the app listen there or set x-berth.port to the port it listens on", svc.Port)
	} else {
		fmt.Fprintf(&b, "\nmake %s answer 2xx or 3xx, or raise x-berth.healthcheck.deadline", svc.Healthcheck.Path)
	}
	if s := pool.Status(); len(s) > 0 {
		b.WriteString(d.logTail(s[0].Target.ID))
	}
	return fmt.Errorf("%s", b.String())
}

// logTail returns the last lines of a container's log, indented, for an
// error message.
func (d *Deployer) logTail(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rc, err := d.eng.Logs(ctx, id, engine.LogOptions{Tail: 20})
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 16<<10))
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return "\n(the container printed nothing)"
	}
	return "\nlast lines of its log:\n  | " + strings.ReplaceAll(s, "\n", "\n  | ")
}

func healthConfig(svc spec.Service) proxy.HealthConfig {
	host := ""
	if len(svc.Hosts) > 0 {
		host = svc.Hosts[0]
	}
	return proxy.HealthConfig{
		Path:               svc.Healthcheck.Path,
		Host:               host,
		Interval:           svc.Healthcheck.Interval.D(),
		Timeout:            svc.Healthcheck.Timeout.D(),
		HealthyThreshold:   svc.Healthcheck.HealthyThreshold,
		UnhealthyThreshold: svc.Healthcheck.UnhealthyThreshold,
	}
}

// abandon removes everything a refused release started.
func (d *Deployer) abandon(x *execution) {
	d.closeFresh(x)
	for _, p := range x.pools {
		p.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range x.started {
		if x.replaced[c.Labels[engine.LabelService]] {
			// Its predecessor is gone: a replaced stateful service keeps
			// running on its new definition (reconcile adopts it).
			if ci, err := d.eng.InspectContainer(ctx, c.ID); err == nil && ci.Running() {
				_ = d.eng.SetRestartPolicy(ctx, c.ID, restartPolicyOf(x.app, c))
				x.t.say("kept the replaced stateful service %s running (%s)", c.Labels[engine.LabelService], c.Name)
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.eng.RemoveContainer(ctx, c.ID); err != nil {
				d.log.Error("remove container of refused release", "container", c.Name, "error", err)
			}
		}()
	}
	wg.Wait()
	if len(x.started) > 0 {
		x.t.say("removed %d container(s) of release %d", len(x.started), x.rel.ID)
	}
}
