package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// Self-healing on one host: RunHealer keeps each live release at its
// desired count. It looks at an app environment when an engine event
// pokes it, when the proxy has one of its containers out of rotation,
// while something there is failing, and every healFullEvery anyway;
// planHeal (heal_plan.go) decides, and a replacement goes the way a
// scale-out does: start, gate, switch, then the failed container
// leaves through a retirement (drain, stop, remove). Swarm heals its
// own tasks, so the healer does nothing on a cluster.

// kindHeal holds an app environment's lock while the healer replaces
// containers; a deployment waits for it, as for a reconcile pass.
const kindHeal store.DeploymentKind = "heal"

// healFullEvery is how often every app environment is looked at, even
// with nothing pointing at it.
const healFullEvery = 10 * time.Second

// Event kinds the healer records.
const (
	EventReplaced      = "replaced"
	EventReplaceFailed = "replace_failed"
	EventAllFailing    = "all_failing"
)

// healer is the Deployer's self-healing state. Its maps are keyed by
// container ID or "app/env/service".
type healer struct {
	mu       sync.Mutex
	failing  map[string]map[string]time.Time // app/env → container → when first seen failing
	backoff  map[string]map[int]healBackoff  // service → replica slot → its replacements
	running  map[string]bool                 // app/env → a replacement is under way
	notes    map[string]healNote             // service → what berth status says
	alerted  map[string]bool                 // service → its all-failing episode was notified
	suspects map[string]bool                 // app/env → look at it next pass
	pokes    chan [2]string
}

// healNote is what status shows of a service's healing.
type healNote struct {
	Replacing int
	Note      string
}

func newHealer() healer {
	return healer{failing: map[string]map[string]time.Time{}, backoff: map[string]map[int]healBackoff{}, running: map[string]bool{},
		notes: map[string]healNote{}, alerted: map[string]bool{}, suspects: map[string]bool{}, pokes: make(chan [2]string, 64)}
}

func svcKey(app, env, svc string) string { return app + "/" + env + "/" + svc }

// slot applies f to the backoff of service sk's replica slot i (h.mu
// held).
func (h *healer) slot(sk string, i int, f func(healBackoff) healBackoff) {
	m := h.backoff[sk]
	if m == nil {
		m = map[int]healBackoff{}
		h.backoff[sk] = m
	}
	m[i] = f(m[i])
}

// slots are the replica indexes an action starts containers at.
func (a healAction) slots() []int {
	out := slices.Clone(a.Start)
	for _, m := range a.Replace {
		out = append(out, m.Index)
	}
	return out
}

// healNoteOf is what the healer says of a service now.
func (d *Deployer) healNoteOf(app, env, svc string) healNote {
	d.heal.mu.Lock()
	defer d.heal.mu.Unlock()
	return d.heal.notes[svcKey(app, env, svc)]
}

// pokeHeal asks the healer to look at app/env soon (an engine event
// there); it never blocks.
func (d *Deployer) pokeHeal(app, env string) {
	select {
	case d.heal.pokes <- [2]string{app, env}:
	default: // the full pass finds it
	}
}

// RunHealer heals until ctx ends. It does nothing on a cluster.
func (d *Deployer) RunHealer(ctx context.Context) {
	if d.cluster != nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastFull := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case k := <-d.heal.pokes:
			d.healCheck(ctx, k[0], k[1])
		case <-tick.C:
			full := time.Since(lastFull) >= healFullEvery
			if full {
				lastFull = time.Now()
			}
			for _, k := range d.healCandidates(full) {
				d.healCheck(ctx, k[0], k[1])
			}
		}
	}
}

// healCandidates are the app environments to look at this pass: all of
// them on a full pass, else those with a container out of rotation or
// something failing at the last look.
func (d *Deployer) healCandidates(full bool) [][2]string {
	set := map[[2]string]bool{}
	if full {
		apps, err := d.store.ListApps()
		if err != nil {
			d.log.Warn("heal: list apps", "error", err)
		}
		for _, a := range apps {
			for _, env := range a.Envs {
				set[[2]string{a.Name, env}] = true
			}
		}
	}
	for _, r := range d.proxy.Routes() {
		if p, _ := d.proxy.Route(r.Key); p != nil && p.Healthy() < len(p.Status()) {
			set[[2]string{r.Key.App, r.Key.Env}] = true
		}
	}
	d.heal.mu.Lock()
	for k := range d.heal.suspects {
		app, env, _ := strings.Cut(k, "/")
		set[[2]string{app, env}] = true
	}
	d.heal.mu.Unlock()
	out := make([][2]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0]+"/"+a[1], b[0]+"/"+b[1]) })
	return out
}

