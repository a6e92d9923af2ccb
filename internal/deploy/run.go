package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Deploy makes app live in env: a new release, started beside the live
// one, gated on health, switched atomically, the old one drained and
// stopped. It returns the deployment record; the error says why the
// release did not go live.
func (d *Deployer) Deploy(ctx context.Context, app *spec.App, env string, opts DeployOptions, progress ProgressFunc) (store.Deployment, error) {
	if env == "" {
		env = spec.DefaultEnv
	}
	if err := app.Validate(); err != nil {
		return store.Deployment{}, err
	}
	if err := d.checkBinds(app, env); err != nil {
		return store.Deployment{}, err
	}
	if d.cluster != nil {
		for _, j := range app.Jobs {
			if svc, ok := app.Service(j.Service); ok && (len(svc.Secrets) > 0 || len(svc.Configs) > 0) {
				return store.Deployment{}, fmt.Errorf("%w: x-berth.jobs: job %s runs as service %q, which mounts Compose secrets or configs, and a job's run on a Swarm cluster is a one-off task that does not mount them yet; give the job a service without secrets: or configs:, or deploy the app to a berth server on one host", ErrInvalid, j.Name, j.Service)
			}
		}
	}
	for _, svc := range app.Services {
		if d.cluster == nil && svc.Container != nil && svc.Container.ReadOnly && (len(svc.Secrets) > 0 || len(svc.Configs) > 0) {
			return store.Deployment{}, fmt.Errorf("%w: service %q: read_only: true with secrets: or configs: cannot run on one host: berth writes their files into the container before it starts, which a read-only root file system refuses; remove read_only, or mount the files from a volume", ErrInvalid, svc.Name)
		}
		if svc.Image == "" {
			return store.Deployment{}, fmt.Errorf("%w: service %q has build: but no image yet: berth deploy builds it before it deploys (or build and tag it, and set image:)", ErrInvalid, svc.Name)
		}
	}
	if opts.Canary < 0 || opts.Canary > 99 {
		return store.Deployment{}, fmt.Errorf("%w: --canary %d: give the percentage of clients the new release gets, from 1 to 99", ErrInvalid, opts.Canary)
	}
	unlock, err := d.tryLock(app.Name, env, store.KindDeploy)
	if err != nil {
		return store.Deployment{}, err
	}
	defer unlock()
	if err := d.refuseDuringCanary(app.Name, env); err != nil {
		return store.Deployment{}, err
	}
	kind := store.KindDeploy
	if opts.Canary > 0 {
		kind = store.KindCanary
		if _, err := d.store.LiveRelease(app.Name, env); err != nil {
			return store.Deployment{}, fmt.Errorf("%w: %s/%s has no live release to split traffic with: deploy it once without --canary", ErrCanary, app.Name, env)
		}
	}
	if err := d.checkVolumes(ctx, app, env); err != nil {
		return store.Deployment{}, err
	}
	if err := d.checkStoreSecrets(app, env); err != nil {
		return store.Deployment{}, err
	}
	if err := d.checkNetworks(ctx, app, env); err != nil {
		return store.Deployment{}, err
	}

	t := newTracker(d.now, progress)
	t.say("deploying %s to %s", app.Name, env)
	if opts.Canary > 0 {
		t.say("as a canary taking %d%% of clients", opts.Canary)
	}
	if d.cluster == nil {
		for _, n := range oneHostNotes(app) {
			t.say("warning: %s", n)
		}
	}
	for _, svc := range app.Services {
		if svc.Routed() {
			if err := d.proxy.CheckRoute(routeKey(app.Name, env, svc.Name), svc.Hosts, routeOptions(svc)); err != nil {
				return store.Deployment{}, fmt.Errorf("service %q: %w", svc.Name, err)
			}
		}
	}
	if err := d.store.EnsureEnv(app.Name, env); err != nil {
		return store.Deployment{}, err
	}
	images, imgErr := d.resolveImages(ctx, app, t)
	newRel := sealedRelease(app, env, images)
	newRel.CreatedBy = ActorOf(ctx)
	if imgErr != nil {
		// Refused before it starts: the definition and secret content are
		// not stored (refused.go).
		newRel.Spec = spec.App{Name: app.Name}
		newRel.SecretFiles = nil
	}
	rel, err := d.store.CreateRelease(newRel)
	if err != nil {
		return store.Deployment{}, err
	}
	var from int64
	if live, err := d.store.LiveRelease(app.Name, env); err == nil {
		from = live.ID
	}
	dep, err := d.store.CreateDeployment(store.Deployment{CreatedBy: ActorOf(ctx), App: app.Name, Env: env, Kind: kind, ReleaseID: rel.ID, FromReleaseID: from})
	if err != nil {
		return store.Deployment{}, err
	}
	d.setRunningID(app.Name, env, dep.ID, t)
	t.say("release %d created (deployment %d)", rel.ID, dep.ID)
	if imgErr != nil {
		sep := "; "
		if strings.Contains(imgErr.Error(), "\n") {
			sep = "\n" // after a list of images, on a line of its own
		}
		return d.refuseUnstarted(dep, rel, t, fmt.Errorf("release %d refused: %w%s%s", rel.ID, imgErr, sep, d.stillServing(app.Name, env)))
	}
	return d.execute(ctx, &execution{app: app, env: env, rel: rel, dep: dep, t: t, previous: store.StatusSuperseded, replaceStateful: opts.ReplaceStateful, canary: opts.Canary})
}

