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
	// Name prefixes the backend's errors and names it in its logs; empty
	// means "docker". engine/swarm, which delegates the node-local calls
	// (images, builds, volumes) to a Backend on its manager, sets "swarm".
	Name string
	// Networks is the IPv4 range the backend cuts its bridge networks'
	// subnets from; the zero value is DefaultNetworkPool in subnets of
	// DefaultNetworkSize.
	Networks SubnetPool
	// EngineSubnets leaves the choice of subnets to the engine (its
	// default-address-pools: about 30 networks unless its daemon.json
	// says otherwise); Networks is then unused.
	EngineSubnets bool
	// ServerID, when set, is the id of the berth server using the
	// backend: everything it creates is labelled with it
	// (engine.LabelServer), and what another server created is not
	// listed, watched or taken over (owner.go).
	ServerID string
}

// Backend is an engine.Engine on one Docker host.
type Backend struct {
	cli   *client.Client
	name  string // prefixes errors: "docker: pull …"
	log   *slog.Logger
	netMu sync.Mutex // serialises EnsureNetwork (see there)
	// pool is where new networks get their subnets; nil: the engine
	// picks.
	pool *SubnetPool
	// routes reads the host's routes, which new subnets must not
	// overlap.
	routes func() ([]taken, error)
	// server: Options.ServerID.
	server string
}

var _ engine.Engine = (*Backend)(nil)

// New connects to the engine (lazily: the first call dials).
func New(o Options) (*Backend, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Name == "" {
		o.Name = "docker"
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if o.Host != "" {
		opts = append(opts, client.WithHost(o.Host))
	}
	var pool *SubnetPool
	if !o.EngineSubnets {
		p, err := NewSubnetPool(DefaultNetworkPool, DefaultNetworkSize)
		if o.Networks != (SubnetPool{}) {
			p, err = NewSubnetPool(o.Networks.Prefix.String(), o.Networks.Bits)
		}
		if err != nil {
			return nil, fmt.Errorf("network pool: %w", err)
		}
		pool = &p
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, err
	}
	return &Backend{cli: cli, name: o.Name, log: o.Logger.With("component", "engine", "engine", o.Name), pool: pool, routes: hostRoutes, server: o.ServerID}, nil
}

// Close releases the client's connections.
func (b *Backend) Close() error { return b.cli.Close() }

// Client is the Docker API client the backend uses, for a backend built
// on this one (engine/swarm) to share its connections.
func (b *Backend) Client() *client.Client { return b.cli }

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

// wrap maps Docker's error kinds onto engine's sentinels, prefixing the
// backend's name.
func (b *Backend) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %s: %w: %v", b.name, what, engine.ErrNotFound, err)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%s: %s: %w: %v", b.name, what, engine.ErrConflict, err)
	}
	return fmt.Errorf("%s: %s: %w", b.name, what, err)
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
