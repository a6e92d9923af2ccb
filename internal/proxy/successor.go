package proxy

import "log/slog"

// NewPoolFrom is NewPool for a pool that replaces prev while its targets
// change one by one (a Swarm rolling update moves tasks in and out of a
// service): a target of targets that prev has with the same ID and
// address, and that is healthy there, starts healthy, so the new pool
// can be swapped in at once without a health-check round trip for the
// targets that were already serving. Every other target starts unhealthy
// as in NewPool. prev may be nil.
func NewPoolFrom(prev *Pool, key RouteKey, release string, targets []Target, hc HealthConfig, logger *slog.Logger) *Pool {
	p := NewPool(key, release, targets, hc, logger)
	if prev == nil {
		return p
	}
	healthy := map[Target]bool{}
	for _, t := range prev.inRotation() {
		healthy[t.Target] = true
	}
	// As if they had just passed their checks here: they did in prev.
	p.health.carry(func(t *target) bool { return healthy[t.Target] })
	return p
}
