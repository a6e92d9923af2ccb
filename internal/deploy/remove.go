package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Removing an app environment: docker compose down's counterpart.
//
// RemoveEnv takes the environment's deploy lock (a deploy in progress
// refuses it), records the removal in the store first (the commit point:
// nothing is live any more, so neither converge nor a restart of berth
// brings anything back, and a removal cut short is finished by running it
// again), takes its routes out of the proxy and its published ports off
// berth's listeners (unbound once drained), drains them, then stops (each
// with its stop grace) and removes its containers (one-off commands and
// jobs included) or, on a cluster, its workloads, secrets and configs,
// then its networks, and the volumes the user confirmed. External volumes
// are never removed. Its history (releases, deployments, events) stays.

// RemoveOptions say what a removal takes with it.
type RemoveOptions struct {
	// Volumes are the engine names of the environment's volumes to delete
	// with it, as the user confirmed them (the CLI lists them and asks).
	// Every other volume is kept; an external one is refused.
	Volumes []string `json:"volumes,omitempty"`
}

// networkFinder finds the networks berth created for an app
// environment (every backend has it; the Engine interface does not).
type networkFinder interface {
	// NetworksByLabel lists the names of the networks whose labels match.
	NetworksByLabel(ctx context.Context, labels map[string]string) ([]string, error)
	// RemoveNetwork removes a network; a missing one is not an error.
	RemoveNetwork(ctx context.Context, name string) error
}

// volumeRemover removes volumes.
type volumeRemover interface {
	// RemoveVolume removes a volume by name; a missing one is not an error.
	RemoveVolume(ctx context.Context, name string) error
}

// configRemover finds and removes a cluster's configs.
type configRemover interface {
	// ConfigsByLabel lists the names of the configs whose labels match.
	ConfigsByLabel(ctx context.Context, labels map[string]string) ([]string, error)
	// RemoveConfig removes a config; a missing one is not an error.
	RemoveConfig(ctx context.Context, name string) error
}

// RemoveEnv removes app/env (see above) and returns the removal's
// deployment record; the error says what could not be removed.
func (d *Deployer) RemoveEnv(ctx context.Context, app, env string, opts RemoveOptions, progress ProgressFunc) (store.Deployment, error) {
	deps, err := d.remove(ctx, app, []string{env}, opts, progress)
	if len(deps) == 0 {
		return store.Deployment{}, err
	}
	return deps[0], err
}

// RemoveApp removes every environment of app, one after the other, and
// returns their removals' records. It refuses before anything changes
// when any of them is deploying.
func (d *Deployer) RemoveApp(ctx context.Context, app string, opts RemoveOptions, progress ProgressFunc) ([]store.Deployment, error) {
	a, err := d.store.GetApp(app)
	if err != nil {
		return nil, fmt.Errorf("app %q: %w", app, err)
	}
	return d.remove(ctx, app, a.Envs, opts, progress)
}

// removal is one environment's removal in flight.
type removal struct {
	app, env string
	def      spec.App // its latest definition: stop graces, drain timeouts
	live     int64    // the release live when it began, 0 if none
	vols     []VolumeStatus
	confirm  map[string]bool // engine names of volumes to delete
	unlock   func()
}

