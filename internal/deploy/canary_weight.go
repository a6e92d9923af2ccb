package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// kindCanaryWeight holds an app environment's lock while its canary's
// share moves; it records no deployment (nothing starts or stops).
const kindCanaryWeight store.DeploymentKind = "canary weight"

// CanaryWeight is a move of a canary's share of clients.
type CanaryWeight struct {
	Release int64 // the canary release
	Live    int64 // the live release it splits with
	From    int   // the percentage it had
	To      int   // the percentage it has now
}

// SetCanaryWeight moves app/env's running canary to weight percent of
// clients (1-99). The store records it first (a restarted berth restores
// the split from it), then each route's canary slot gets the new weight
// in one atomic table swap: the same pools keep serving, no container
// starts or stops and no request is dropped. Clients stay sticky by the
// canary cookie: a client keeps its side unless the move puts its hash
// on the other.
func (d *Deployer) SetCanaryWeight(ctx context.Context, app, env string, weight int) (CanaryWeight, error) {
	if env == "" {
		env = spec.DefaultEnv
	}
	if weight < 1 || weight > 99 {
		return CanaryWeight{}, fmt.Errorf("%w: canary weight %d: give a percentage from 1 to 99 (berth promote %s gives it every client, berth rollback %s none)", ErrInvalid, weight, app, app)
	}
	unlock, err := d.tryLock(app, env, kindCanaryWeight)
	if err != nil {
		return CanaryWeight{}, err
	}
	defer unlock()
	c, err := d.store.GetCanary(app, env)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return CanaryWeight{}, fmt.Errorf("%w: %s/%s runs no canary: berth deploy --canary PERCENT -f FILE starts one", ErrCanary, app, env)
		}
		return CanaryWeight{}, err
	}
	run := d.canaryRunOf(app, env)
	if run == nil || run.rel != c.ReleaseID {
		return CanaryWeight{}, fmt.Errorf("%w: berth is still restoring canary release %d of %s/%s; try again in a few seconds", ErrCanary, c.ReleaseID, app, env)
	}
	rel, err := d.store.GetRelease(app, env, c.ReleaseID)
	if err != nil {
		return CanaryWeight{}, err
	}
	was, err := d.store.SetCanaryWeight(app, env, c.ReleaseID, weight)
	if err != nil {
		return CanaryWeight{}, fmt.Errorf("canary of %s/%s: record the weight: %w", app, env, err)
	}
	for _, svc := range canaryServices(&rel.Spec) {
		pool := run.pools[svc.Name]
		key := routeKey(app, env, svc.Name)
		if cur, _ := d.proxy.Canary(key); pool == nil || cur != pool {
			continue // not routed by the live release: it waits for promote
		}
		// The same pool in the canary slot: nothing drains.
		if _, err := d.proxy.Switch(ctx, proxy.SwitchRequest{Key: key, Slot: proxy.SlotCanary, Pool: pool, Weight: weight}); err != nil {
			return CanaryWeight{}, fmt.Errorf("canary of %s/%s: route %s at %d%%: %w (the store has %d%%: berth restores it at its next start)", app, env, svc.Name, weight, err, weight)
		}
	}
	e := store.Event{Time: d.now(), Kind: "canary_weight", Release: releaseLabel(c.ReleaseID),
		Message: fmt.Sprintf("canary release %d takes %d%% of clients (was %d%%), release %d the rest; by %s", c.ReleaseID, weight, was, run.live, ActorOf(ctx))}
	if err := d.store.AppendEvent(app, env, e); err != nil {
		d.log.Warn("record canary event", "app", app, "env", env, "error", err)
	}
	d.log.Info("canary weight", "app", app, "env", env, "release", c.ReleaseID, "from", was, "to", weight)
	return CanaryWeight{Release: c.ReleaseID, Live: run.live, From: was, To: weight}, nil
}
