package swarm

import (
	"context"

	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// EnsureConfig creates the Swarm config SecretName(name, data) unless it
// exists (Swarm configs are immutable, like secrets: a new content is a
// new config, and the previous spec keeps the old one).
func (b *Backend) EnsureConfig(ctx context.Context, name string, data []byte, labels map[string]string) (string, error) {
	full := SecretName(name, data)
	return ensureObject(ctx, "config", full, b.stamp(labels),
		func() error { _, _, err := b.cli.ConfigInspectWithRaw(ctx, full); return err },
		func(a swarm.Annotations) error {
			_, err := b.cli.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: a, Data: data})
			return err
		})
}

// configRefs adds w's configs to spec, each looked up by name.
func (b *Backend) configRefs(ctx context.Context, w engine.WorkloadSpec, spec *swarm.ServiceSpec) error {
	for _, c := range w.Configs {
		cfg, _, err := b.cli.ConfigInspectWithRaw(ctx, c.Config)
		if err != nil {
			return wrap("config "+c.Config+" of "+w.Name+" (EnsureConfig it first)", err)
		}
		uid, gid, mode := fileTarget(c.UID, c.GID, c.Mode)
		spec.TaskTemplate.ContainerSpec.Configs = append(spec.TaskTemplate.ContainerSpec.Configs, &swarm.ConfigReference{
			File: &swarm.ConfigReferenceFileTarget{Name: c.Target, UID: uid, GID: gid, Mode: mode}, ConfigID: cfg.ID, ConfigName: cfg.Spec.Name})
	}
	return nil
}
