package docker

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/berth-dev/berth/internal/engine"
)

// EnsureVolume creates a named local volume unless it exists.
func (b *Backend) EnsureVolume(ctx context.Context, name string, labels map[string]string) error {
	if _, err := b.cli.VolumeInspect(ctx, name); err == nil {
		return nil
	} else if !isNotFound(err) {
		return b.wrap("inspect volume "+name, err)
	}
	// Creating an existing volume is not an error in Docker, so a
	// concurrent creator is harmless.
	_, err := b.cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Driver: "local", Labels: labels})
	return b.wrap("create volume "+name, err)
}

// ListVolumes lists volumes by labels, with their sizes from the engine's
// disk usage report.
func (b *Backend) ListVolumes(ctx context.Context, labels map[string]string) ([]engine.Volume, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	resp, err := b.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return nil, b.wrap("list volumes", err)
	}
	usage := map[string]*volume.UsageData{}
	if du, err := b.cli.DiskUsage(ctx, types.DiskUsageOptions{Types: []types.DiskUsageObject{types.VolumeObject}}); err == nil {
		for _, v := range du.Volumes {
			if v != nil && v.UsageData != nil {
				usage[v.Name] = v.UsageData
			}
		}
	}
	out := make([]engine.Volume, 0, len(resp.Volumes))
	for _, v := range resp.Volumes {
		if v == nil {
			continue
		}
		ev := engine.Volume{Name: v.Name, Labels: v.Labels, Created: parseTime(v.CreatedAt), Size: -1, RefCount: -1}
		if u := usage[v.Name]; u != nil {
			ev.Size, ev.RefCount = u.Size, u.RefCount
		}
		out = append(out, ev)
	}
	return out, nil
}

// RemoveVolume removes a volume by name; a missing one is not an error.
func (b *Backend) RemoveVolume(ctx context.Context, name string) error {
	if err := b.cli.VolumeRemove(ctx, name, false); err != nil && !isNotFound(err) {
		return b.wrap("remove volume "+name, err)
	}
	return nil
}
