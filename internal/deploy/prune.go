package deploy

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/store"
)

// PruneReport says what a prune removed.
type PruneReport struct {
	Images     []string `json:"images"`
	Containers []string `json:"containers"`
	FreedBytes int64    `json:"freed_bytes"`
	// Binds are the copies of project files (binds.go) removed.
	Binds []string `json:"binds,omitempty"`
	// FailedReleases is how many failed releases left the history
	// (beyond the newest KeepReleases per app environment, refused.go).
	FailedReleases int `json:"failed_releases,omitempty"`
	// BuildCacheBytes is what pruning the build cache mounts freed
	// (berth prune --build-cache); FreedBytes does not count it.
	BuildCacheBytes int64 `json:"build_cache_bytes,omitempty"`
	// Backups are the keys of backup files retention removed
	// (Backups.Prune).
	Backups []string `json:"backups,omitempty"`
}

// Prune removes what berth no longer needs, of berth's apps only: images
// of releases that no rollback can target any more (per app and
// environment the newest KeepReleases releases that went live keep their
// images, and so does the live one; an image named by any kept release,
// of any app or environment, or used by a container, stays), images berth
// built that no kept release names once they are a day old (with the
// build layers under them), stopped one-off containers (runs,
// release commands, build tests) left behind, the copies of project
// files (bind mounts relative to the Compose file) that no kept release
// mounts, and failed releases beyond the newest KeepReleases of each app
// environment (their images were never kept: see below).
// Images of failed releases are left alone: they are the user's, and a
// fixed configuration may deploy them again.
func (d *Deployer) Prune(ctx context.Context) (PruneReport, error) {
	rep := PruneReport{Images: []string{}, Containers: []string{}}
	keep, drop, err := d.imageRetention()
	if err != nil {
		return rep, err
	}
	var errs []error
	if rep.FailedReleases, err = d.pruneFailed(ctx); err != nil {
		errs = append(errs, err)
	}
	sizes := map[string]int64{}
	if imgs, err := d.eng.ListImages(ctx); err == nil {
		for _, im := range imgs {
			sizes[im.ID] = im.Size
		}
	}
	for id := range drop {
		if keep[id] {
			continue
		}
		if _, present := sizes[id]; !present && len(sizes) > 0 {
			continue // removed already
		}
		if err := d.eng.RemoveImage(ctx, id); err != nil {
			if !errors.Is(err, engine.ErrConflict) { // in use: kept
				errs = append(errs, err)
			}
			continue
		}
		rep.Images = append(rep.Images, id)
		rep.FreedBytes += sizes[id]
		d.log.Info("pruned image", "image", id)
	}
	// Images berth built (labelled with their app) that no kept release
	// names, a day old or more: failed builds, superseded pushes.
	if imgs, err := d.eng.ListImages(ctx); err == nil {
		for _, im := range imgs {
			if im.Labels["berth.app"] == "" || keep[im.ID] || d.now().Sub(im.Created) < 24*time.Hour {
				continue
			}
			if err := d.eng.RemoveImage(ctx, im.ID); err != nil {
				if !errors.Is(err, engine.ErrConflict) {
					errs = append(errs, err)
				}
				continue
			}
			rep.Images = append(rep.Images, im.ID)
			rep.FreedBytes += im.Size
		}
	}
	oneoffs, err := d.eng.ListContainers(ctx, map[string]string{LabelOneOff: "true"})
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range oneoffs {
		// A one-off that is created but not started yet (berth run attaches
		// before it starts) has no FinishedAt: its age counts from its
		// creation, so a prune cannot remove it under its run.
		if c.Running() || d.now().Sub(c.FinishedAt) < time.Hour || d.now().Sub(c.Created) < time.Hour {
			continue
		}
		if err := d.eng.RemoveContainer(ctx, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Containers = append(rep.Containers, c.Name)
	}
	binds, err := d.pruneBinds()
	rep.Binds = binds
	if err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// ImageBytes is the disk space of the images app/env's kept releases
// name (an image shared by several releases counts once).
func (d *Deployer) ImageBytes(ctx context.Context, app, env string) (int64, error) {
	rels, err := d.store.ListReleases(app, env)
	if err != nil {
		return 0, err
	}
	ids := map[string]bool{}
	for _, r := range rels {
		markImages(ids, r)
	}
	imgs, err := d.images.list(ctx, d.eng, d.now())
	if err != nil {
		return 0, err
	}
	var n int64
	for _, im := range imgs {
		if ids[im.ID] {
			n += im.Size
		}
	}
	return n, nil
}

func (d *Deployer) imageRetention() (keep, drop map[string]bool, err error) {
	keep, drop = map[string]bool{}, map[string]bool{}
	apps, err := d.store.ListApps()
	if err != nil {
		return nil, nil, err
	}
	for _, a := range apps {
		for _, env := range a.Envs {
			rels, err := d.store.ListReleases(a.Name, env)
			if err != nil {
				return nil, nil, err
			}
			good := 0
			for _, r := range rels { // newest first
				if !r.RemovedAt.IsZero() { // of a removed environment: no rollback targets it
					markImages(drop, r)
					continue
				}
				switch r.Status {
				case store.StatusFailed:
					continue
				case store.StatusPending:
					markImages(keep, r)
					continue
				}
				good++
				if good <= d.keep || r.Status == store.StatusLive {
					markImages(keep, r)
				} else {
					markImages(drop, r)
				}
			}
		}
	}
	return keep, drop, nil
}

func markImages(set map[string]bool, r store.Release) {
	for _, si := range r.Services {
		if si.ImageID != "" {
			set[si.ImageID] = true
		}
	}
}

// imageListTTL is how long ImageBytes reuses the engine's image list: a
// status look of every app environment asks for it once per environment,
// and on a host with hundreds of images that list is the look's cost.
const imageListTTL = 5 * time.Second

// imageList is the engine's image list, kept for imageListTTL (for
// ImageBytes only: prune reads its own).
type imageList struct {
	mu   sync.Mutex
	at   time.Time
	imgs []engine.Image
}

func (l *imageList) list(ctx context.Context, eng engine.Engine, now time.Time) ([]engine.Image, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.imgs != nil && now.Sub(l.at) < imageListTTL && !now.Before(l.at) {
		return l.imgs, nil
	}
	imgs, err := eng.ListImages(ctx)
	if err != nil {
		return nil, err
	}
	l.imgs, l.at = imgs, now
	return imgs, nil
}
