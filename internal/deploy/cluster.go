package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// On a cluster engine (engine.Workloads: Swarm) a release is not a new
// set of containers beside the old ones but a new spec of each service's
// one workload, which the cluster rolls out task by task by the
// service's update_config. berth follows the rollout (every task that
// starts, gets healthy or stops is a progress line), keeps the routes on
// the serving tasks (cluster_routes.go), and gates the release on its own
// health checks: a new task that does not pass them within the
// healthcheck deadline, or a rollout the cluster pauses or rolls back,
// fails the release, and berth rolls the workloads back to the spec they
// had, reporting it as an automatic rollback.

// executeCluster is execute for a cluster engine.
func (d *Deployer) executeCluster(ctx context.Context, x *execution, w engine.Workloads) (store.Deployment, error) {
	d.startCounting(x)
	msgs := clusterRefusals(x.app)
	if x.canary > 0 {
		msgs = append(msgs, "--canary is not supported on a Swarm cluster yet: deploy without it (Swarm rolls the update out task by task and rolls it back on failure)")
	}
	if len(msgs) > 0 {
		return d.refuseUnstarted(x.dep, x.rel, x.t, fmt.Errorf("release %d refused: %w: %s", x.rel.ID, ErrInvalid, strings.Join(msgs, "; ")))
	}
	applied, err := d.applyWorkloads(ctx, x, w)
	if err == nil {
		err = d.followRollout(ctx, x, w, applied)
	}
	if err != nil {
		if len(applied) > 0 {
			d.rollbackWorkloads(x, w, applied)
		}
		return d.finish(x.dep, x.rel, x.t, d.counted(x), fmt.Errorf("release %d refused: %w; %s", x.rel.ID, err, d.stillServing(x.app.Name, x.env)))
	}
	prev, err := d.store.Activate(x.app.Name, x.env, x.rel.ID, x.previous)
	if err != nil {
		return d.finish(x.dep, x.rel, x.t, d.counted(x), fmt.Errorf("release %d: record it as live: %w", x.rel.ID, err))
	}
	d.liveCommitted()
	if x.previous == store.StatusRolledBack {
		if err := d.store.RestoreConfig(x.app.Name, x.env, x.rel.ID); err != nil {
			d.log.Error("restore configuration of rolled-back-to release", "app", x.app.Name, "env", x.env, "release", x.rel.ID, "error", err)
		}
	}
	d.applyErrorPages(x.app, x.env)
	if prev != 0 {
		x.t.say("release %d is live (release %d %s)", x.rel.ID, prev, strings.ReplaceAll(string(x.previous), "_", " "))
	} else {
		x.t.say("release %d is live", x.rel.ID)
	}
	d.removeDroppedWorkloads(ctx, x, w)
	d.dropStaleScales(x)
	x.t.say("done in %s", x.t.elapsed().Round(time.Millisecond))
	return d.finish(x.dep, x.rel, x.t, d.counted(x), nil)
}

// appliedWorkload remembers how a workload was before this release
// changed it, to undo the change when the release fails.
type appliedWorkload struct {
	name       string
	created    bool // it did not exist before
	rolledBack bool // the cluster rolls it back to its previous spec
}