func (d *Deployer) remove(ctx context.Context, app string, envs []string, opts RemoveOptions, progress ProgressFunc) ([]store.Deployment, error) {
	a, err := d.store.GetApp(app)
	if err != nil {
		return nil, fmt.Errorf("app %q: %w", app, err)
	}
	for _, env := range envs {
		if !slices.Contains(a.Envs, env) {
			return nil, fmt.Errorf("app %q has no environment %q (it has %s): %w", app, env, strings.Join(a.Envs, ", "), store.ErrNotFound)
		}
	}
	// Every check before anything changes: locks, canaries, volumes.
	var rs []*removal
	release := func() {
		for _, r := range rs {
			r.unlock()
		}
	}
	for _, env := range envs {
		unlock, err := d.tryLock(app, env, store.KindRemove)
		if err != nil {
			release()
			return nil, fmt.Errorf("cannot remove %s/%s while it deploys: %w (or cancel the build that deploys it: berth builds cancel ID)", app, env, err)
		}
		rs = append(rs, &removal{app: app, env: env, unlock: unlock, confirm: map[string]bool{}})
	}
	defer release()
	asked := map[string]bool{}
	for _, v := range opts.Volumes {
		asked[v] = true
	}
	for _, r := range rs {
		if err := d.refuseDuringCanary(app, r.env); err != nil {
			return nil, fmt.Errorf("cannot remove %s/%s: %w", app, r.env, err)
		}
		if err := d.prepareRemoval(ctx, r, asked); err != nil {
			return nil, err
		}
	}
	if len(asked) > 0 {
		return nil, fmt.Errorf("%w: volume %s is not a volume of %s (berth volumes %s --env ENV lists them); nothing was removed",
			ErrInvalid, strings.Join(slices.Sorted(maps.Keys(asked)), ", "), app, app)
	}
	var out []store.Deployment
	var errs []error
	for _, r := range rs {
		dep, err := d.removeEnv(ctx, r, progress)
		if dep.ID != 0 {
			out = append(out, dep)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// prepareRemoval reads what r needs and claims the confirmed volumes that
// are r's (deleting them from asked), refusing an external one.
func (d *Deployer) prepareRemoval(ctx context.Context, r *removal, asked map[string]bool) error {
	r.def = spec.App{Name: r.app}
	if live, err := d.store.LiveRelease(r.app, r.env); err == nil {
		r.live, r.def = live.ID, live.Spec
	} else if rels, err := d.store.ListReleases(r.app, r.env); err == nil {
		for _, rel := range rels { // newest first
			if len(rel.Spec.Services) > 0 {
				r.def = rel.Spec
				break
			}
		}
	}
	vols, err := d.Volumes(ctx, r.app, r.env)
	if err != nil {
		return fmt.Errorf("list the volumes of %s/%s: %w", r.app, r.env, err)
	}
	for _, v := range vols {
		if v.External {
			// The live definition says external; a volume the file once
			// declared berth's own would say so by its labels.
			if asked[v.EngineName] {
				return fmt.Errorf("%w: volume %s (%s of %s/%s) is external: berth never removes an external volume; remove it yourself (docker volume rm %s) if you mean to; nothing was removed",
					ErrInvalid, v.EngineName, v.Name, r.app, r.env, v.EngineName)
			}
		} else if asked[v.EngineName] {
			r.confirm[v.EngineName] = true
			delete(asked, v.EngineName)
		}
		r.vols = append(r.vols, v)
	}
	return nil
}

// removeEnv removes one environment; the caller holds its lock.
func (d *Deployer) removeEnv(ctx context.Context, r *removal, progress ProgressFunc) (store.Deployment, error) {
	t := newTracker(d.now, progress)
	dep, err := d.store.CreateDeployment(store.Deployment{CreatedBy: ActorOf(ctx), App: r.app, Env: r.env, Kind: store.KindRemove, ReleaseID: r.live, FromReleaseID: r.live})
	if err != nil {
		return store.Deployment{}, err
	}
	d.setRunningID(r.app, r.env, dep.ID, t)
	t.say("removing %s/%s (deployment %d)", r.app, r.env, dep.ID)
	rel := store.Release{App: r.app, Env: r.env}
	if _, err := d.store.MarkRemoved(r.app, r.env, dep.ID); err != nil {
		return d.finish(dep, rel, t, store.Deployment{}, fmt.Errorf("nothing was removed: %w", err))
	}
	if r.live != 0 {
		t.say("release %d is no longer live; the history is kept (berth releases %s --env %s)", r.live, r.app, r.env)
	}
	var errs []error
	portsDone := make(chan struct{})
	go func() { defer close(portsDone); d.removePorts(r, t) }() // ports_remove.go
	d.removeRoutes(ctx, r, t)
	<-portsDone
	if d.cluster != nil {
		errs = append(errs, d.removeClusterObjects(ctx, r, t)...)
	}
	errs = append(errs, d.removeContainers(ctx, r, t)...)
	errs = append(errs, d.removeNetworks(ctx, r, t)...)
	removed, vErrs := d.removeVolumes(ctx, r, t)
	errs = append(errs, vErrs...)

	msg := fmt.Sprintf("%s/%s removed by deployment %d", r.app, r.env, dep.ID)
	if len(removed) > 0 {
		msg += "; volumes deleted: " + strings.Join(removed, ", ")
	}
	var cause error
	if len(errs) > 0 {
		cause = fmt.Errorf("%s/%s is removed from the store, but not everything it ran could be removed: %w; run the removal again to finish it", r.app, r.env, errors.Join(errs...))
		msg = fmt.Sprintf("%s/%s removed by deployment %d, with errors: %v", r.app, r.env, dep.ID, errors.Join(errs...))
	} else {
		t.say("%s/%s removed in %s", r.app, r.env, t.elapsed().Round(time.Millisecond))
	}
	if err := d.store.AppendEvent(r.app, r.env, store.Event{Kind: "removed", Message: msg}); err != nil {
		d.log.Warn("record event", "app", r.app, "env", r.env, "error", err)
	}
	d.log.Info("app environment removed", "app", r.app, "env", r.env, "deployment", dep.ID, "volumes_deleted", len(removed), "errors", len(errs))
	return d.finish(dep, rel, t, store.Deployment{}, cause)
}

// removeRoutes takes r's routes (and canary pools) out of the proxy, each
// with a Switch to no pool, and waits for their drains, each up to its
// service's drain timeout: a removal is an explicit teardown, its
// containers stop only once their requests are done.
func (d *Deployer) removeRoutes(ctx context.Context, r *removal, t *tracker) {
	type drain struct {
		service string
		dr      *proxy.Drain
	}
	var drains []drain
	for _, rt := range d.proxy.Routes() {
		if rt.Key.App != r.app || rt.Key.Env != r.env {
			continue
		}
		req := proxy.SwitchRequest{Key: rt.Key}
		if svc, ok := r.def.Service(rt.Key.Service); ok {
			req.DrainTimeout = svc.DrainTimeout.D()
		}
		if dr, err := d.proxy.Switch(ctx, req); err == nil && dr != nil {
			drains = append(drains, drain{rt.Key.Service, dr})
		}
		t.say("route of %s removed", rt.Key.Service)
	}
	d.proxy.SetErrorPages(r.app, r.env, nil)
	for _, svc := range r.def.Services { // a cluster route's successor still checking health
		d.pending.drop(routeKey(r.app, r.env, svc.Name))
	}
	for _, x := range drains {
		res, ok := x.dr.Wait(ctx)
		if !ok {
			t.say("stopped waiting for %s release %s to drain: %v", x.service, x.dr.Release, ctx.Err())
			continue
		}
		t.say("%s", drainedMessage(x.service, x.dr.Release, res.Waited, res.Cut, "long-lived request(s)"))
	}
	// Old releases still draining from earlier deployments stop their
	// own containers at the end of their drains.
	d.waitRetired(ctx, r.app, r.env, t)
}

// removeContainers stops (each with its service's stop grace) and
// removes every container of r: releases, one-off commands, jobs.
func (d *Deployer) removeContainers(ctx context.Context, r *removal, t *tracker) []error {
	cs, err := d.eng.ListContainers(ctx, envLabels(r))
	if err != nil {
		return []error{fmt.Errorf("list containers: %w", err)}
	}
	if len(cs) == 0 {
		return nil
	}
	t.say("stopping %d container(s)", len(cs))
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range cs {
		grace := 10 * time.Second
		if svc, ok := r.def.Service(c.Labels[engine.LabelService]); ok {
			grace = svc.StopGracePeriod.D()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.eng.StopContainer(ctx, c.ID, grace)
			if err == nil {
				err = d.eng.RemoveContainer(ctx, c.ID)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", c.Name, err))
				return
			}
			t.say("removed container %s", c.Name)
		}()
	}
	wg.Wait()
	return errs
}

// removeClusterObjects removes r's workloads (their instances stop with
// their stop grace), then its secrets and configs.
func (d *Deployer) removeClusterObjects(ctx context.Context, r *removal, t *tracker) []error {
	var errs []error
	ws, err := d.cluster.ListWorkloads(ctx, envLabels(r))
	if err != nil {
		return []error{fmt.Errorf("list workloads: %w", err)}
	}
	for _, w := range ws {
		t.say("removing workload %s", w.Name)
		if err := d.cluster.RemoveWorkload(ctx, w.Name); err != nil {
			errs = append(errs, fmt.Errorf("workload %s: %w", w.Name, err))
			continue
		}
		t.say("removed workload %s", w.Name)
	}
	secrets, err := d.cluster.ListSecrets(ctx, envLabels(r))
	if err != nil {
		errs = append(errs, fmt.Errorf("list secrets: %w", err))
	}
	for _, s := range secrets {
		if err := d.cluster.RemoveSecret(ctx, s.Name); err != nil {
			errs = append(errs, fmt.Errorf("secret %s: %w", s.Name, err))
			continue
		}
		t.say("removed cluster secret %s", s.Name)
	}
	if cr, ok := d.cluster.(configRemover); ok {
		names, err := cr.ConfigsByLabel(ctx, envLabels(r))
		if err != nil {
			errs = append(errs, fmt.Errorf("list configs: %w", err))
		}
		for _, n := range names {
			if err := cr.RemoveConfig(ctx, n); err != nil {
				errs = append(errs, fmt.Errorf("config %s: %w", n, err))
				continue
			}
			t.say("removed cluster config %s", n)
		}
	}
	return errs
}

// removeNetworks removes every network berth created for r (found by its
// labels), its default network among them.
func (d *Deployer) removeNetworks(ctx context.Context, r *removal, t *tracker) []error {
	nf, ok := d.eng.(networkFinder)
	if !ok {
		return []error{fmt.Errorf("the engine cannot list networks: remove network %s yourself", NetworkName(r.app, r.env))}
	}
	names, err := nf.NetworksByLabel(ctx, envLabels(r))
	if err != nil {
		return []error{fmt.Errorf("list networks: %w", err)}
	}
	var errs []error
	for _, n := range names {
		if err := nf.RemoveNetwork(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", n, err))
			continue
		}
		t.say("removed network %s", n)
	}
	return errs
}

// removeVolumes deletes the confirmed volumes of r and says which it
// keeps; it returns the deleted volumes' names.
func (d *Deployer) removeVolumes(ctx context.Context, r *removal, t *tracker) ([]string, []error) {
	var removed []string
	var errs []error
	vr, canRemove := d.eng.(volumeRemover)
	for _, v := range r.vols {
		switch {
		case v.External:
			t.say("kept external volume %s (%s): berth never removes external volumes", v.EngineName, v.Name)
		case !r.confirm[v.EngineName]:
			t.say("kept volume %s (%s) and its data: remove it with --volumes", v.EngineName, v.Name)
		case !canRemove:
			errs = append(errs, fmt.Errorf("volume %s: the engine cannot remove volumes", v.EngineName))
		default:
			if err := vr.RemoveVolume(ctx, v.EngineName); err != nil {
				errs = append(errs, fmt.Errorf("volume %s: %w (is it mounted by a container of another app?)", v.EngineName, err))
				continue
			}
			removed = append(removed, v.EngineName)
			t.say("deleted volume %s (%s)", v.EngineName, v.Name)
		}
	}
	if d.cluster != nil && len(removed) > 0 {
		t.say("volumes are deleted on the manager only: volumes of the same name on other nodes keep their data")
	}
	return removed, errs
}

func envLabels(r *removal) map[string]string {
	return map[string]string{engine.LabelApp: r.app, engine.LabelEnv: r.env}
}
