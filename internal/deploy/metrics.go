package deploy

import (
	"github.com/berth-dev/berth/internal/metrics"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/store"
)

// MetricsSources gives the metrics collector read access to the proxy's
// counters and the store's deployments, read at scrape time.
func (d *Deployer) MetricsSources() metrics.Sources {
	return metrics.Sources{
		Routes: func() []metrics.RouteSample {
			var out []metrics.RouteSample
			for _, r := range d.proxy.Routes() {
				for _, pool := range []*proxy.Pool{r.Pool, r.Canary} {
					if pool != nil {
						out = append(out, poolSample(r.Key, pool))
					}
				}
			}
			return out
		},
		Envs: func() []metrics.EnvSample {
			var out []metrics.EnvSample
			apps, _ := d.store.ListApps()
			for _, a := range apps {
				for _, env := range a.Envs {
					c := d.proxy.Counters(a.Name, env)
					out = append(out, metrics.EnvSample{App: a.Name, Env: env, Served: c.Served, Failed: c.Failed})
				}
			}
			return out
		},
		Deploys: func() []metrics.DeploySample {
			deps, _ := d.store.ListDeployments("", "", 1000)
			out := make([]metrics.DeploySample, 0, len(deps))
			for _, dep := range deps {
				if dep.Status == store.DeploymentRunning {
					continue
				}
				out = append(out, metrics.DeploySample{App: dep.App, Env: dep.Env, Kind: string(dep.Kind), Status: string(dep.Status), Seconds: dep.EndedAt.Sub(dep.StartedAt).Seconds()})
			}
			return out
		},
	}
}

// poolSample reads one pool of key's route for the collector.
func poolSample(key proxy.RouteKey, pool *proxy.Pool) metrics.RouteSample {
	st := pool.Stats()
	rs := metrics.RouteSample{App: key.App, Env: key.Env, Service: key.Service, Release: pool.Release(),
		Responses: st.Responses, Retries: st.Retries, Replays: st.Replays,
		Latency: metrics.HistogramSample{Bounds: st.Latency.Bounds, Counts: st.Latency.Counts, Sum: st.Latency.Sum}}
	for _, t := range pool.Status() {
		e := t.Errors
		rs.Targets = append(rs.Targets, metrics.TargetSample{Name: t.Target.Name, Healthy: t.Healthy, InFlight: t.InFlight, Served: t.Served,
			UpstreamErrors: map[string]uint64{"dial": e.Dial, "reset": e.Reset, "timeout": e.Timeout, "other": e.Other}})
	}
	return rs
}
