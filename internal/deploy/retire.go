package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/proxy/l4"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Retiring an old release. Once the switch is done the deployment is
// done: it is recorded and releases its app environment's lock. The
// pools it swapped out drain in the background (the proxy owns the HTTP
// drains, the Deployer those of published ports), and each service's old
// containers are stopped and removed only once that service's pools have
// drained, by a goroutine the Deployer owns (Close stops it; converge at
// the next start removes what it left). The outcome is an event of the
// app environment ("drained web release 3 in 1.2s; …").
//
// A retirement owns its containers until they are gone: the plan of a
// later deployment or rollback and converge never see them (notRetiring),
// so nothing else stops them under their drain, nor routes them again.

// retirement is one old release leaving an app environment.
type retirement struct {
	app, env string
	ids      map[string]bool // containers it owns
	done     chan struct{}   // closed when it ended
}

// retirements are the retirements in progress, by container.
type retirements struct {
	mu   sync.Mutex
	byID map[string]*retirement
	all  map[*retirement]bool
}

func (rs *retirements) add(app, env string, cs []engine.Container) *retirement {
	r := &retirement{app: app, env: env, ids: map[string]bool{}, done: make(chan struct{})}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.byID == nil {
		rs.byID, rs.all = map[string]*retirement{}, map[*retirement]bool{}
	}
	for _, c := range cs {
		r.ids[c.ID] = true
		rs.byID[c.ID] = r
	}
	rs.all[r] = true
	return r
}

// end forgets r and its containers.
func (rs *retirements) end(r *retirement) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for id := range r.ids {
		if rs.byID[id] == r {
			delete(rs.byID, id)
		}
	}
	delete(rs.all, r)
	close(r.done)
}

// of returns app/env's retirements in progress.
func (rs *retirements) of(app, env string) []*retirement {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []*retirement
	for r := range rs.all {
		if r.app == app && r.env == env {
			out = append(out, r)
		}
	}
	return out
}

// notRetiring returns cs without the containers a retirement owns.
func (d *Deployer) notRetiring(cs []engine.Container) []engine.Container {
	d.retiring.mu.Lock()
	defer d.retiring.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(cs), func(c engine.Container) bool { return d.retiring.byID[c.ID] != nil })
}

// retiringOwns reports whether a retirement owns container id.
func (d *Deployer) retiringOwns(id string) bool {
	d.retiring.mu.Lock()
	defer d.retiring.mu.Unlock()
	return d.retiring.byID[id] != nil
}

// waitRetired waits until app/env's retirements have ended (their
// drains are bounded by their deadlines), or ctx ends.
func (d *Deployer) waitRetired(ctx context.Context, app, env string, t *tracker) {
	rs := d.retiring.of(app, env)
	if len(rs) == 0 {
		return
	}
	t.say("waiting for %d old release(s) to finish draining", len(rs))
	for _, r := range rs {
		select {
		case <-r.done:
		case <-ctx.Done():
			return
		}
	}
}

// portDrain is the background drain of one published port's old pool.
type portDrain struct {
	service, label, release string
	open                    int // connections when it started
	deadline                time.Time
	done                    chan struct{}
	res                     l4.DrainResult // set before done is closed
}

// drainPortsLater drains the listeners' old pools in the background, each
// up to its service's drain timeout; ports the release dropped are
// unbound after.
func (d *Deployer) drainPortsLater(app *spec.App, sw []switchedPort) []*portDrain {
	var out []*portDrain
	for _, s := range sw {
		timeout := spec.DefaultDrainTimeout
		if svc, ok := app.Service(s.service); ok {
			timeout = svc.DrainTimeout.D()
		}
		pd := &portDrain{service: s.service, label: s.label, release: s.old.Release(), open: s.old.Open(),
			deadline: d.now().Add(timeout), done: make(chan struct{})}
		out = append(out, pd)
		d.drains.Go(func() {
			defer close(pd.done)
			pd.res = s.old.DrainContext(d.bg, timeout)
			if s.remove != nil {
				s.remove.Close()
			}
		})
	}
	return out
}

