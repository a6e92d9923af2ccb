package deploy

import (
	"slices"

	"github.com/berth-dev/berth/internal/spec"
)

// withScales applies app/env's scales to the release x runs (the
// replicas rule, scale_plan.go): x.app gets the scaled counts that hold,
// and x.staleScales names the scales its file overrides, forgotten
// once it is live (dropStaleScales).
func (d *Deployer) withScales(x *execution) {
	scales, err := d.store.Scales(x.app.Name, x.env)
	if err != nil || len(scales) == 0 {
		return
	}
	scaled, stale := ScaledApp(*x.app, scales)
	for _, svc := range scaled.Services {
		if sc, ok := scales[svc.Name]; ok && !slices.Contains(stale, svc.Name) && sc.Replicas != sc.File {
			x.t.say("%s runs %d replica(s) as berth scale set (the file's deploy.replicas is still %d)", svc.Name, sc.Replicas, sc.File)
		}
	}
	for _, name := range stale {
		if svc, ok := x.app.Service(name); ok {
			x.t.say("%s runs the file's %d replica(s): its deploy.replicas was %d when berth scale set %d", name, svc.Replicas, scales[name].File, scales[name].Replicas)
		}
	}
	x.app = &scaled
	x.staleScales = stale
}

// dropStaleScales forgets the scales the file of x's release overrode,
// now that it is live.
func (d *Deployer) dropStaleScales(x *execution) {
	if len(x.staleScales) == 0 {
		return
	}
	if err := d.store.DropScales(x.app.Name, x.env, x.staleScales...); err != nil {
		d.log.Warn("forget scales the file overrode", "app", x.app.Name, "env", x.env, "error", err)
	}
}

// scaledSpec is a release's definition with app/env's scales in force.
func (d *Deployer) scaledSpec(app spec.App, env string) spec.App {
	scales, err := d.store.Scales(app.Name, env)
	if err != nil || len(scales) == 0 {
		return app
	}
	scaled, _ := ScaledApp(app, scales)
	return scaled
}
