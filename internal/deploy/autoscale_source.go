package deploy

import (
	"context"

	"github.com/berth-dev/berth/internal/spec"
)

// What autoscaling reads of the live releases (internal/autoscale's
// loop, through the daemon).

// AutoscaledService is a live service with x-berth.autoscale and the
// replica count it runs now (the file's or a scale's).
type AutoscaledService struct {
	App, Env, Service string
	Replicas          int
	Settings          spec.Autoscale
}

// Autoscaled lists the live services that autoscale, on one host.
func (d *Deployer) Autoscaled(ctx context.Context) ([]AutoscaledService, error) {
	if d.cluster != nil {
		return nil, nil // berth scale does not run on a cluster yet
	}
	apps, err := d.store.ListApps()
	if err != nil {
		return nil, err
	}
	var out []AutoscaledService
	for _, a := range apps {
		for _, env := range a.Envs {
			live, err := d.store.LiveRelease(a.Name, env)
			if err != nil {
				continue
			}
			eff := d.scaledSpec(live.Spec, env)
			for _, svc := range eff.Services {
				if svc.Autoscale != nil {
					out = append(out, AutoscaledService{App: a.Name, Env: env, Service: svc.Name, Replicas: svc.Replicas, Settings: *svc.Autoscale})
				}
			}
		}
	}
	return out, ctx.Err()
}

// ServiceLoad is a routed service's load counters now, cumulative since
// its pool was made: Pool identifies that pool (a new one restarts the
// counts), Requests counts its answers, Latency its latency histogram
// (bucket upper bounds in seconds, counts per bucket with the last for
// +Inf), InFlight the requests under way.
type ServiceLoad struct {
	Pool          any
	Requests      uint64
	LatencyBounds []float64
	LatencyCounts []uint64
	InFlight      int64
	Healthy       int
}

// LoadOf returns the load counters of a routed service's live pool.
func (d *Deployer) LoadOf(app, env, service string) (ServiceLoad, bool) {
	p, _ := d.proxy.Route(routeKey(app, env, service))
	if p == nil {
		return ServiceLoad{}, false
	}
	st := p.Stats()
	var n uint64
	for _, c := range st.Responses {
		n += c
	}
	return ServiceLoad{Pool: p, Requests: n, LatencyBounds: st.Latency.Bounds, LatencyCounts: st.Latency.Counts, InFlight: p.InFlight(), Healthy: p.Healthy()}, true
}