// DeployOptions modify a deploy or rollback.
type DeployOptions struct {
	// ReplaceStateful confirms stopping and restarting stateful services
	// whose definition changed (their volumes are kept).
	ReplaceStateful bool `json:"replace_stateful,omitempty"`
	// Canary, when positive, deploys the release as a canary beside the
	// live one taking that percentage of clients (1-99) until Promote or
	// Rollback.
	Canary int `json:"canary,omitempty"`
}

// Reconfigure deploys a new release of app/env with the live release's
// definition and images and the environment's current configuration and
// secrets, through the same zero-downtime path. It does nothing (and
// returns a zero Deployment) when nothing is live yet: the configuration
// applies to the next deploy.
func (d *Deployer) Reconfigure(ctx context.Context, app, env string, progress ProgressFunc) (store.Deployment, error) {
	return d.redeployLive(ctx, app, env, progress, "configuration of %s/%s changed: new release from release %d")
}

// Redeploy deploys app/env's live release again, as Reconfigure does:
// a new release with its definition and images (no pull, no build) and
// the environment's current configuration and secrets, through the
// same zero-downtime path. It does nothing (and returns a zero
// Deployment) when nothing is live.
func (d *Deployer) Redeploy(ctx context.Context, app, env string, progress ProgressFunc) (store.Deployment, error) {
	return d.redeployLive(ctx, app, env, progress, "redeploying %s/%s: new release from release %d")
}

// redeployLive is Reconfigure and Redeploy; its first line says why,
// from format (app, env, the live release).
func (d *Deployer) redeployLive(ctx context.Context, app, env string, progress ProgressFunc, format string) (store.Deployment, error) {
	unlock, err := d.tryLock(app, env, store.KindDeploy)
	if err != nil {
		return store.Deployment{}, err
	}
	defer unlock()
	live, err := d.store.LiveRelease(app, env)
	if errors.Is(err, store.ErrNotFound) {
		return store.Deployment{}, nil
	}
	if err != nil {
		return store.Deployment{}, err
	}
	t := newTracker(d.now, progress)
	t.say(format, app, env, live.ID)
	if err := d.restoreSecretContent(&live.Spec, live); err != nil {
		return store.Deployment{}, err
	}
	return d.deployImages(ctx, &live.Spec, env, live.Services, t, DeployOptions{})
}

