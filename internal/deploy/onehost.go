package deploy

import (
	"fmt"

	"github.com/berth-dev/berth/internal/spec"
)

// oneHostNotes names the deploy keys of app that a Swarm cluster applies
// and one Docker host does not (as docker compose ignores them there), so
// that a deploy to one host says so instead of dropping them silently.
func oneHostNotes(app *spec.App) []string {
	var out []string
	for _, svc := range app.Services {
		r := svc.Rollout
		if r == nil {
			continue
		}
		note := func(key, why string) {
			out = append(out, fmt.Sprintf("service %q: %s has no effect on one host: %s", svc.Name, key, why))
		}
		if r.Update != nil {
			note("deploy.update_config", "berth starts the new release beside the live one and switches all its replicas at once when they are healthy (on a Swarm cluster, berth server --engine swarm, it is the rolling update's policy)")
		}
		if r.Rollback != nil {
			note("deploy.rollback_config", "a rollback switches back to the previous release's containers at once (on a Swarm cluster it is the rollback's policy)")
		}
		if len(r.Constraints) > 0 || len(r.Spread) > 0 || r.MaxPerNode > 0 {
			note("deploy.placement", "every container runs on this host (on a Swarm cluster it places the replicas)")
		}
		if r.ReserveNanoCPUs > 0 {
			note("deploy.resources.reservations.cpus", "Docker reserves no CPU on one host (docker compose ignores it too); limit it with deploy.resources.limits.cpus")
		}
	}
	return out
}
