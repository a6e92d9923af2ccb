package docker

import (
	"context"
	"fmt"

	bkclient "github.com/moby/buildkit/client"
)

// PruneBuildCache removes the caches of RUN --mount=type=cache mounts
// that no running build uses, and returns the bytes freed. The layer
// cache stays. Each app's mounts have ids of their own
// (BuildOptions.CacheScope), but the engine's BuildKit records a mount
// by its target and command only, so the caches cannot be told apart
// here: every app's go.
func (b *Backend) PruneBuildCache(ctx context.Context) (int64, error) {
	c, err := b.buildkit(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ch := make(chan bkclient.UsageInfo)
	done := make(chan int64)
	go func() {
		var freed int64
		for u := range ch {
			freed += u.Size
		}
		done <- freed
	}()
	err = c.Prune(ctx, ch, bkclient.PruneAll, bkclient.WithFilter([]string{"type==" + string(bkclient.UsageRecordTypeCacheMount)}))
	close(ch)
	freed := <-done
	if err != nil {
		return freed, fmt.Errorf("%s: prune the build cache: %w", b.name, err)
	}
	return freed, nil
}
