package deploy

import (
	"context"

	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
)

// switchRoutes points every routed service of the new release at its new
// pool, each with one proxy Switch, removes routes of services the release
// no longer routes, and returns the drains of the pools that were swapped
// out, by service: they go on in the background.
func (d *Deployer) switchRoutes(ctx context.Context, x *execution) map[string]*proxy.Drain {
	old := map[string]*proxy.Drain{}
	for _, svc := range x.app.Services {
		pool, ok := x.pools[svc.Name]
		if !ok {
			continue
		}
		dr, err := d.switchRoute(ctx, x.app, x.env, svc.Name, pool)
		if err != nil {
			// CheckHosts ran before anything started and the gate saw the
			// pool healthy; only a concurrent claim by another app, or a
			// pool that lost every target since, lands here. Converge
			// routes the live release again.
			// Its old containers keep serving: they are not retired.
			x.t.say("warning: route %s: %v", svc.Name, err)
			x.unswitched = append(x.unswitched, svc.Name)
			continue
		}
		x.t.say("switched %s to release %d (%d healthy)", svc.Name, x.rel.ID, pool.Healthy())
		if dr != nil {
			old[svc.Name] = dr
		}
	}
	for _, r := range d.proxy.Routes() {
		if r.Key.App != x.app.Name || r.Key.Env != x.env {
			continue
		}
		if _, ok := x.pools[r.Key.Service]; ok {
			continue
		}
		if dr, _ := d.switchRoute(ctx, x.app, x.env, r.Key.Service, nil); dr != nil {
			x.t.say("route of %s removed", r.Key.Service)
			old[r.Key.Service] = dr
		}
	}
	return old
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
