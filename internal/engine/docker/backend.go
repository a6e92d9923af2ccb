package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/engine"
)

// Options configures the backend.
type Options struct {
	// Host is the engine address; empty means DOCKER_HOST or the local
	// socket.
	Host   string
	Logger *slog.Logger
}

// Backend is an engine.Engine on one Docker host.
type Backend struct {
	cli   *client.Client
	log   *slog.Logger
	netMu sync.Mutex // serialises EnsureNetwork (see there)
}

var _ engine.Engine = (*Backend)(nil)

// New connects to the engine (lazily: the first call dials).
func New(o Options) (*Backend, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if o.Host != "" {
		opts = append(opts, client.WithHost(o.Host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, err
	}
	return &Backend{cli: cli, log: o.Logger.With("component", "engine", "engine", "docker")}, nil
}

// Close releases the client's connections.
func (b *Backend) Close() error { return b.cli.Close() }

// Ping reports the engine's version.
func (b *Backend) Ping(ctx context.Context) (engine.Info, error) {
	if _, err := b.cli.Ping(ctx); err != nil {
		return engine.Info{}, fmt.Errorf("docker at %s: %w", b.cli.DaemonHost(), err)
	}
	v, err := b.cli.ServerVersion(ctx)
	if err != nil {
		return engine.Info{}, fmt.Errorf("docker at %s: version: %w", b.cli.DaemonHost(), err)
	}
	out := engine.Info{Name: "docker", Version: v.Version, APIVersion: b.cli.ClientVersion()}
	if info, err := b.cli.Info(ctx); err == nil {
		out.SwarmManager = info.Swarm.LocalNodeState == "active" && info.Swarm.ControlAvailable
	}
	return out, nil
}

// wrap maps Docker's error kinds onto engine's sentinels.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("docker: %s: %w: %v", what, engine.ErrNotFound, err)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("docker: %s: %w: %v", what, engine.ErrConflict, err)
	}
	return fmt.Errorf("docker: %s: %w", what, err)
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

func isNotFound(err error) bool {
	return cerrdefs.IsNotFound(err) || errors.Is(err, engine.ErrNotFound)
}
