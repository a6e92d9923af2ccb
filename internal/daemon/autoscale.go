package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/autoscale"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/store"
)

// autoscaler connects the autoscale loop to the deployer: it reads the
// live releases' autoscaled services and their load, and scales them
// as berth scale does, recorded as the actor "autoscale" with the
// reason as an event.
type autoscaler struct {
	dep *deploy.Deployer
	st  *store.Store
}

var (
	_ autoscale.Source = autoscaler{}
	_ autoscale.Scaler = autoscaler{}
)

func (a autoscaler) Services(ctx context.Context) ([]autoscale.Service, error) {
	svcs, err := a.dep.Autoscaled(ctx)
	out := make([]autoscale.Service, len(svcs))
	for i, s := range svcs {
		out[i] = autoscale.Service{App: s.App, Env: s.Env, Name: s.Service, Replicas: s.Replicas, Settings: s.Settings}
	}
	return out, err
}

func (a autoscaler) Counters(ctx context.Context, app, env, service string, cpu bool) (autoscale.Counters, bool) {
	l, ok := a.dep.LoadOf(ctx, app, env, service, cpu)
	c := autoscale.Counters{Pool: l.Pool, Requests: l.Requests, LatencyBounds: l.LatencyBounds, LatencyCounts: l.LatencyCounts, InFlight: l.InFlight}
	for _, x := range l.CPU {
		c.CPU = append(c.CPU, autoscale.ContainerCPU{ID: x.ID, TotalNs: x.Stats.TotalNs, Read: x.Stats.Read, Cores: x.Cores})
	}
	return c, ok
}

func (a autoscaler) Scale(ctx context.Context, app, env, service string, n int, reason string) error {
	ctx, cancel := context.WithTimeout(deploy.WithActor(ctx, "autoscale"), 5*time.Minute)
	defer cancel()
	dep, err := a.dep.Scale(ctx, app, env, []deploy.ScaleTarget{{Service: service, Replicas: n}}, nil)
	e := store.Event{Time: time.Now(), Kind: "autoscaled", Service: service,
		Message: fmt.Sprintf("autoscale: %s to %d replica(s): %s (deployment %d)", service, n, reason, dep.ID)}
	if err != nil {
		e.Message = fmt.Sprintf("autoscale: could not scale %s to %d replica(s) (%s): %v", service, n, reason, err)
	}
	_ = a.st.AppendEvent(app, env, e)
	return err
}
