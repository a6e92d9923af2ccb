package deploy

import (
	"context"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
)

// switchRoutes points every routed service of the new release at its new
// pool, each in one atomic swap, removes routes of services the release
// no longer routes, and returns the pools that were swapped out.
func (d *Deployer) switchRoutes(x *execution) map[string]*proxy.Pool {
	old := map[string]*proxy.Pool{}
	for _, svc := range x.app.Services {
		pool, ok := x.pools[svc.Name]
		if !ok {
			continue
		}
		prev, err := d.proxy.SetRouteOptions(routeKey(x.app.Name, x.env, svc.Name), svc.Hosts, pool, routeOptions(svc))
		if err != nil {
			// CheckHosts ran before anything started; only a concurrent
			// claim by another app can land here.
			x.t.say("warning: route %s: %v", svc.Name, err)
			continue
		}
		x.t.say("switched %s to release %d (%d healthy)", svc.Name, x.rel.ID, pool.Healthy())
		if prev != nil {
			old[svc.Name] = prev
		}
	}
	for _, r := range d.proxy.Routes() {
		if r.Key.App != x.app.Name || r.Key.Env != x.env {
			continue
		}
		if _, ok := x.pools[r.Key.Service]; ok {
			continue
		}
		if prev := d.proxy.RemoveRoute(r.Key); prev != nil {
			x.t.say("route of %s removed", r.Key.Service)
			old[r.Key.Service] = prev
		}
	}
	return old
}

// drain lets the old pools finish their in-flight requests.
func (d *Deployer) drain(ctx context.Context, x *execution, old map[string]*proxy.Pool) {
	var wg sync.WaitGroup
	for name, p := range old {
		timeout := 30 * time.Second
		if svc, ok := x.app.Service(name); ok {
			timeout = svc.DrainTimeout.D()
		}
		x.t.say("draining %s release %s", name, p.Release())
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.Drain(ctx, timeout)
			if r.Cut > 0 {
				x.t.say("drained %s release %s in %s; %d long-lived request(s) cut at the drain timeout", name, p.Release(), r.Waited.Round(time.Millisecond), r.Cut)
			} else {
				x.t.say("drained %s release %s in %s", name, p.Release(), r.Waited.Round(time.Millisecond))
			}
		}()
	}
	wg.Wait()
}

// retire stops (SIGTERM, then the stop grace period) and removes every
// container that is not part of the new release.
func (d *Deployer) retire(ctx context.Context, x *execution, plan Plan) {
	var wg sync.WaitGroup
	n := 0
	for svcName, cs := range plan.Retire {
		grace := 10 * time.Second
		if svc, ok := x.app.Service(svcName); ok {
			grace = svc.StopGracePeriod.D()
		}
		for _, c := range cs {
			n++
			wg.Add(1)
			go func(c engine.Container) {
				defer wg.Done()
				if err := d.eng.StopContainer(ctx, c.ID, grace); err != nil {
					d.log.Warn("stop old container", "container", c.Name, "error", err)
				}
				if err := d.eng.RemoveContainer(ctx, c.ID); err != nil {
					d.log.Warn("remove old container", "container", c.Name, "error", err)
				}
			}(c)
		}
	}
	if n > 0 {
		x.t.say("stopping %d old container(s)", n)
		wg.Wait()
		x.t.say("stopped %d old container(s)", n)
	}
}

// routeOptions are a routed service's per-route proxy behaviours: the one
// place a spec.Service becomes proxy options (deploys, converge and
// CheckRoute must agree).
func routeOptions(svc spec.Service) proxy.RouteOptions {
	o := proxy.RouteOptions{
		Paths:           svc.Paths,
		StripPrefix:     svc.StripPrefix,
		RedirectHTTPS:   svc.RedirectHTTPS,
		MaxBodyBytes:    proxyLimit(svc.MaxBodyBytes),
		BodyTimeout:     proxyLimit(svc.BodyTimeout).D(),
		WriteTimeout:    proxyLimit(svc.WriteTimeout).D(),
		ResponseTimeout: svc.ResponseTimeout.D(),
	}
	if svc.TLS != nil {
		o.TLSCert, o.TLSKey = svc.TLS.Cert, svc.TLS.Key
	}
	return o
}

// proxyLimit turns an x-berth client limit into the proxy's form: unset
// (nil) is 0, the server's default; the user's 0, none, is negative.
func proxyLimit[T ~int64](v *T) T {
	switch {
	case v == nil:
		return 0
	case *v <= 0:
		return -1
	}
	return *v
}
