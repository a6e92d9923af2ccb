package swarm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// SecretName is the content-addressed name EnsureSecret stores data
// under: name (cut to fit Swarm's 64 characters), a dash, and 12 hex
// digits of the data's SHA-256.
func SecretName(name string, data []byte) string {
	sum := sha256.Sum256(data)
	if len(name) > 51 {
		name = name[:51]
	}
	return name + "-" + hex.EncodeToString(sum[:6])
}

// EnsureSecret creates the Swarm secret SecretName(name, data) unless it
// exists (Swarm secrets are immutable: a new value is a new secret).
func (b *Backend) EnsureSecret(ctx context.Context, name string, data []byte, labels map[string]string) (string, error) {
	full := SecretName(name, data)
	return ensureObject(ctx, "secret", full, b.stamp(labels),
		func() error { _, _, err := b.cli.SecretInspectWithRaw(ctx, full); return err },
		func(a swarm.Annotations) error {
			_, err := b.cli.SecretCreate(ctx, swarm.SecretSpec{Annotations: a, Data: data})
			return err
		})
}

// ensureObject creates the immutable, content-addressed Swarm object full
// (kind: secret or config) with labels and berth's managed label, unless
// inspect finds it. A create that fails because another berth created it
// meanwhile is a success.
func ensureObject(ctx context.Context, kind, full string, labels map[string]string, inspect func() error, create func(swarm.Annotations) error) (string, error) {
	if err := inspect(); err == nil {
		return full, nil
	} else if !isNotFound(err) {
		return "", wrap("inspect "+kind+" "+full, err)
	}
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	l[engine.LabelManaged] = "true"
	if err := create(swarm.Annotations{Name: full, Labels: l}); err != nil {
		if inspect() == nil {
			return full, nil // created concurrently
		}
		return "", wrap("create "+kind+" "+full, err)
	}
	return full, nil
}

// fileTarget is the owner and mode of a secret's or config's file in a
// task: root's, 0444, unless the mount sets them.
func fileTarget(uid, gid string, mode uint32) (string, string, os.FileMode) {
	if uid == "" {
		uid = "0"
	}
	if gid == "" {
		gid = "0"
	}
	if mode == 0 {
		mode = 0o444
	}
	return uid, gid, fileMode(mode)
}

// ListSecrets lists the secrets whose labels match.
func (b *Backend) ListSecrets(ctx context.Context, labels map[string]string) ([]engine.Secret, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	ss, err := b.cli.SecretList(ctx, swarm.SecretListOptions{Filters: f})
	if err != nil {
		return nil, wrap("list secrets", err)
	}
	out := make([]engine.Secret, 0, len(ss))
	for _, s := range ss {
		if b.foreign(s.Spec.Labels) != "" {
			continue // another berth server's
		}
		out = append(out, engine.Secret{ID: s.ID, Name: s.Spec.Name, Labels: s.Spec.Labels, Created: s.CreatedAt})
	}
	return out, nil
}

// RemoveSecret removes a secret by name or ID. One a service still uses
// is refused with engine.ErrConflict.
func (b *Backend) RemoveSecret(ctx context.Context, name string) error {
	err := b.cli.SecretRemove(ctx, name)
	switch {
	case err == nil || isNotFound(err):
		return nil
	case strings.Contains(err.Error(), "in use"):
		return fmt.Errorf("swarm: remove secret %s: %w: %v", name, engine.ErrConflict, err)
	}
	return wrap("remove secret "+name, err)
}