// healCheck looks at app/env and starts the replacements planHeal
// decides, in the background, holding the app environment's lock
// until they are done. It does nothing while anything else holds the
// lock (a deployment, a reconcile pass) or a canary runs.
func (d *Deployer) healCheck(ctx context.Context, app, env string) {
	k := lockKey(app, env)
	d.heal.mu.Lock()
	busy := d.heal.running[k]
	d.heal.mu.Unlock()
	if busy {
		return
	}
	unlock, err, _ := d.tryLockOnce(app, env, kindHeal)
	if err != nil {
		return // a deployment owns it: it looks again after
	}
	handed := false
	defer func() {
		if !handed {
			unlock()
		}
	}()
	live, err := d.store.LiveRelease(app, env)
	if err != nil {
		d.forgetHeal(app, env)
		return // nothing live (or not ours)
	}
	if d.refuseDuringCanary(app, env) != nil {
		d.noteAll(app, env, &live.Spec, healNote{Note: "not healed while a canary runs: promote or roll back first"})
		return
	}
	eff := d.scaledSpec(live.Spec, env)
	observed, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: env, engine.LabelRelease: releaseLabel(live.ID)})
	if err != nil {
		d.log.Warn("heal: list containers", "app", app, "env", env, "error", err)
		return
	}
	now := d.now()
	svcs := d.observeHeal(app, env, &eff, live, observed, now)
	dec := planHeal(svcs, now)
	d.noteHeal(app, env, svcs, dec, now)
	if len(dec.Actions) == 0 {
		return
	}
	d.heal.mu.Lock()
	d.heal.running[k] = true
	for _, a := range dec.Actions {
		sk := svcKey(app, env, a.Service)
		for _, i := range a.slots() {
			d.heal.slot(sk, i, func(b healBackoff) healBackoff { return b.afterHeal(true, false, now) })
		}
		note := "replacing " + healWhat(a)
		if a.AllFailing {
			note += "; no replica works, so one at a time"
		}
		d.heal.notes[sk] = healNote{Replacing: len(a.Replace) + len(a.Start), Note: note}
	}
	d.heal.mu.Unlock()
	handed = true
	d.drains.Go(func() {
		defer func() {
			d.heal.mu.Lock()
			delete(d.heal.running, k)
			for _, a := range dec.Actions {
				d.heal.notes[svcKey(app, env, a.Service)] = healNote{}
			}
			d.heal.suspects[k] = true // look again at once: what it left
			d.heal.mu.Unlock()
			unlock()
		}()
		for _, a := range dec.Actions {
			d.replace(d.bg, &eff, env, live, observed, a)
		}
	})
}