// deployImages creates a release of app in env that runs the given
// images (already on the host: no pull, no tag lookup) and executes it.
// The caller holds the app/env lock.
func (d *Deployer) deployImages(ctx context.Context, app *spec.App, env string, images map[string]store.ServiceImage, t *tracker, opts DeployOptions) (store.Deployment, error) {
	if err := d.refuseDuringCanary(app.Name, env); err != nil {
		return store.Deployment{}, err
	}
	if err := d.checkVolumes(ctx, app, env); err != nil {
		return store.Deployment{}, err
	}
	if err := d.checkStoreSecrets(app, env); err != nil {
		return store.Deployment{}, err
	}
	if err := d.checkNetworks(ctx, app, env); err != nil {
		return store.Deployment{}, err
	}
	var from int64
	if live, err := d.store.LiveRelease(app.Name, env); err == nil {
		from = live.ID
	}
	newRel := sealedRelease(app, env, images)
	newRel.CreatedBy = ActorOf(ctx)
	rel, err := d.store.CreateRelease(newRel)
	if err != nil {
		return store.Deployment{}, err
	}
	dep, err := d.store.CreateDeployment(store.Deployment{CreatedBy: ActorOf(ctx), App: app.Name, Env: env, Kind: store.KindDeploy, ReleaseID: rel.ID, FromReleaseID: from})
	if err != nil {
		return store.Deployment{}, err
	}
	d.setRunningID(app.Name, env, dep.ID, t)
	t.say("release %d created (deployment %d)", rel.ID, dep.ID)
	return d.execute(ctx, &execution{app: app, env: env, rel: rel, dep: dep, t: t, previous: store.StatusSuperseded, replaceStateful: opts.ReplaceStateful})
}

// Rollback makes an earlier release live again through the same
// zero-downtime path, with the image IDs it recorded: no rebuild and no
// registry. to=0 means the release the live one most recently replaced.
func (d *Deployer) Rollback(ctx context.Context, app, env string, to int64, opts DeployOptions, progress ProgressFunc) (store.Deployment, error) {
	if env == "" {
		env = spec.DefaultEnv
	}
	unlock, err := d.tryLock(app, env, store.KindRollback)
	if err != nil {
		return store.Deployment{}, err
	}
	defer unlock()

	if c, err := d.store.GetCanary(app, env); err == nil {
		return d.rollbackCanary(ctx, app, env, c, to, progress)
	}
	target, live, err := d.rollbackTarget(app, env, to)
	if err != nil {
		return store.Deployment{}, err
	}
	t := newTracker(d.now, progress)
	t.say("rolling %s/%s back from release %d to release %d", app, env, live.ID, target.ID)
	for _, svc := range target.Spec.Services {
		si := target.Services[svc.Name]
		if _, err := d.eng.InspectImage(ctx, si.ImageID); err != nil {
			return store.Deployment{}, fmt.Errorf("release %d cannot be restored: image %s (%s) of service %q is no longer on this host: %w; deploy it again with berth deploy",
				target.ID, si.Image, shortID(si.ImageID), svc.Name, err)
		}
		t.say("image %s: %s (%s)", svc.Name, si.Image, shortID(si.ImageID))
	}
	if err := d.checkVolumes(ctx, &target.Spec, env); err != nil {
		return store.Deployment{}, fmt.Errorf("release %d cannot be restored: %w", target.ID, err)
	}
	if err := d.checkRestoredBinds(&target.Spec, env); err != nil {
		return store.Deployment{}, fmt.Errorf("release %d cannot be restored: %w", target.ID, err)
	}
	if _, err := d.releaseFiles(target, &target.Spec); err != nil {
		return store.Deployment{}, fmt.Errorf("release %d cannot be restored: %w", target.ID, err)
	}
	if err := d.checkNetworks(ctx, &target.Spec, env); err != nil {
		return store.Deployment{}, fmt.Errorf("release %d cannot be restored: %w", target.ID, err)
	}
	dep, err := d.store.CreateDeployment(store.Deployment{CreatedBy: ActorOf(ctx), App: app, Env: env, Kind: store.KindRollback, ReleaseID: target.ID, FromReleaseID: live.ID})
	if err != nil {
		return store.Deployment{}, err
	}
	d.setRunningID(app, env, dep.ID, t)
	spec := target.Spec
	return d.execute(ctx, &execution{app: &spec, env: env, rel: target, dep: dep, t: t, previous: store.StatusRolledBack, replaceStateful: opts.ReplaceStateful})
}

