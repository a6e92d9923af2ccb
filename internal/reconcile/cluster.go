package reconcile

import (
	"context"
	"log/slog"
	"time"
)

// RouteFollower keeps the proxy's routes on a cluster's instances.
type RouteFollower interface {
	// SyncClusterRoutes points the route of every live app environment
	// at its running instances, once; an app environment being deployed
	// is left to its deployment.
	SyncClusterRoutes(ctx context.Context) error
}

// FollowOptions configures FollowCluster.
type FollowOptions struct {
	Routes RouteFollower
	Logger *slog.Logger
	// Every is the polling period (default 250ms): Swarm's event stream
	// says little about tasks moving between nodes, so the loop polls,
	// as converge's resync does for containers.
	Every time.Duration
}

// FollowCluster follows a cluster's instances until ctx ends: what the
// event loop of Run does for one host's containers, for Swarm's tasks.
// A failing pass is logged once, and again when passes succeed again.
func FollowCluster(ctx context.Context, o FollowOptions) {
	if o.Every <= 0 {
		o.Every = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	log := o.Logger.With("component", "reconcile")
	tick := time.NewTicker(o.Every)
	defer tick.Stop()
	failing := false
	for {
		if err := o.Routes.SyncClusterRoutes(ctx); err != nil {
			if !failing && ctx.Err() == nil {
				log.Warn("follow cluster instances", "error", err)
			}
			failing = true
		} else if failing {
			log.Info("following cluster instances again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