// retireLater hands the old release of x over to the background: the
// HTTP pools in drains and the ports' pools in ports drain, and the
// containers of plan.Retire are stopped service by service once their
// service has drained. The containers are the retirement's from now on.
func (d *Deployer) retireLater(x *execution, retire map[string][]engine.Container, drains map[string]*proxy.Drain, ports []*portDrain) {
	services := map[string]bool{}
	var cs []engine.Container
	for name, list := range retire {
		if len(list) > 0 {
			services[name] = true
			cs = append(cs, list...)
		}
	}
	for name, dr := range drains {
		services[name] = true
		x.t.say("draining %s release %s in the background until %s (%s)",
			name, dr.Release, dr.Deadline.Format(time.TimeOnly), inFlight(dr))
	}
	for _, pd := range ports {
		services[pd.service] = true
		if pd.open > 0 {
			x.t.say("draining %s %s release %s in the background until %s (%d open %s)",
				pd.service, pd.label, pd.release, pd.deadline.Format(time.TimeOnly), pd.open, carried(pd.label))
		}
	}
	if len(services) == 0 {
		d.drains.Go(d.pruneAfter)
		return
	}
	if len(cs) > 0 {
		x.t.say("%d old container(s) stop once their service has drained", len(cs))
	}
	ret := d.retiring.add(x.app.Name, x.env, cs)
	app, env, depID, start := *x.app, x.env, x.dep.ID, x.t.start
	d.drains.Go(func() {
		defer d.retiring.end(ret)
		names := slices.Sorted(maps.Keys(services))
		msgs := make([]string, len(names))
		cuts := make([]int, len(names))
		longs := make([]proxy.LongConns, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			var pds []*portDrain
			for _, pd := range ports {
				if pd.service == name {
					pds = append(pds, pd)
				}
			}
			wg.Go(func() { msgs[i], cuts[i], longs[i] = d.retireService(&app, env, name, drains[name], pds, retire[name]) })
		}
		wg.Wait()
		cut := 0
		var long proxy.LongConns
		for i, n := range cuts {
			cut += n
			long = long.Add(longs[i])
		}
		d.noteOnDeployment(depID, start, msgs, cut, long)
		d.pruneAfter()
	})
}

// pruneAfter prunes once a deployment's old release is gone (its images
// are no longer in use then), unless berth stops.
func (d *Deployer) pruneAfter() {
	if d.bg.Err() != nil {
		return
	}
	if _, err := d.Prune(d.bg); err != nil {
		d.log.Warn("prune", "error", err)
	}
}

// noteOnDeployment appends what the retirement did to the timeline of
// the deployment that started it (finished by then), and adds the
// published ports' connections its drains cut and the old release's
// WebSockets and event streams to its tally, so that its record tells
// how the old release left.
func (d *Deployer) noteOnDeployment(id int64, start time.Time, msgs []string, portsCut int, long proxy.LongConns) {
	msgs = slices.DeleteFunc(msgs, func(m string) bool { return m == "" })
	if id == 0 || (len(msgs) == 0 && portsCut == 0 && long.Open == 0) {
		return
	}
	dep, err := d.store.GetDeployment(id)
	if err != nil {
		d.log.Warn("record the drain on its deployment", "deployment", id, "error", err)
		return
	}
	now := d.now()
	for _, m := range msgs {
		dep.Timeline = append(dep.Timeline, store.Step{At: now, Elapsed: spec.Duration(now.Sub(start)), Message: "in the background: " + m})
	}
	dep.ConnectionsCut += uint64(portsCut)
	dep.LongOpen += uint64(long.Open)
	dep.LongFinished += uint64(long.Finished)
	dep.LongClosed += uint64(long.Closed)
	if err := d.store.UpdateDeployment(dep); err != nil {
		d.log.Warn("record the drain on its deployment", "deployment", id, "error", err)
	}
}

