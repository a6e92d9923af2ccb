package swarm

import (
	"context"
	"maps"

	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// EnsureConfig creates the Swarm config SecretName(name, data) unless it
// exists (Swarm configs are immutable, like secrets: a new content is a
// new config, and the previous spec keeps the old one).
func (b *Backend) EnsureConfig(ctx context.Context, name string, data []byte, labels map[string]string) (string, error) {
	full := SecretName(name, data)
	if _, _, err := b.cli.ConfigInspectWithRaw(ctx, full); err == nil {
		return full, nil
	} else if !isNotFound(err) {
		return "", wrap("inspect config "+full, err)
	}
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	l[engine.LabelManaged] = "true"
	if _, err := b.cli.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: swarm.Annotations{Name: full, Labels: l}, Data: data}); err != nil {
		if _, _, ierr := b.cli.ConfigInspectWithRaw(ctx, full); ierr == nil {
			return full, nil // created concurrently
		}
		return "", wrap("create config "+full, err)
	}
	return full, nil
}

// configRefs adds w's configs to spec, each looked up by name.
func (b *Backend) configRefs(ctx context.Context, w engine.WorkloadSpec, spec *swarm.ServiceSpec) error {
	for _, c := range w.Configs {
		cfg, _, err := b.cli.ConfigInspectWithRaw(ctx, c.Config)
		if err != nil {
			return wrap("config "+c.Config+" of "+w.Name+" (EnsureConfig it first)", err)
		}
		uid, gid, mode := c.UID, c.GID, c.Mode
		if uid == "" {
			uid = "0"
		}
		if gid == "" {
			gid = "0"
		}
		if mode == 0 {
			mode = 0o444
		}
		spec.TaskTemplate.ContainerSpec.Configs = append(spec.TaskTemplate.ContainerSpec.Configs, &swarm.ConfigReference{
			File: &swarm.ConfigReferenceFileTarget{Name: c.Target, UID: uid, GID: gid, Mode: fileMode(mode)}, ConfigID: cfg.ID, ConfigName: cfg.Spec.Name})
	}
	return nil
}