// observeHeal turns the live release's containers into planHeal's
// input, keeping when each was first seen failing.
func (d *Deployer) observeHeal(app, env string, eff *spec.App, live store.Release, observed []engine.Container, now time.Time) []healService {
	observed = d.notRetiring(observed)
	observed = slices.DeleteFunc(observed, func(c engine.Container) bool { return c.Labels[LabelOneOff] == "true" })
	scaled := live
	scaled.Spec = *eff
	surplus := surplusReplicas(&scaled, observed)
	// One look at the proxy: which targets are in rotation, and why the
	// others failed their check.
	healthy, healthErr := map[string]bool{}, map[string]string{}
	for _, r := range d.proxy.Routes() {
		if r.Key.App == app && r.Key.Env == env {
			if p, _ := d.proxy.Route(r.Key); p != nil {
				for _, s := range p.Status() {
					healthy[s.Target.ID] = healthy[s.Target.ID] || s.Healthy
					healthErr[s.Target.ID] = s.LastError
				}
			}
		}
	}
	inRotation := func(id string) bool { return healthy[id] }
	d.heal.mu.Lock()
	defer d.heal.mu.Unlock()
	before := d.heal.failing[lockKey(app, env)]
	failing := map[string]time.Time{} // this look's: a container no longer failing starts afresh
	d.heal.failing[lockKey(app, env)] = failing
	var out []healService
	for _, svc := range eff.Services {
		sk := svcKey(app, env, svc.Name)
		if why := healRefusal(eff, svc); why != "" {
			d.heal.notes[sk] = healNote{Note: "not healed by berth: " + why}
			continue
		}
		hs := healService{Name: svc.Name, Desired: svc.Replicas, ReplaceAfter: svc.Healthcheck.ReplaceAfterD(), Backoff: maps.Clone(d.heal.backoff[sk])}
		for _, c := range observed {
			if c.Labels[engine.LabelService] != svc.Name || surplus[c.ID] || c.State == engine.StateRemoving {
				continue // a removed one is missing
			}
			m := healMember{ID: c.ID, Name: c.Name, Index: replicaIndex(c)}
			m.Failing, m.Gone, m.Why = failingWhy(svc, c, inRotation(c.ID), healthErr[c.ID])
			if !m.Failing && c.State == engine.StateExited {
				continue // it completed (exit 0, a policy that does not restart): not a replica at work
			}
			if m.Failing {
				since, ok := before[c.ID]
				if !ok {
					since = now
				}
				failing[c.ID], m.Since = since, since
			}
			hs.Members = append(hs.Members, m)
		}
		out = append(out, hs)
	}
	return out
}

// failingWhy says whether a container of svc fails, whether it is gone
// for good (exited and not restarted by the engine), and why.
func failingWhy(svc spec.Service, c engine.Container, inRotation bool, healthErr string) (failing, gone bool, why string) {
	switch c.State {
	case engine.StateRunning:
		if c.Health == "unhealthy" {
			return true, false, "its Compose healthcheck says unhealthy"
		}
		if svc.Routed() && !inRotation {
			why := "out of rotation: berth's health check of " + svc.Healthcheck.Path + " fails"
			if healthErr != "" {
				why += " (" + healthErr + ")"
			}
			return true, false, why
		}
		return false, false, ""
	case engine.StateRestarting:
		return true, false, fmt.Sprintf("it keeps crashing: the engine restarts it (exit code %d, %d restart(s))", c.ExitCode, c.RestartCount)
	case engine.StatePaused:
		return true, false, "it is paused"
	}
	// exited, dead, created: not running, and the engine does not start
	// it again.
	policy := svc.RestartPolicy()
	if c.State == engine.StateExited && c.ExitCode == 0 && !c.OOMKilled && (policy == "no" || strings.HasPrefix(policy, "on-failure")) {
		return false, false, "" // completed, as its restart policy allows
	}
	switch {
	case c.OOMKilled:
		why = "it was killed for running out of memory"
	case c.State == engine.StateExited:
		why = fmt.Sprintf("it exited with code %d and was not restarted", c.ExitCode)
	default:
		why = "it is " + string(c.State)
	}
	return true, true, why
}

// healRefusal says why berth does not replace svc's containers itself
// ("" when it does): the same limits as berth scale's, and a stateful
// service (one container on its volumes: its restart policy restarts
// it) or a service others wait on to complete.
func healRefusal(app *spec.App, svc spec.Service) string {
	if svc.Stateful {
		return "it is stateful (x-berth.stateful): one container on its volumes, restarted by its restart policy"
	}
	for _, o := range app.Services {
		if o.DependsOn[svc.Name] == "service_completed_successfully" {
			return "it is a job others wait for (depends_on: service_completed_successfully)"
		}
	}
	return scaleRefusal(app, svc, svc.Replicas)
}

