package deploy

import (
	"context"

	"github.com/berth-dev/berth/internal/store"
)

// Releases refused before they started.
//
// A deploy refused before any container of it started (images missing, a
// conflict in its plan, a release command that failed before the switch is
// the exception: it ran) keeps its release record, so its number and
// reason stay in the history, but not its definition: a refused file
// must not grow the store. Prune deletes failed releases beyond the newest
// KeepReleases of each app environment.

// refuseUnstarted records a deployment refused before anything of its
// release started: the release fails with cause and its definition,
// configuration and secrets snapshot are dropped.
func (d *Deployer) refuseUnstarted(dep store.Deployment, rel store.Release, t *tracker, cause error) (store.Deployment, error) {
	out, err := d.finish(dep, rel, t, store.Deployment{}, cause)
	if dep.Kind == store.KindDeploy || dep.Kind == store.KindCanary {
		if derr := d.store.DropDefinition(rel.App, rel.Env, rel.ID); derr != nil {
			d.log.Error("drop the definition of a refused release", "app", rel.App, "env", rel.Env, "release", rel.ID, "error", derr)
		}
	}
	return out, err
}

// pruneFailed deletes every app environment's failed releases beyond the
// newest KeepReleases, and returns how many went.
func (d *Deployer) pruneFailed(ctx context.Context) (int, error) {
	apps, err := d.store.ListApps()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range apps {
		for _, env := range a.Envs {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			gone, err := d.store.PruneFailed(a.Name, env, d.keep)
			if err != nil {
				return n, err
			}
			for _, id := range gone {
				d.log.Info("pruned failed release", "app", a.Name, "env", env, "release", id)
			}
			n += len(gone)
		}
	}
	return n, nil
}
