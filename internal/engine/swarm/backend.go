package swarm

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
	"github.com/berth-dev/berth/internal/engine/docker"
)

// Options configures the backend.
type Options struct {
	// Host is the address of a swarm manager's engine; empty means
	// DOCKER_HOST or the local socket.
	Host   string
	Logger *slog.Logger
	// PollInterval is how often Watch and the waits poll the swarm's
	// tasks (the API has no task events); 0 means 250ms.
	PollInterval time.Duration
	// ServerID, when set, is the id of the berth server using the
	// backend: the services, networks, volumes, secrets and configs it
	// creates carry it (engine.LabelServer), and what another server
	// created is not listed, watched, changed or removed (owner.go).
	ServerID string
}

// Backend is an engine.Engine on a Docker Swarm, reached through one
// manager. Each engine "container" is a Swarm service of one replica; see
// the package documentation for the mapping and the workload API.
type Backend struct {
	cli   *client.Client
	local *docker.Backend // the manager's engine, for node-local calls (local.go)
	log   *slog.Logger
	poll  time.Duration
	netMu sync.Mutex // serialises EnsureNetwork
	rm    removals   // one removal at a time per service (remove.go)
	// server: Options.ServerID.
	server string
}

var _ engine.Engine = (*Backend)(nil)

// ErrUnsupported is wrapped by the operations Swarm has no equivalent for
// (attaching to a task's standard streams, resizing its terminal).
var ErrUnsupported = errors.ErrUnsupported

// New connects to the manager (lazily: the first call dials).
func New(o Options) (*Backend, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	local, err := docker.New(docker.Options{Host: o.Host, Logger: o.Logger, Name: "swarm", ServerID: o.ServerID})
	if err != nil {
		return nil, err
	}
	return &Backend{cli: local.Client(), local: local, poll: o.PollInterval, log: o.Logger.With("component", "engine", "engine", "swarm"), server: o.ServerID}, nil
}

// Close releases the client's connections.
func (b *Backend) Close() error { return b.cli.Close() }

// Ping reports the engine's version, and fails unless the engine is an
// active swarm manager (only managers accept service calls).
func (b *Backend) Ping(ctx context.Context) (engine.Info, error) {
	if _, err := b.cli.Ping(ctx); err != nil {
		return engine.Info{}, fmt.Errorf("swarm manager at %s: %w", b.cli.DaemonHost(), err)
	}
	info, err := b.cli.Info(ctx)
	if err != nil {
		return engine.Info{}, fmt.Errorf("swarm manager at %s: info: %w", b.cli.DaemonHost(), err)
	}
	if info.Swarm.LocalNodeState != "active" || !info.Swarm.ControlAvailable {
		return engine.Info{}, fmt.Errorf("engine at %s is not a swarm manager (swarm state %q): run berth against a manager, or `docker swarm init`",
			b.cli.DaemonHost(), info.Swarm.LocalNodeState)
	}
	return engine.Info{Name: "swarm", Version: info.ServerVersion, APIVersion: b.cli.ClientVersion()}, nil
}

// wrap maps Docker's error kinds onto engine's sentinels.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("swarm: %s: %w: %v", what, engine.ErrNotFound, err)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("swarm: %s: %w: %v", what, engine.ErrConflict, err)
	}
	return fmt.Errorf("swarm: %s: %w", what, err)
}

func isNotFound(err error) bool {
	return cerrdefs.IsNotFound(err) || errors.Is(err, engine.ErrNotFound)
}

// every calls f each interval until it reports done, an error, or ctx or
// the deadline ends; what names the wait in the timeout error.
func (b *Backend) every(ctx context.Context, d time.Duration, what string, f func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(b.poll / 2)
	defer tick.Stop()
	for {
		done, err := f()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("swarm: %s: not within %s: %w", what, d, ctx.Err())
		case <-tick.C:
		}
	}
}