// noteHeal records what status says of each service after a look, and
// notes the services that are whole again.
func (d *Deployer) noteHeal(app, env string, svcs []healService, dec healDecision, now time.Time) {
	d.heal.mu.Lock()
	defer d.heal.mu.Unlock()
	waits := map[string]healWait{}
	for _, w := range dec.Waits {
		waits[w.Service] = w
	}
	acting := map[string]bool{}
	for _, a := range dec.Actions {
		acting[a.Service] = true
	}
	suspect := false
	for _, s := range svcs {
		sk := svcKey(app, env, s.Name)
		whole := len(s.Members) >= s.Desired && !slices.ContainsFunc(s.Members, func(m healMember) bool { return m.Failing })
		if !acting[s.Name] {
			for _, m := range s.Members {
				d.heal.slot(sk, m.Index, func(b healBackoff) healBackoff { return b.afterHeal(false, !m.Failing, now) })
			}
		}
		if whole {
			delete(d.heal.alerted, sk)
		} else {
			suspect = true
		}
		note := healNote{Replacing: d.heal.notes[sk].Replacing}
		if w, ok := waits[s.Name]; ok {
			note.Note = w.Why
		}
		d.heal.notes[sk] = note
	}
	if suspect {
		d.heal.suspects[lockKey(app, env)] = true
	} else {
		delete(d.heal.suspects, lockKey(app, env))
	}
}

// noteAll sets every service's note of app/env.
func (d *Deployer) noteAll(app, env string, a *spec.App, n healNote) {
	d.heal.mu.Lock()
	defer d.heal.mu.Unlock()
	for _, s := range a.Services {
		d.heal.notes[svcKey(app, env, s.Name)] = n
	}
}

// forgetHeal drops the healer's state of an app environment that has
// no live release.
func (d *Deployer) forgetHeal(app, env string) {
	d.heal.mu.Lock()
	defer d.heal.mu.Unlock()
	prefix := lockKey(app, env) + "/"
	for k := range d.heal.notes {
		if strings.HasPrefix(k, prefix) {
			delete(d.heal.notes, k)
		}
	}
	delete(d.heal.failing, lockKey(app, env))
	for k := range d.heal.backoff {
		if strings.HasPrefix(k, prefix) {
			delete(d.heal.backoff, k)
		}
	}
	delete(d.heal.suspects, lockKey(app, env))
}

// replace carries out one service's healAction: new containers at the
// replaced and missing indexes, gated as a scale-out's are, switched in;
// then the replaced containers retire (drain, stop, remove). Each
// replacement is an event, with the failed container's last log lines;
// a failure is one too, and the replaced containers stay as they were.
func (d *Deployer) replace(ctx context.Context, app *spec.App, env string, live store.Release, observed []engine.Container, a healAction) {
	svc, ok := app.Service(a.Service)
	if !ok {
		return
	}
	sk := svcKey(app.Name, env, a.Service)
	replaced := map[string]bool{}
	var remove []engine.Container
	for _, m := range a.Replace {
		replaced[m.ID] = true
	}
	st := scaleStep{svc: *svc, from: svc.Replicas, to: svc.Replicas}
	for _, c := range observed {
		if c.Labels[engine.LabelService] != svc.Name || c.Labels[LabelOneOff] == "true" {
			continue
		}
		switch {
		case replaced[c.ID]:
			remove = append(remove, c)
		case c.Running():
			st.keep = append(st.keep, c)
		}
	}
	for _, m := range a.Replace {
		st.start = append(st.start, m.Index)
	}
	st.start = append(st.start, a.Start...)
	st.keep = d.notRetiring(st.keep)
	if a.AllFailing {
		d.allFailing(app.Name, env, sk, a)
	}
	tails := map[string]string{}
	for _, c := range remove {
		tails[c.ID] = d.logTail(c.ID)
	}
	t := newTracker(d.now, func(p Progress) {
		d.log.Info("heal", "app", app.Name, "env", env, "service", svc.Name, "step", p.Message)
	})
	x := &execution{app: app, env: env, rel: live, t: t, pools: map[string]*proxy.Pool{}, jobs: map[string]bool{}}
	start := d.now()
	err := d.scaleOut(ctx, x, []scaleStep{st})
	var dr *proxy.Drain
	if err == nil {
		for _, c := range x.started {
			if err := d.eng.SetRestartPolicy(ctx, c.ID, restartPolicyOf(app, c)); err != nil {
				d.log.Warn("set restart policy", "container", c.Name, "error", err)
			}
		}
		if pool, ok := x.pools[svc.Name]; ok {
			dr, err = d.scaleSwitch(ctx, x, st, pool)
			if err == nil {
				delete(x.pools, svc.Name)
			}
		}
	}
	if err != nil {
		d.abandon(x)
		var next time.Duration
		d.heal.mu.Lock()
		for _, i := range a.slots() {
			next = max(next, d.heal.backoff[sk][i].delay())
		}
		d.heal.mu.Unlock()
		msg := fmt.Sprintf("could not replace %s: %s; %s keeps running as it was, next try in %s",
			healWhat(a), firstLineOf(err.Error()), svc.Name, next)
		d.healEvent(app.Name, env, store.Event{Kind: EventReplaceFailed, Service: svc.Name, Release: releaseLabel(live.ID), Message: msg})
		d.alert(app.Name, env, EventReplaceFailed, msg)
		return
	}
	started := x.started
	took := d.now().Sub(start).Round(time.Millisecond)
	for _, m := range a.Replace {
		msg := fmt.Sprintf("replaced container %s (%s) with %s in %s", m.Name, m.Why, startedAt(started, m.Index), took)
		d.healEvent(app.Name, env, store.Event{Kind: EventReplaced, Service: svc.Name, Container: m.Name, Release: releaseLabel(live.ID), Message: msg + tails[m.ID]})
	}
	for _, i := range a.Start {
		msg := fmt.Sprintf("started %s in place of a replica that was removed, in %s", startedAt(started, i), took)
		d.healEvent(app.Name, env, store.Event{Kind: EventReplaced, Service: svc.Name, Release: releaseLabel(live.ID), Message: msg})
	}
	if len(remove) == 0 {
		return
	}
	ret := d.retiring.add(app.Name, env, remove)
	appCopy := *app
	d.drains.Go(func() {
		defer d.retiring.end(ret)
		d.retireService(&appCopy, env, svc.Name, dr, nil, remove)
	})
}