// retireService waits for a service's old pools to drain, then stops and
// removes its old containers and records what happened (an event; the
// message and the published ports' connections cut are returned). When
// berth stops first, it leaves them: converge at the next start removes
// the containers of releases that are not live.
func (d *Deployer) retireService(app *spec.App, env, name string, hd *proxy.Drain, pds []*portDrain, cs []engine.Container) (msg string, portsCut int, long proxy.LongConns) {
	waitFor := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-d.bg.Done():
			return false
		}
	}
	var parts []string
	release := ""
	if hd != nil {
		if !waitFor(hd.Done()) || hd.Result().Stopped {
			return "", 0, long
		}
		release = hd.Release
		res := hd.Result()
		long = res.Long
		parts = append(parts, drainedMessage(name, hd.Release, res.Waited, res.Cut, "long-lived request(s)")+longMessage(res.Long))
	}
	for _, pd := range pds {
		if !waitFor(pd.done) {
			return "", 0, long
		}
		what := carried(pd.label)
		portsCut += pd.res.Cut
		if pd.open > 0 || pd.res.Cut > 0 {
			parts = append(parts, drainedMessage(name+" "+pd.label, pd.release, pd.res.Waited, pd.res.Cut, what))
		}
		if release == "" {
			release = pd.release
		}
	}
	if len(cs) > 0 {
		if release == "" {
			release = cs[0].Labels[engine.LabelRelease]
		}
		grace := 10 * time.Second
		if svc, ok := app.Service(name); ok {
			grace = svc.StopGracePeriod.D()
		}
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Go(func() {
				if err := d.eng.StopContainer(d.bg, c.ID, grace); err != nil {
					d.log.Warn("stop old container", "container", c.Name, "error", err)
				}
				if err := d.eng.RemoveContainer(d.bg, c.ID); err != nil {
					d.log.Warn("remove old container", "container", c.Name, "error", err)
				}
			})
		}
		wg.Wait()
		parts = append(parts, fmt.Sprintf("stopped %d old container(s) of %s", len(cs), name))
	}
	if len(parts) == 0 {
		return "", 0, long
	}
	msg = strings.Join(parts, "; ")
	d.log.Info("old release retired", "app", app.Name, "env", env, "service", name, "release", release, "message", msg)
	e := store.Event{Time: d.now(), Kind: "drained", Service: name, Release: release, Message: msg}
	if err := d.store.AppendEvent(app.Name, env, e); err != nil {
		d.log.Warn("record event", "app", app.Name, "env", env, "error", err)
	}
	return msg, portsCut, long
}

// carried names what a published port's pool carries, by its label.
func carried(label string) string {
	if strings.HasSuffix(label, "/udp") {
		return "UDP flow(s)"
	}
	return "connection(s)"
}

// drainedMessage says how a drain of what's release went.
func drainedMessage(what, release string, waited time.Duration, cut int, cutWhat string) string {
	s := fmt.Sprintf("drained %s release %s in %s", what, release, waited.Round(time.Millisecond))
	if cut > 0 {
		s += fmt.Sprintf("; %d %s cut at the drain timeout", cut, cutWhat)
	}
	return s
}

// inFlight says what a drain waits for: its requests in flight, and how
// many of them are WebSockets or event streams.
func inFlight(dr *proxy.Drain) string {
	s := fmt.Sprintf("%d request(s) in flight", dr.InFlight())
	if n := dr.Long(); n > 0 {
		s += fmt.Sprintf(", %d of them WebSockets or event streams", n)
	}
	return s
}

// longMessage says how a drained pool's WebSockets and event streams
// ended: "" when it had none.
func longMessage(l proxy.LongConns) string {
	if l.Open == 0 {
		return ""
	}
	return fmt.Sprintf("; WebSockets and streams: %d open at the switch, %d finished by themselves, %d closed at the drain timeout", l.Open, l.Finished, l.Closed)
}

// switchRoute is one route's Switch for a deployment: the new pool is
// swapped in once it has a healthy target (the gate already waited for
// all of them), and the old one drains up to the service's drain timeout
// (the proxy's default when the release no longer has the service).
func (d *Deployer) switchRoute(ctx context.Context, app *spec.App, env, service string, pool *proxy.Pool) (*proxy.Drain, error) {
	req := proxy.SwitchRequest{Key: routeKey(app.Name, env, service), Pool: pool}
	if svc, ok := app.Service(service); ok {
		req.Hosts, req.Options, req.DrainTimeout = svc.Hosts, routeOptions(*svc), svc.DrainTimeout.D()
	}
	if pool != nil {
		req.Healthy = 1
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ctx = wctx
	}
	return d.proxy.Switch(ctx, req)
}
