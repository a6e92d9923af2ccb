package daemon

import (
	"fmt"
	"log/slog"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/swarm"
)

// closingEngine is an engine backend with connections to release.
type closingEngine interface {
	engine.Engine
	Close() error
}

// openEngine returns the backend cfg.Engine names, for the server of id
// serverID: it sees only its own containers (on Swarm, services),
// networks and volumes.
func openEngine(cfg Config, serverID string, log *slog.Logger) (closingEngine, error) {
	switch cfg.Engine {
	case "", "docker":
		opts, err := dockerOptions(cfg)
		if err != nil {
			return nil, err
		}
		opts.Logger, opts.ServerID = log, serverID
		eng, err := docker.New(opts)
		if err != nil {
			return nil, fmt.Errorf("docker client: %w", err)
		}
		if opts.EngineSubnets {
			log.Info("app networks get their subnets from the engine's default-address-pools (--network-pool docker)")
		} else {
			log.Info("app networks get their subnets from berth's pool", "network_pool", opts.Networks.Prefix.String(), "network_size", opts.Networks.Bits, "networks", opts.Networks.Subnets())
		}
		return eng, nil
	case "swarm":
		eng, err := swarm.New(swarm.Options{Host: cfg.DockerHost, Logger: log, ServerID: serverID})
		if err != nil {
			return nil, fmt.Errorf("docker client: %w", err)
		}
		return eng, nil
	}
	return nil, fmt.Errorf("--engine %q: use docker (one host) or swarm (a Swarm manager)", cfg.Engine)
}

// dockerOptions reads the single-host backend's configuration, checking
// --network-pool and --network-size.
func dockerOptions(cfg Config) (docker.Options, error) {
	opts := docker.Options{Host: cfg.DockerHost}
	pool, size := cfg.NetworkPool, cfg.NetworkSize
	if pool == "docker" {
		opts.EngineSubnets = true
		return opts, nil
	}
	if pool == "" {
		pool = docker.DefaultNetworkPool
	}
	if size == 0 {
		size = docker.DefaultNetworkSize
	}
	p, err := docker.NewSubnetPool(pool, size)
	if err != nil {
		return opts, fmt.Errorf("--network-pool %s --network-size %d: %w (or --network-pool docker: the engine's own pools)", pool, size, err)
	}
	opts.Networks = p
	return opts, nil
}