// allFailing records and notifies, once per episode, that no replica of
// a service works.
func (d *Deployer) allFailing(app, env, sk string, a healAction) {
	d.heal.mu.Lock()
	done := d.heal.alerted[sk]
	d.heal.alerted[sk] = true
	d.heal.mu.Unlock()
	if done {
		return
	}
	why := "its replicas are gone"
	if len(a.Replace) > 0 {
		why = a.Replace[0].Why
	}
	msg := fmt.Sprintf("no replica of %s works (%s): berth replaces them one at a time, with backoff, rather than all at once; if they share a failing dependency (a database), fix it", a.Service, why)
	d.healEvent(app, env, store.Event{Kind: EventAllFailing, Service: a.Service, Message: msg})
	d.alert(app, env, EventAllFailing, msg)
}

// healWhat names what an action replaces.
func healWhat(a healAction) string {
	var parts []string
	for _, m := range a.Replace {
		parts = append(parts, fmt.Sprintf("%s (%s)", m.Name, m.Why))
	}
	if n := len(a.Start); n > 0 {
		parts = append(parts, fmt.Sprintf("%d removed replica(s) of %s", n, a.Service))
	}
	return strings.Join(parts, ", ")
}

// startedAt is the name of the started container at replica index i
// ("a new container" when there is none).
func startedAt(cs []engine.Container, i int) string {
	for _, c := range cs {
		if replicaIndex(c) == i {
			return c.Name
		}
	}
	return "a new container"
}

// healEvent appends e (stamped now) to app/env's events and logs it.
func (d *Deployer) healEvent(app, env string, e store.Event) {
	e.Time = d.now()
	if err := d.store.AppendEvent(app, env, e); err != nil && !errors.Is(err, store.ErrNotFound) {
		d.log.Warn("record event", "app", app, "env", env, "error", err)
	}
	d.log.Info("heal", "app", app, "env", env, "kind", e.Kind, "service", e.Service, "message", firstLineOf(e.Message))
}

// alert hands a notification to the daemon's notifier, when it gave one.
func (d *Deployer) alert(app, env, kind, msg string) {
	if d.alertFn != nil {
		d.alertFn(app, env, kind, msg)
	}
}

// firstLineOf is s up to its first newline.
func firstLineOf(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
