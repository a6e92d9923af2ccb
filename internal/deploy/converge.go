package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Converge brings the proxy and the containers of app/env in line with
// the store's live release: routes point at the live release's running
// containers (health-checked again before they get traffic), the canary
// the store records, if any, gets its pools and share back, and
// containers of any other release are stopped and removed. It is what
// runs after berth restarts and whenever containers change under it. It
// does nothing while a deployment of app/env runs, nor for app
// environments the store does not know.
func (d *Deployer) Converge(ctx context.Context, app, env string) error {
	if d.cluster != nil {
		return nil // on a cluster, SyncClusterRoutes keeps routes on the tasks
	}
	unlock, err := d.tryLock(app, env, kindReconcile)
	if err != nil {
		return nil // a deployment owns app/env now
	}
	defer unlock()

	// Only app environments this server deployed are its own: another
	// berth server may share the Docker host.
	a, err := d.store.GetApp(app)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !slices.Contains(a.Envs, env)) {
		return nil
	}
	if err != nil {
		return err
	}
	d.restoreMaintenance(app, env)
	live, err := d.store.LiveRelease(app, env)
	hasLive := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	observed, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: env})
	if err != nil {
		return fmt.Errorf("converge %s/%s: %w", app, env, err)
	}
	// Containers of an old release still draining are its retirement's:
	// neither routed again nor stopped here.
	observed = d.notRetiring(observed)
	var surplus map[string]bool
	if hasLive {
		live.Spec = d.scaledSpec(live.Spec, env) // its containers run the scaled counts
		surplus = surplusReplicas(&live, observed)
	}
	liveLabel := ""
	routed := map[string]bool{}
	if hasLive {
		d.applyErrorPages(&live.Spec, env)
		liveLabel = releaseLabel(live.ID)
		for _, svc := range live.Spec.Services {
			if !svc.Routed() {
				continue
			}
			routed[svc.Name] = true
			var targets []proxy.Target
			for _, c := range observed {
				if c.Labels[engine.LabelRelease] != liveLabel || c.Labels[engine.LabelService] != svc.Name || !c.Running() || surplus[c.ID] {
					continue
				}
				ip := ContainerAddress(c, app, env)
				if ip == "" {
					continue
				}
				targets = append(targets, proxy.Target{ID: c.ID, Name: c.Name, Addr: net.JoinHostPort(ip, strconv.Itoa(svc.Port))})
			}
			key := routeKey(app, env, svc.Name)
			opts := routeOptions(svc)
			cur, hosts := d.proxy.Route(key)
			if cur != nil && cur.Release() == liveLabel && sameTargets(cur, targets) {
				if curOpts, _ := d.proxy.RouteOptionsOf(key); sameStrings(hosts, svc.Hosts) && curOpts.Equal(opts) {
					continue
				}
				// Same pool, other hosts or options: route it again as it
				// is (nothing to drain).
				if _, err := d.proxy.Switch(ctx, proxy.SwitchRequest{Key: key, Hosts: svc.Hosts, Pool: cur, Options: opts}); err != nil {
					d.log.Error("converge: route", "app", app, "env", env, "service", svc.Name, "error", err)
				}
				continue
			}
			pool := proxy.NewPool(key, liveLabel, targets, healthConfig(svc), d.log)
			req := proxy.SwitchRequest{Key: key, Hosts: svc.Hosts, Pool: pool, Options: opts, DrainTimeout: svc.DrainTimeout.D()}
			if len(targets) > 0 && cur != nil && cur.Healthy() > 0 {
				// A route that serves is swapped only onto a healthy pool;
				// one that does not gets the new pool at once.
				req.Healthy = 1
			}
			wctx, cancel := context.WithTimeout(ctx, min(svc.Healthcheck.Deadline.D(), 10*time.Second))
			if len(targets) > 0 && req.Healthy == 0 {
				_ = pool.WaitHealthy(wctx, 1) // a better start, not a condition
			}
			_, err := d.proxy.Switch(wctx, req)
			cancel()
			if err != nil {
				pool.Close()
				d.log.Warn("converge: route not switched, keeping the current one", "app", app, "env", env, "service", svc.Name, "error", err)
				continue
			}
			d.log.Info("route restored", "app", app, "env", env, "service", svc.Name, "release", live.ID, "targets", len(targets), "healthy", pool.Healthy())
		}
	}
	for _, r := range d.proxy.Routes() {
		if r.Key.App == app && r.Key.Env == env && !routed[r.Key.Service] {
			_, _ = d.proxy.Switch(ctx, proxy.SwitchRequest{Key: r.Key}) // drains in the proxy
		}
	}
	if hasLive {
		d.convergePorts(app, env, &live, observed)
	} else {
		d.convergePorts(app, env, nil, observed)
	}
	canaryLabel, err := d.convergeCanary(ctx, app, env, observed)
	if err != nil {
		return fmt.Errorf("converge %s/%s: %w", app, env, err)
	}
	var canaryApp *spec.App
	if canaryLabel != "" {
		canaryApp = d.canaryApp(app, env)
	}
	for _, c := range observed {
		if c.Labels[LabelOneOff] == "true" && c.Running() {
			continue
		}
		if c.Labels[engine.LabelRelease] == liveLabel && !surplus[c.ID] {
			d.repairRestartPolicy(ctx, &live.Spec, c)
			continue
		}
		if canaryLabel != "" && c.Labels[engine.LabelRelease] == canaryLabel {
			d.repairRestartPolicy(ctx, canaryApp, c)
			continue // the canary's (convergeCanary routes them)
		}
		if c.Labels[LabelStateful] == "true" && hasLive {
			// Stateful containers outlive releases: the live release
			// adopts its services' containers as they are.
			if svc, ok := live.Spec.Service(c.Labels[engine.LabelService]); ok && svc.Stateful {
				d.repairRestartPolicy(ctx, &live.Spec, c)
				continue
			}
		}
		why := "removing container of a release that is not live"
		if surplus[c.ID] {
			why = "removing a container of the live release beyond its replicas (the oldest)"
		}
		d.log.Info(why, "app", app, "env", env, "container", c.Name, "release", c.Labels[engine.LabelRelease])
		if err := d.eng.StopContainer(ctx, c.ID, 10*time.Second); err != nil {
			d.log.Warn("stop stray container", "container", c.Name, "error", err)
		}
		if err := d.eng.RemoveContainer(ctx, c.ID); err != nil {
			d.log.Warn("remove stray container", "container", c.Name, "error", err)
		}
	}
	return nil
}

