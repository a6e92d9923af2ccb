package deploy

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
)

// replaceStateful stops and removes the stateful containers a release
// replaces, before their successors start: one writer per volume.
func (d *Deployer) replaceStateful(ctx context.Context, x *execution, plan Plan) error {
	for _, name := range slices.Sorted(mapsKeys(plan.Replace)) {
		svc, _ := x.app.Service(name)
		if x.replaced == nil {
			x.replaced = map[string]bool{}
		}
		x.replaced[name] = true
		for _, c := range plan.Replace[name] {
			x.t.say("stopping stateful %s (%s) to replace it", name, c.Name)
			if err := d.eng.StopContainer(ctx, c.ID, svc.StopGracePeriod.D()); err != nil {
				return fmt.Errorf("stop %s: %w", c.Name, err)
			}
			if err := d.eng.RemoveContainer(ctx, c.ID); err != nil {
				return fmt.Errorf("remove %s: %w", c.Name, err)
			}
		}
	}
	return nil
}

// startAll starts the new containers in waves: every service whose
// dependencies are met starts at once, all its replicas in parallel, so
// an app without depends_on starts everything together.
func (d *Deployer) startAll(ctx context.Context, x *execution, plan Plan) error {
	byService := map[string][]Placement{}
	for _, p := range plan.Start {
		byService[p.Service] = append(byService[p.Service], p)
	}
	for _, wave := range waves(x.app) {
		for _, name := range wave {
			svc, _ := x.app.Service(name)
			if x.skip[name] {
				continue // not started by this canary deploy or promote
			}
			if err := d.waitDependencies(ctx, x, plan, svc); err != nil {
				return err
			}
		}
		var ps []Placement
		for _, name := range wave {
			ps = append(ps, byService[name]...)
		}
		if err := d.startPlacements(ctx, x, ps); err != nil {
			return err
		}
		for _, name := range wave {
			if svc, _ := x.app.Service(name); svc.Routed() && len(byService[name]) > 0 {
				d.makePool(x, *svc)
			}
		}
	}
	return nil
}

// waves groups services by dependency depth: wave 0 depends on nothing.
func waves(app *spec.App) [][]string {
	depth := map[string]int{}
	order, _ := spec.TopoOrder(app) // validated: no cycles
	var out [][]string
	for _, name := range order {
		svc, _ := app.Service(name)
		n := 0
		for dep := range svc.DependsOn {
			if depth[dep]+1 > n {
				n = depth[dep] + 1
			}
		}
		depth[name] = n
		for len(out) <= n {
			out = append(out, nil)
		}
		out[n] = append(out[n], name)
	}
	return out
}

func (d *Deployer) startPlacements(ctx context.Context, x *execution, ps []Placement) error {
	total := map[string]int{}
	for _, p := range ps {
		total[p.Service]++
	}
	var mu sync.Mutex
	done := map[string]int{}
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range ps {
		g.Go(func() error {
			c, err := d.eng.CreateContainer(gctx, p.Spec)
			mu.Lock()
			defer mu.Unlock()
			if c.ID != "" {
				x.started = append(x.started, c)
			}
			if err != nil {
				if c.ID != "" {
					return fmt.Errorf("service %q: start %s: %w%s", p.Service, p.Spec.Name, err, d.logTail(c.ID))
				}
				return fmt.Errorf("service %q: start %s: %w", p.Service, p.Spec.Name, err)
			}
			done[p.Service]++
			x.t.say("starting %s %d/%d", p.Service, done[p.Service], total[p.Service])
			return nil
		})
	}
	return g.Wait()
}

// makePool builds the new pool of a routed service from its started
// containers; health checks begin at once.
func (d *Deployer) makePool(x *execution, svc spec.Service) {
	var targets []proxy.Target
	for _, c := range x.started {
		if c.Labels[engine.LabelService] != svc.Name {
			continue
		}
		ip := ContainerAddress(c, x.app.Name, x.env)
		targets = append(targets, proxy.Target{ID: c.ID, Name: c.Name, Addr: net.JoinHostPort(ip, strconv.Itoa(svc.Port))})
	}
	x.pools[svc.Name] = proxy.NewPool(routeKey(x.app.Name, x.env, svc.Name), releaseLabel(x.rel.ID), targets, healthConfig(svc), d.log)
}

