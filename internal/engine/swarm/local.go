package swarm

import (
	"context"
	"io"

	"github.com/berth-dev/berth/internal/engine"
)

// Images, builds and volumes are node-local in a swarm: these calls act
// on the manager berth talks to, through a docker.Backend on the same
// client, exactly as on a single host. A task elsewhere gets its image
// from a registry (a reference with a digest), or finds it already loaded
// (a reference by image ID).

// InspectImage resolves ref on the manager.
func (b *Backend) InspectImage(ctx context.Context, ref string) (engine.Image, error) {
	return b.local.InspectImage(ctx, ref)
}

// PullImage pulls ref onto the manager.
func (b *Backend) PullImage(ctx context.Context, ref string, auth *engine.RegistryAuth, progress func(string)) error {
	return b.local.PullImage(ctx, ref, auth, progress)
}

// PushImage pushes ref from the manager to its registry.
func (b *Backend) PushImage(ctx context.Context, ref string, auth *engine.RegistryAuth, progress func(string)) error {
	return b.local.PushImage(ctx, ref, auth, progress)
}

// ListImages lists the images on the manager.
func (b *Backend) ListImages(ctx context.Context) ([]engine.Image, error) {
	return b.local.ListImages(ctx)
}

// RemoveImage removes an image from the manager, never by force.
func (b *Backend) RemoveImage(ctx context.Context, id string) error {
	return b.local.RemoveImage(ctx, id)
}

// BuildImage builds on the manager with its BuildKit (engine/docker). The image
// exists on the manager only: push it (berth's pipeline does when it has
// registry credentials) before tasks on other nodes can run it.
func (b *Backend) BuildImage(ctx context.Context, buildContext io.Reader, o engine.BuildOptions, log func(string)) (string, error) {
	return b.local.BuildImage(ctx, buildContext, o, log)
}

// PruneBuildCache prunes the manager's build cache, where berth builds.
func (b *Backend) PruneBuildCache(ctx context.Context) (int64, error) {
	return b.local.PruneBuildCache(ctx)
}

// EnsureVolume creates a named volume on the manager. Swarm has no
// cluster volumes at API 1.41: on other nodes a task's volume mount
// creates the volume where the task lands (with the driver and options
// the mount carries), so a stateful service must be pinned to one node
// (placement) to keep its data, or use a driver whose volumes reach the
// same data from every node (NFS through the local driver's options).
func (b *Backend) EnsureVolume(ctx context.Context, s engine.VolumeSpec) (engine.Volume, error) {
	return b.local.EnsureVolume(ctx, s)
}

// InspectVolume returns the manager's volume of that name, or
// engine.ErrNotFound, wrapped: other nodes' volumes are out of its
// reach.
func (b *Backend) InspectVolume(ctx context.Context, name string) (engine.Volume, error) {
	return b.local.InspectVolume(ctx, name)
}

// ListVolumes lists the manager's volumes whose labels match, with their
// sizes on the manager.
func (b *Backend) ListVolumes(ctx context.Context, labels map[string]string) ([]engine.Volume, error) {
	return b.local.ListVolumes(ctx, labels)
}

// RemoveVolume removes a volume from the manager; a missing one is not an
// error.
func (b *Backend) RemoveVolume(ctx context.Context, name string) error {
	return b.local.RemoveVolume(ctx, name)
}