// repairRestartPolicy gives a container converge keeps (the live
// release's, the canary's, an adopted stateful one) the restart policy
// of its service in app when the engine holds another. A deployment sets
// it once the release is live (afterSwitch, a canary's start, a scale),
// after the store's commit point: berth stopped in between leaves the
// live containers on "no", which a crash of one would not survive.
// Containers whose policy the engine does not report are left alone.
func (d *Deployer) repairRestartPolicy(ctx context.Context, app *spec.App, c engine.Container) {
	if app == nil || c.RestartPolicy == "" || c.Labels[LabelOneOff] == "true" {
		return
	}
	want := restartPolicyOf(app, c)
	if c.RestartPolicy == want {
		return
	}
	if err := d.eng.SetRestartPolicy(ctx, c.ID, want); err != nil {
		d.log.Warn("converge: set restart policy", "container", c.Name, "policy", want, "error", err)
		return
	}
	d.log.Info("converge: restart policy repaired", "container", c.Name, "release", c.Labels[engine.LabelRelease], "was", c.RestartPolicy, "policy", want)
}

// canaryApp is the definition of app/env's canary release, nil when it
// cannot be read.
func (d *Deployer) canaryApp(app, env string) *spec.App {
	c, err := d.store.GetCanary(app, env)
	if err != nil {
		return nil
	}
	rel, err := d.store.GetRelease(app, env, c.ReleaseID)
	if err != nil {
		return nil
	}
	return &rel.Spec
}

// surplusReplicas are the live release's running containers beyond each
// service's replicas, the oldest first: after a rollback to a release
// that was still draining, berth stopping before the drain ended leaves
// that release's draining containers beside the ones the rollback
// started, with the same labels. The newest are the live ones.
func surplusReplicas(live *store.Release, observed []engine.Container) map[string]bool {
	label := releaseLabel(live.ID)
	out := map[string]bool{}
	for _, svc := range live.Spec.Services {
		if svc.Stateful {
			continue
		}
		var cs []engine.Container
		for _, c := range observed {
			if c.Labels[engine.LabelRelease] == label && c.Labels[engine.LabelService] == svc.Name && c.Running() && c.Labels[LabelOneOff] != "true" {
				cs = append(cs, c)
			}
		}
		if len(cs) <= svc.Replicas {
			continue
		}
		slices.SortFunc(cs, func(a, b engine.Container) int {
			return cmp.Or(b.Created.Compare(a.Created), strings.Compare(a.Name, b.Name))
		})
		for _, c := range cs[svc.Replicas:] {
			out[c.ID] = true
		}
	}
	return out
}

// ConvergeAll converges every app environment in the store.
func (d *Deployer) ConvergeAll(ctx context.Context) error {
	apps, err := d.store.ListApps()
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range apps {
		for _, env := range a.Envs {
			if err := d.Converge(ctx, a.Name, env); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func sameTargets(p *proxy.Pool, ts []proxy.Target) bool {
	st := p.Status()
	if len(st) != len(ts) {
		return false
	}
	have := make([]string, 0, len(st))
	for _, s := range st {
		have = append(have, s.Target.ID+"@"+s.Target.Addr)
	}
	want := make([]string, 0, len(ts))
	for _, t := range ts {
		want = append(want, t.ID+"@"+t.Addr)
	}
	return sameStrings(have, want)
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Recover records what a stop of berth in the middle of deployments left
// behind: those deployments end as interrupted, and their releases that
// had not gone live yet as failed (a release that went live stays live:
// the store's commit point decides). Converge then removes the
// containers of releases that are not live.
func (d *Deployer) Recover() error {
	ds, err := d.store.InterruptRunning("berth stopped while this deployment ran")
	if err != nil {
		return err
	}
	for _, dep := range ds {
		rel, err := d.store.GetRelease(dep.App, dep.Env, dep.ReleaseID)
		if err == nil && rel.Status == store.StatusPending {
			reason := fmt.Sprintf("berth stopped before release %d went live (deployment %d was interrupted); deploy again", rel.ID, dep.ID)
			if err := d.store.FailRelease(dep.App, dep.Env, rel.ID, reason); err != nil {
				return err
			}
		}
		d.log.Warn("deployment interrupted by a stop of berth", "app", dep.App, "env", dep.Env, "deployment", dep.ID, "release", dep.ReleaseID, "release_status", rel.Status)
	}
	return nil
}