func (d *Deployer) rollbackTarget(app, env string, to int64) (target, live store.Release, err error) {
	live, err = d.store.LiveRelease(app, env)
	if err != nil {
		return target, live, fmt.Errorf("%s/%s has no live release to roll back from: %w", app, env, err)
	}
	if to != 0 {
		target, err = d.store.GetRelease(app, env, to)
		if err != nil {
			return target, live, fmt.Errorf("%w: release %d of %s/%s (berth releases %s lists them)", ErrNoRelease, to, app, env, app)
		}
		if !target.RemovedAt.IsZero() {
			return target, live, fmt.Errorf("release %d of %s/%s was removed with its environment on %s and cannot be restored; deploy it again with berth deploy", to, app, env, target.RemovedAt.Format(time.DateTime))
		}
		switch target.Status {
		case store.StatusLive:
			return target, live, fmt.Errorf("release %d of %s/%s is already live", to, app, env)
		case store.StatusFailed, store.StatusPending:
			return target, live, fmt.Errorf("release %d of %s/%s never went live (%s); pick a release that did: berth releases %s", to, app, env, target.Status, app)
		}
		return target, live, nil
	}
	rels, err := d.store.ListReleases(app, env)
	if err != nil {
		return target, live, err
	}
	// The previous release is the one most recently replaced by a deploy.
	// Releases that were rolled back are skipped: successive rollbacks walk
	// back through history instead of flip-flopping.
	found := false
	for _, r := range rels {
		if r.Status != store.StatusSuperseded || !r.RemovedAt.IsZero() { // a removal ends the way back
			continue
		}
		if !found || r.EndedAt.After(target.EndedAt) {
			target, found = r, true
		}
	}
	if !found {
		return target, live, fmt.Errorf("%w: %s/%s has no earlier good release than %d to roll back to (berth releases %s lists them)", ErrNoRelease, app, env, live.ID, app)
	}
	return target, live, nil
}

func routeKey(app, env, service string) proxy.RouteKey {
	return proxy.RouteKey{App: app, Env: env, Service: service}
}

func randomSuffix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// finish records the outcome of a deployment. A failed deploy marks its
// release failed; a failed rollback leaves the target release as it was.
func (d *Deployer) finish(dep store.Deployment, rel store.Release, t *tracker, counters store.Deployment, cause error) (store.Deployment, error) {
	dep.EndedAt = d.now()
	dep.Served, dep.Failed, dep.Counted = counters.Served, counters.Failed, counters.Counted
	dep.Connections, dep.ConnectionsFailed, dep.ConnectionsCut, dep.ConnectionsCounted = counters.Connections, counters.ConnectionsFailed, counters.ConnectionsCut, counters.ConnectionsCounted
	if cause != nil {
		t.say("failed: %v", cause)
		dep.Status = store.DeploymentFailed
		dep.Error = cause.Error()
		if dep.Kind == store.KindDeploy || dep.Kind == store.KindCanary {
			if err := d.store.FailRelease(rel.App, rel.Env, rel.ID, cause.Error()); err != nil {
				d.log.Error("record failed release", "app", rel.App, "env", rel.Env, "release", rel.ID, "error", err)
			}
		}
	} else {
		dep.Status = store.DeploymentSucceeded
	}
	dep.Timeline = t.timeline()
	if err := d.store.UpdateDeployment(dep); err != nil {
		d.log.Error("record deployment", "app", rel.App, "env", rel.Env, "deployment", dep.ID, "error", err)
	}
	if cause != nil {
		return dep, cause
	}
	return dep, nil
}

func releaseLabel(id int64) string { return strconv.FormatInt(id, 10) }
