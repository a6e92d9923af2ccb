package deploy

import (
	"context"

	"github.com/berth-dev/berth/internal/engine"
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

// Autoscaled lists the live services that autoscale. On a cluster a
// service aiming at CPU is left out (a deploy refuses it there:
// clusterRefusals).
func (d *Deployer) Autoscaled(ctx context.Context) ([]AutoscaledService, error) {
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
				if svc.Autoscale != nil && (d.cluster == nil || svc.Autoscale.TargetCPU == 0) {
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
	// CPU is each running container's CPU use so far, when asked for.
	CPU []ContainerCPU
}

// ContainerCPU is a container's CPU time so far and the cores it may
// use (its limit, 0 without one).
type ContainerCPU struct {
	ID    string
	Stats engine.CPUStats
	Cores float64
}

// LoadOf returns the load counters of a service's live pool (routed
// services) and, with cpu, the CPU use of the live release's running
// containers of it; false when there is neither.
func (d *Deployer) LoadOf(ctx context.Context, app, env, service string, cpu bool) (ServiceLoad, bool) {
	var out ServiceLoad
	ok := false
	if p, _ := d.proxy.Route(routeKey(app, env, service)); p != nil {
		st := p.Stats()
		for _, c := range st.Responses {
			out.Requests += c
		}
		out.Pool, out.LatencyBounds, out.LatencyCounts, out.InFlight, out.Healthy = p, st.Latency.Bounds, st.Latency.Counts, p.InFlight(), p.Healthy()
		ok = true
	}
	if !cpu {
		return out, ok
	}
	if d.cluster != nil {
		return out, false // no task statistics across nodes (clusterRefusals)
	}
	sr, isReader := d.eng.(engine.StatsReader)
	live, err := d.store.LiveRelease(app, env)
	if !isReader || err != nil {
		return out, false
	}
	cs, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: env,
		engine.LabelService: service, engine.LabelRelease: releaseLabel(live.ID)})
	if err != nil {
		return out, false
	}
	for _, c := range d.notRetiring(cs) {
		if !c.Running() || c.Labels[LabelOneOff] == "true" {
			continue
		}
		s, err := sr.CPUStats(ctx, c.ID)
		if err != nil {
			continue
		}
		out.CPU = append(out.CPU, ContainerCPU{ID: c.ID, Stats: s, Cores: float64(c.NanoCPUs) / 1e9})
	}
	return out, len(out.CPU) > 0
}
