package deploy

import (
	"context"
	"errors"

	"github.com/berth-dev/berth/internal/store"
)

// Prune removes images of releases that no rollback can target any more:
// per app and environment the newest KeepReleases releases that went
// live keep their images, and so does the live one. An image still named
// by any kept release (of any app or environment) or used by a container
// is never removed. Images of failed releases are left alone: they are
// the user's, and a fixed config may deploy them again.
func (d *Deployer) Prune(ctx context.Context) error {
	keep, drop, err := d.imageRetention()
	if err != nil {
		return err
	}
	var errs []error
	for id := range drop {
		if keep[id] {
			continue
		}
		if err := d.eng.RemoveImage(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		d.log.Info("pruned image", "image", id)
	}
	return errors.Join(errs...)
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
