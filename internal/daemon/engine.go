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

// openEngine returns the backend cfg.Engine names.
func openEngine(cfg Config, log *slog.Logger) (closingEngine, error) {
	switch cfg.Engine {
	case "", "docker":
		eng, err := docker.New(docker.Options{Host: cfg.DockerHost, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("docker client: %w", err)
		}
		return eng, nil
	case "swarm":
		eng, err := swarm.New(swarm.Options{Host: cfg.DockerHost, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("docker client: %w", err)
		}
		return eng, nil
	}
	return nil, fmt.Errorf("--engine %q: use docker (one host) or swarm (a Swarm manager)", cfg.Engine)
}