// waitDependencies waits until every service svc depends on meets the
// condition Compose's depends_on names.
func (d *Deployer) waitDependencies(ctx context.Context, x *execution, plan Plan, svc *spec.Service) error {
	for _, dep := range slices.Sorted(mapsKeys(svc.DependsOn)) {
		cond := svc.DependsOn[dep]
		depSvc, _ := x.app.Service(dep)
		if x.canary > 0 && x.skip[dep] {
			continue // the live release runs it
		}
		deadline := 60 * time.Second
		if depSvc.Routed() {
			deadline = depSvc.Healthcheck.Deadline.D()
		}
		if c := depSvc.Check; c != nil && cond == "service_healthy" {
			deadline = max(deadline, c.StartPeriod.D()+time.Duration(max(c.Retries, 3)+1)*max(c.Interval.D(), 30*time.Second))
		}
		x.t.say("%s waits for %s (%s)", svc.Name, dep, strings.TrimPrefix(cond, "service_"))
		start := d.now()
		tick := time.NewTicker(50 * time.Millisecond)
		for {
			ok, err := d.dependencyMet(ctx, x, plan, *depSvc, cond)
			if err != nil {
				tick.Stop()
				return fmt.Errorf("service %q depends on %q: %w", svc.Name, dep, err)
			}
			if ok {
				break
			}
			if d.now().Sub(start) > deadline {
				tick.Stop()
				return fmt.Errorf("service %q depends on %q, which was not %s within %s", svc.Name, dep, strings.TrimPrefix(cond, "service_"), deadline)
			}
			select {
			case <-ctx.Done():
				tick.Stop()
				return ctx.Err()
			case <-tick.C:
			}
		}
		tick.Stop()
	}
	return nil
}

func (d *Deployer) dependencyMet(ctx context.Context, x *execution, plan Plan, dep spec.Service, cond string) (bool, error) {
	if cond == "service_healthy" && dep.Routed() {
		if p := x.pools[dep.Name]; p != nil {
			return p.Healthy() >= dep.Replicas, nil
		}
	}
	var cs []engine.Container
	for _, c := range x.started {
		if c.Labels[engine.LabelService] == dep.Name {
			cs = append(cs, c)
		}
	}
	cs = append(cs, plan.Keep[dep.Name]...)
	for _, c := range x.adopted {
		if c.Labels[engine.LabelService] == dep.Name && c.Labels[LabelOneOff] != "true" {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return false, fmt.Errorf("it has no containers")
	}
	for _, c := range cs {
		ci, err := d.eng.InspectContainer(ctx, c.ID)
		if err != nil {
			return false, err
		}
		switch cond {
		case "service_completed_successfully":
			if ci.State == engine.StateExited && ci.ExitCode != 0 {
				return false, fmt.Errorf("it exited with code %d%s", ci.ExitCode, d.logTail(c.ID))
			}
			if ci.State != engine.StateExited {
				return false, nil
			}
		case "service_healthy":
			if ci.Health == "unhealthy" {
				return false, fmt.Errorf("its healthcheck fails%s", d.logTail(c.ID))
			}
			if !ci.Running() {
				return false, fmt.Errorf("it exited with code %d%s", ci.ExitCode, d.logTail(c.ID))
			}
			if ci.Health != "" && ci.Health != "healthy" {
				return false, nil
			}
		default:
			if !ci.Running() && ci.State != engine.StateCreated {
				return false, fmt.Errorf("it exited with code %d%s", ci.ExitCode, d.logTail(c.ID))
			}
			if !ci.Running() {
				return false, nil
			}
		}
	}
	return true, nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
