package docker

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/berth-dev/berth/internal/engine"
)

// EnsureVolume creates the volume s describes unless one of that name
// exists, and returns the volume as the engine has it.
func (b *Backend) EnsureVolume(ctx context.Context, s engine.VolumeSpec) (engine.Volume, error) {
	if v, err := b.cli.VolumeInspect(ctx, s.Name); err == nil {
		if owner := b.foreign(v.Labels); owner != "" {
			return engine.Volume{}, errForeign("volume", s.Name, owner)
		}
		return fromVolume(&v), nil
	} else if !isNotFound(err) {
		return engine.Volume{}, b.wrap("inspect volume "+s.Name, err)
	}
	driver := s.Driver
	if driver == "" {
		driver = "local"
	}
	// Creating a volume that exists (with the same driver) returns it, so
	// a concurrent creator is harmless; the caller compares the options.
	v, err := b.cli.VolumeCreate(ctx, volume.CreateOptions{Name: s.Name, Driver: driver, DriverOpts: s.DriverOpts, Labels: b.stamp(s.Labels)})
	if err != nil {
		return engine.Volume{}, b.wrap("create volume "+s.Name, err)
	}
	return fromVolume(&v), nil
}

// InspectVolume returns the named volume, or engine.ErrNotFound, wrapped.
func (b *Backend) InspectVolume(ctx context.Context, name string) (engine.Volume, error) {
	v, err := b.cli.VolumeInspect(ctx, name)
	if err != nil {
		return engine.Volume{}, b.wrap("inspect volume "+name, err)
	}
	return fromVolume(&v), nil
}

// fromVolume converts the engine's view of a volume, with its usage when
// the engine reported it.
func fromVolume(v *volume.Volume) engine.Volume {
	ev := engine.Volume{Name: v.Name, Driver: v.Driver, Options: v.Options, Labels: v.Labels, Created: parseTime(v.CreatedAt), Size: -1, RefCount: -1, Mountpoint: v.Mountpoint}
	if u := v.UsageData; u != nil {
		ev.Size, ev.RefCount = u.Size, u.RefCount
	}
	return ev
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
		if v == nil || b.foreign(v.Labels) != "" {
			continue
		}
		if u := usage[v.Name]; u != nil && v.UsageData == nil {
			v.UsageData = u
		}
		out = append(out, fromVolume(v))
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