// applyWorkloads ensures the network and secrets and applies every
// service's workload spec. A rollback to the release a workload's
// previous spec runs uses the cluster's own rollback (Swarm's
// PreviousSpec); any other release is applied as a new spec.
func (d *Deployer) applyWorkloads(ctx context.Context, x *execution, w engine.Workloads) ([]appliedWorkload, error) {
	if err := d.ensureNetworks(ctx, x.app, x.env, x.t.say); err != nil {
		return nil, err
	}
	secrets, err := d.clusterSecrets(ctx, w, x.rel)
	if err != nil {
		return nil, err
	}
	var applied []appliedWorkload
	for _, svc := range x.app.Services {
		configs, err := clusterConfigs(ctx, w, x.app.Name, x.env, svc)
		if err != nil {
			return applied, err
		}
		ws := workloadSpec(x.app, x.env, svc, x.rel, x.rel.Config, secrets, configs)
		if err := d.clusterComposeSecrets(ctx, w, x, svc, &ws); err != nil {
			return applied, err
		}
		st, err := w.InspectWorkload(ctx, ws.Name)
		exists := err == nil
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return applied, fmt.Errorf("service %q: %w", svc.Name, err)
		}
		// Swarm's previous spec may hold another count than the replicas
		// rule gives (a berth scale the target's file has since changed):
		// then the release's spec is applied instead.
		if exists && x.dep.Kind == store.KindRollback && st.HasPrevious && st.PreviousLabels[engine.LabelRelease] == releaseLabel(x.rel.ID) &&
			st.PreviousReplicas == ws.Replicas {
			err := w.RollbackWorkload(ctx, ws.Name)
			if err == nil {
				x.t.say("%s: Swarm rolls back to its previous spec (release %d)", svc.Name, x.rel.ID)
				applied = append(applied, appliedWorkload{name: ws.Name, rolledBack: true})
				continue
			}
			x.t.say("%s: Swarm's rollback to its previous spec failed (%v); applying release %d's spec instead", svc.Name, err, x.rel.ID)
		}
		if _, err := w.ApplyWorkload(ctx, ws); err != nil {
			return applied, fmt.Errorf("service %q: %w", svc.Name, err)
		}
		applied = append(applied, appliedWorkload{name: ws.Name, created: !exists})
		how := "rolling out"
		if !exists {
			how = "creating"
		}
		x.t.say("%s: %s release %d, %d replica(s), %s", svc.Name, how, x.rel.ID, ws.Replicas, describePolicy(ws.Update))
	}
	return applied, nil
}

func describePolicy(p engine.UpdatePolicy) string {
	par := "all at once"
	if p.Parallelism > 0 {
		par = fmt.Sprintf("%d at a time", p.Parallelism)
	}
	s := fmt.Sprintf("%s, %s", par, p.Order)
	if p.Delay > 0 {
		s += fmt.Sprintf(", %s apart", p.Delay)
	}
	if p.FailureAction != "" {
		s += ", on failure " + p.FailureAction
	}
	return s
}

