package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// WorkloadName is the cluster's name of an app environment's service:
// one workload for all its releases, rolled from one to the next.
func WorkloadName(app, env, service string) string { return app + "-" + env + "-" + service }

// clusterRefusals lists what berth does not run on a cluster yet, so a
// deploy says so before anything changes instead of half-working.
func clusterRefusals(app *spec.App) []string {
	var out []string
	for _, svc := range app.Services {
		out = append(out, clusterContainerRefusals(svc)...) // cluster_container.go
		if len(svc.ReleaseCommand) > 0 {
			out = append(out, fmt.Sprintf("service %q: x-berth.release_command is not run on a Swarm cluster yet; run it with berth run before the deploy", svc.Name))
		}
		if svc.Stateful {
			out = append(out, fmt.Sprintf("service %q: x-berth.stateful services are not run on a Swarm cluster yet; pin the database to a node with deploy.placement.constraints and run it outside berth", svc.Name))
		}
		if svc.Autoscale != nil && svc.Autoscale.TargetCPU > 0 {
			out = append(out, fmt.Sprintf("service %q: x-berth.autoscale.target.cpu is not available on a Swarm cluster: berth reads CPU from the Docker engine it talks to, and Swarm's manager API gives no statistics of tasks on other nodes; aim at what the proxy measures for every task instead (target.rps, target.in_flight or target.p95)", svc.Name))
		}
		out = append(out, clusterPortRefusals(svc)...)
	}
	out = append(out, clusterNetworkRefusals(app)...)
	return out
}

// workloadSpec is the desired workload of svc in release rel: the same
// container as the single-host engine would start (image, command,
// environment, labels, mounts, limits), with Compose's deploy section.
// Secrets are Swarm secrets, mounted as /run/secrets/KEY, with KEY_FILE
// in the environment naming the file (the Docker official images'
// convention); their values never enter the service's spec.
func workloadSpec(app *spec.App, env string, svc spec.Service, rel store.Release, config map[string]string, secrets []engine.SecretMount, configs []engine.ConfigMount) engine.WorkloadSpec {
	images := map[string]string{}
	for name, si := range rel.Services {
		images[name] = si.ImageID
	}
	vars := make(map[string]string, len(config)+len(secrets))
	for k, v := range config {
		vars[k] = v
	}
	for _, s := range secrets {
		vars[s.Target+"_FILE"] = "/run/secrets/" + s.Target
	}
	d := Desired{App: app, Env: env, Release: rel.ID, Images: images, Vars: vars}
	tpl := containerSpec(d, svc, releaseLabel(rel.ID), 0, NetworkName(app.Name, env))
	tpl.Files = nil // Compose secrets and configs: cluster secrets and configs
	labels := map[string]string{
		engine.LabelManaged: "true", engine.LabelApp: app.Name, engine.LabelEnv: env, engine.LabelService: svc.Name,
		engine.LabelRelease: releaseLabel(rel.ID),
	}
	w := engine.WorkloadSpec{
		Name:     WorkloadName(app.Name, env, svc.Name),
		Labels:   labels,
		Template: tpl,
		Replicas: uint64(max(svc.Replicas, 0)),
		Port:     svc.Port,
		Secrets:  secrets,
		Configs:  configs,
		// berth's defaults: a new task starts before the one it replaces
		// stops, one at a time, and a failed batch rolls back.
		Update:   engine.UpdatePolicy{Parallelism: 1, Order: engine.OrderStartFirst, FailureAction: engine.FailureRollback},
		Rollback: engine.UpdatePolicy{Parallelism: 1, Order: engine.OrderStartFirst, FailureAction: engine.FailurePause},
		Restart:  engine.RestartPolicy{Condition: "any"},
	}
	clusterContainerSettings(&w, svc) // cluster_container.go
	clusterNetworks(&w)
	clusterPorts(&w, svc) // ports_cluster.go
	r := svc.Rollout
	if r == nil {
		return w
	}
	if r.Update != nil {
		w.Update = updatePolicy(*r.Update, w.Update)
	}
	if r.Rollback != nil {
		w.Rollback = updatePolicy(*r.Rollback, w.Rollback)
	}
	w.Placement = engine.Placement{Constraints: slices.Clone(r.Constraints), Spread: slices.Clone(r.Spread), MaxPerNode: r.MaxPerNode}
	w.Resources = engine.Resources{
		LimitNanoCPUs: svc.NanoCPUs, LimitMemoryBytes: svc.MemoryBytes, LimitPids: svc.Pids(),
		ReserveNanoCPUs: r.ReserveNanoCPUs, ReserveMemoryBytes: svc.MemoryReservation(),
	}
	if p := r.Restart; p != nil {
		w.Restart = engine.RestartPolicy{Condition: p.Condition, Delay: p.Delay.D(), MaxAttempts: p.MaxAttempts, Window: p.Window.D()}
		if w.Restart.Condition == "" {
			w.Restart.Condition = "any"
		}
	}
	return w
}

// updatePolicy lays Compose's update_config over berth's defaults: what
// the file leaves unset keeps the default.
func updatePolicy(u spec.UpdateConfig, def engine.UpdatePolicy) engine.UpdatePolicy {
	p := def
	if u.Parallelism != nil {
		p.Parallelism = *u.Parallelism
	}
	p.Delay = u.Delay.D()
	if u.Order != "" {
		p.Order = u.Order
	}
	if u.FailureAction != "" {
		p.FailureAction = u.FailureAction
	}
	p.Monitor = u.Monitor.D()
	p.MaxFailureRatio = u.MaxFailureRatio
	return p
}

// clusterSecrets stores release rel's secrets as cluster secrets (one
// per key, content-addressed, so a changed value is a new secret) and
// returns their mounts, sorted by key.
func (d *Deployer) clusterSecrets(ctx context.Context, w engine.Workloads, rel store.Release) ([]engine.SecretMount, error) {
	secrets, err := d.store.ReleaseSecrets(rel.App, rel.Env, rel.ID)
	if err != nil {
		return nil, fmt.Errorf("secrets of release %d: %w", rel.ID, err)
	}
	keys := make([]string, 0, len(secrets))
	for k := range secrets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]engine.SecretMount, 0, len(keys))
	for _, k := range keys {
		name, err := w.EnsureSecret(ctx, "berth-"+rel.App+"-"+rel.Env+"-"+strings.ToLower(k), []byte(secrets[k]), map[string]string{
			engine.LabelManaged: "true", engine.LabelApp: rel.App, engine.LabelEnv: rel.Env,
		})
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", k, err)
		}
		out = append(out, engine.SecretMount{Secret: name, Target: k, Mode: 0o400})
	}
	return out, nil
}

// clusterConfigs stores svc's Compose configs as cluster configs
// (content-addressed: a changed file is a new config) and returns their
// mounts.
func clusterConfigs(ctx context.Context, w engine.Workloads, app, env string, svc spec.Service) ([]engine.ConfigMount, error) {
	out := make([]engine.ConfigMount, 0, len(svc.Configs))
	for _, c := range svc.Configs {
		name, err := w.EnsureConfig(ctx, "berth-"+app+"-"+env+"-"+svc.Name+"-"+c.Name, []byte(c.Content), map[string]string{
			engine.LabelManaged: "true", engine.LabelApp: app, engine.LabelEnv: env, engine.LabelService: svc.Name,
		})
		if err != nil {
			return nil, fmt.Errorf("service %q: config %s: %w", svc.Name, c.Name, err)
		}
		out = append(out, engine.ConfigMount{Config: name, Target: c.Target, UID: c.UID, GID: c.GID, Mode: c.Mode})
	}
	return out, nil
}
