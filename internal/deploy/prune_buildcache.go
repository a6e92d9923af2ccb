package deploy

import (
	"context"
	"fmt"
)

// PruneBuildCache removes the caches builds keep for their
// RUN --mount=type=cache mounts (berth prune --build-cache) and returns
// the bytes freed. Each app's mounts are its own while they live, but the
// engine cannot tell whose a cache is, so every app's caches go; the next
// build of each app fills its own again. The layer cache stays.
func (d *Deployer) PruneBuildCache(ctx context.Context) (int64, error) {
	freed, err := d.eng.PruneBuildCache(ctx)
	if err != nil {
		return freed, fmt.Errorf("prune the build cache: %w", err)
	}
	d.log.Info("pruned build cache mounts", "freed_bytes", freed)
	return freed, nil
}