// followRollout waits until every workload runs its replicas of the new
// release, each healthy in the proxy, printing each task's changes and
// keeping the routes on the serving tasks as it goes.
func (d *Deployer) followRollout(ctx context.Context, x *execution, w engine.Workloads, applied []appliedWorkload) error {
	viaRollback := map[string]bool{}
	for _, a := range applied {
		viaRollback[a.name] = a.rolledBack
	}
	// No task changing for this long fails the rollout: a new task has
	// its health deadline, and the cluster waits update_config's delay
	// and monitor between batches.
	deadline := time.Duration(0)
	for _, svc := range x.app.Services {
		dl := max(svc.Healthcheck.Deadline.D(), workerDeadline, svc.Check.Wait())
		if r := svc.Rollout; r != nil && r.Update != nil {
			dl += r.Update.Delay.D() + r.Update.Monitor.D()
		}
		deadline = max(deadline, dl)
	}
	want := releaseLabel(x.rel.ID)
	seen := map[string]string{} // task ID → last reported state
	firstServing := map[string]time.Time{}
	start := d.now()
	tick := time.NewTicker(clusterPollInterval)
	defer tick.Stop()
	lastProgress := start
	for {
		insts, err := w.ListInstances(ctx, map[string]string{engine.LabelApp: x.app.Name, engine.LabelEnv: x.env})
		if err != nil {
			return fmt.Errorf("follow the rollout: %w", err)
		}
		if reportTasks(x, insts, seen) {
			lastProgress = d.now()
		}
		d.syncClusterRoutes(ctx, x.app, x.env, want, insts)
		done := true
		for _, svc := range x.app.Services {
			ok, err := d.serviceRolledOut(ctx, x, w, svc, insts, want, firstServing, viaRollback[WorkloadName(x.app.Name, x.env, svc.Name)])
			if err != nil {
				return err
			}
			done = done && ok
		}
		if done {
			return nil
		}
		if since := d.now().Sub(lastProgress); since > deadline {
			return fmt.Errorf("the rollout made no progress for %s: %s", since.Round(time.Second), pendingTasks(insts, want))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// serviceRolledOut reports whether svc runs all its replicas on release
// want (and, when routed, each is healthy in the proxy), or an error when
// the rollout failed.
func (d *Deployer) serviceRolledOut(ctx context.Context, x *execution, w engine.Workloads, svc spec.Service, insts []engine.Instance, want string, firstServing map[string]time.Time, viaRollback bool) (bool, error) {
	st, err := w.InspectWorkload(ctx, WorkloadName(x.app.Name, x.env, svc.Name))
	if err != nil {
		return false, fmt.Errorf("service %q: %w", svc.Name, err)
	}
	switch st.Update {
	case engine.UpdateRollbackStarted, engine.UpdateRollbackCompleted:
		if viaRollback {
			break // berth asked for it: this is the rollout
		}
		fallthrough
	case engine.UpdatePaused, engine.UpdateRollbackPaused:
		return false, fmt.Errorf("service %q: Swarm's update ended %s: %s", svc.Name, strings.ReplaceAll(string(st.Update), "_", " "), st.Message)
	}
	healthy := map[string]bool{}
	if svc.Routed() {
		if pool, _ := d.proxy.Route(routeKey(x.app.Name, x.env, svc.Name)); pool != nil {
			for _, s := range pool.Status() {
				if s.Healthy {
					healthy[s.ID] = true
				}
			}
		}
	}
	n, ready := 0, 0
	for _, in := range insts {
		if in.Labels[engine.LabelService] != svc.Name {
			continue
		}
		if in.Desired != engine.DesiredRunning {
			continue
		}
		n++
		if in.Labels[engine.LabelRelease] != want || !in.Serving() {
			continue
		}
		if !svc.Routed() {
			ready++
			continue
		}
		if healthy[in.ID] {
			ready++
			continue
		}
		t0, ok := firstServing[in.ID]
		if !ok {
			firstServing[in.ID] = d.now()
			t0 = d.now()
		}
		if d.now().Sub(t0) > svc.Healthcheck.Deadline.D() {
			return false, d.clusterUnhealthy(svc, in)
		}
	}
	return ready == svc.Replicas && n == svc.Replicas, nil
}

func (d *Deployer) clusterUnhealthy(svc spec.Service, in engine.Instance) error {
	why := "it never passed"
	if pool, _ := d.proxy.Route(routeKey(in.Labels[engine.LabelApp], in.Labels[engine.LabelEnv], svc.Name)); pool != nil {
		for _, s := range pool.Status() {
			if s.ID == in.ID && s.LastError != "" {
				why = "last check: " + s.LastError
			}
		}
	}
	return fmt.Errorf("service %q: task %s (%s) did not pass the health check GET %s within %s (%s); make %s answer 2xx or 3xx, or raise x-berth.healthcheck.deadline",
		svc.Name, instanceName(in), in.Addr, svc.Healthcheck.Path, svc.Healthcheck.Deadline.D(), why, svc.Healthcheck.Path)
}

// reportTasks prints each task whose state changed since the last pass
// and reports whether any did.
func reportTasks(x *execution, insts []engine.Instance, seen map[string]string) bool {
	changed := false
	for _, in := range insts {
		state := string(in.State)
		if in.Desired != engine.DesiredRunning {
			state = "stopping"
			if in.State == engine.StateExited {
				state = "stopped"
			}
		}
		if seen[in.ID] == state {
			continue
		}
		seen[in.ID] = state
		changed = true
		msg := fmt.Sprintf("task %s: %s (release %s)", instanceName(in), state, in.Labels[engine.LabelRelease])
		if in.Error != "" && in.State == engine.StateExited {
			msg += ": " + in.Error
		}
		x.t.say("%s", msg)
	}
	return changed
}

func pendingTasks(insts []engine.Instance, want string) string {
	var b []string
	for _, in := range insts {
		if in.Desired == engine.DesiredRunning && (in.Labels[engine.LabelRelease] != want || !in.Serving()) {
			s := fmt.Sprintf("%s %s", instanceName(in), in.State)
			if in.Error != "" {
				s += " (" + in.Error + ")"
			}
			b = append(b, s)
		}
	}
	if len(b) == 0 {
		return "no task is pending"
	}
	return "waiting on " + strings.Join(b, ", ")
}

// rollbackWorkloads undoes a failed release: workloads it created are
// removed, workloads it changed go back to their previous spec, and the
// rollback is followed until they run it, with the routes kept on the
// serving tasks throughout.
func (d *Deployer) rollbackWorkloads(x *execution, w engine.Workloads, applied []appliedWorkload) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	live, liveErr := d.store.LiveRelease(x.app.Name, x.env)
	for _, a := range applied {
		if a.created {
			if err := w.RemoveWorkload(ctx, a.name); err != nil {
				x.t.say("warning: remove %s: %v", a.name, err)
			}
			continue
		}
		st, err := w.InspectWorkload(ctx, a.name)
		if err != nil {
			continue
		}
		if st.Update == engine.UpdateRollbackCompleted || st.Update == engine.UpdateRollbackStarted {
			x.t.say("%s: Swarm rolled it back automatically (%s)", a.name, st.Message)
		} else if err := w.RollbackWorkload(ctx, a.name); err != nil {
			x.t.say("warning: roll %s back: %v", a.name, err)
			continue
		} else {
			x.t.say("%s: rolling back automatically to its previous spec", a.name)
		}
	}
	if liveErr != nil {
		return
	}
	// Follow the rollback: routes stay on serving tasks as they move back.
	want := releaseLabel(live.ID)
	seen := map[string]string{}
	tick := time.NewTicker(clusterPollInterval)
	defer tick.Stop()
	for {
		insts, err := w.ListInstances(ctx, map[string]string{engine.LabelApp: x.app.Name, engine.LabelEnv: x.env})
		if err == nil {
			reportTasks(x, insts, seen)
			d.syncClusterRoutes(ctx, &live.Spec, x.env, want, insts)
			back := true
			for _, in := range insts {
				if in.Desired == engine.DesiredRunning && in.Labels[engine.LabelRelease] != want {
					back = false
				}
			}
			if back {
				x.t.say("rolled back automatically: release %d serves on every task", live.ID)
				return
			}
		}
		select {
		case <-ctx.Done():
			x.t.say("warning: the rollback to release %d did not finish within 2m; berth status %s shows where it is", live.ID, x.app.Name)
			return
		case <-tick.C:
		}
	}
}

// removeDroppedWorkloads removes the workloads of services the new
// release no longer has.
func (d *Deployer) removeDroppedWorkloads(ctx context.Context, x *execution, w engine.Workloads) {
	ws, err := w.ListWorkloads(ctx, map[string]string{engine.LabelApp: x.app.Name, engine.LabelEnv: x.env})
	if err != nil {
		return
	}
	for _, st := range ws {
		if _, ok := x.app.Service(st.Labels[engine.LabelService]); ok {
			continue
		}
		x.t.say("removing %s (no longer in the release)", st.Name)
		if err := w.RemoveWorkload(ctx, st.Name); err != nil {
			x.t.say("warning: remove %s: %v", st.Name, err)
		}
		_, _ = d.proxy.Switch(ctx, proxy.SwitchRequest{Key: routeKey(x.app.Name, x.env, st.Labels[engine.LabelService])}) // drains in the proxy
	}
}
