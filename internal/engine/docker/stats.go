package docker

import (
	"context"
	"encoding/json"

	"github.com/docker/docker/api/types/container"

	"github.com/berth-dev/berth/internal/engine"
)

var _ engine.StatsReader = (*Backend)(nil)

// CPUStats reads the container's CPU use now (one sample: the engine
// does not wait to prime a second one).
func (b *Backend) CPUStats(ctx context.Context, id string) (engine.CPUStats, error) {
	r, err := b.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return engine.CPUStats{}, b.wrap("stats of container "+id, err)
	}
	defer r.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
		return engine.CPUStats{}, b.wrap("read the stats of container "+id, err)
	}
	return engine.CPUStats{TotalNs: s.CPUStats.CPUUsage.TotalUsage, Read: s.Read}, nil
}
