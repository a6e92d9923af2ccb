package swarm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// The workload API (engine.Workloads): one app/environment/service is one
// Swarm service of N replicas, updated in place by Swarm's rolling
// updater. Instances are its tasks (instances.go).

var _ engine.Workloads = (*Backend)(nil)

// labelSpecHash records a hash of the WorkloadSpec a service was last
// applied from, so an unchanged ApplyWorkload is a no-op (every service
// update makes Swarm replace the previous spec RollbackWorkload restores).
const labelSpecHash = "berth.swarm.spec-hash"

// updateConfig maps an update or rollback policy onto Swarm's, with
// berth's defaults: start-first, pause on failure.
func updateConfig(p engine.UpdatePolicy, rollback bool) *swarm.UpdateConfig {
	order := p.Order
	if order == "" {
		order = swarm.UpdateOrderStartFirst
	}
	fa := p.FailureAction
	if fa == "" || (rollback && fa == engine.FailureRollback) {
		fa = swarm.UpdateFailureActionPause
	}
	return &swarm.UpdateConfig{Parallelism: p.Parallelism, Delay: p.Delay, Order: order,
		FailureAction: fa, Monitor: p.Monitor, MaxFailureRatio: p.MaxFailureRatio}
}

// restartPolicy maps deploy.restart_policy; Swarm's default condition is
// "any" and berth's default delay 500ms (Swarm's, 5s, is slow to heal).
func restartPolicy(r engine.RestartPolicy) *swarm.RestartPolicy {
	cond := swarm.RestartPolicyConditionAny
	switch r.Condition {
	case "on-failure":
		cond = swarm.RestartPolicyConditionOnFailure
	case "none", "no":
		cond = swarm.RestartPolicyConditionNone
	}
	delay := r.Delay
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	rp := &swarm.RestartPolicy{Condition: cond, Delay: &delay}
	if r.MaxAttempts > 0 {
		n := r.MaxAttempts
		rp.MaxAttempts = &n
	}
	if r.Window > 0 {
		w := r.Window
		rp.Window = &w
	}
	return rp
}

// workloadSpec translates w into a service spec: dnsrr endpoints, the
// container port published in host mode on a port Swarm picks per task,
// secrets looked up by name, and labelSpecHash.
func (b *Backend) workloadSpec(ctx context.Context, w engine.WorkloadSpec) (swarm.ServiceSpec, error) {
	ref, id := b.resolveImage(ctx, w.Template.Image)
	t := w.Template
	t.Labels = b.stamp(w.Labels)
	spec := serviceSpec(w.Name, t, ref, id, w.Replicas)
	spec.TaskTemplate.RestartPolicy = restartPolicy(w.Restart)
	spec.UpdateConfig = updateConfig(w.Update, false)
	spec.RollbackConfig = updateConfig(w.Rollback, true)
	if p := w.Placement; len(p.Constraints) > 0 || len(p.Spread) > 0 || p.MaxPerNode > 0 {
		pl := &swarm.Placement{Constraints: p.Constraints, MaxReplicas: p.MaxPerNode}
		for _, s := range p.Spread {
			pl.Preferences = append(pl.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: s}})
		}
		spec.TaskTemplate.Placement = pl
	}
	r := w.Resources
	lim := swarm.Limit{NanoCPUs: r.LimitNanoCPUs, MemoryBytes: r.LimitMemoryBytes, Pids: r.LimitPids}
	if lim.NanoCPUs == 0 {
		lim.NanoCPUs = t.NanoCPUs
	}
	if lim.MemoryBytes == 0 {
		lim.MemoryBytes = t.MemoryBytes
	}
	res := &swarm.ResourceRequirements{}
	if lim != (swarm.Limit{}) {
		res.Limits = &lim
	}
	if r.ReserveNanoCPUs > 0 || r.ReserveMemoryBytes > 0 {
		res.Reservations = &swarm.Resources{NanoCPUs: r.ReserveNanoCPUs, MemoryBytes: r.ReserveMemoryBytes}
	}
	spec.TaskTemplate.Resources = nil
	if res.Limits != nil || res.Reservations != nil {
		spec.TaskTemplate.Resources = res
	}
	for _, n := range w.Networks {
		spec.TaskTemplate.Networks = append(spec.TaskTemplate.Networks, swarm.NetworkAttachmentConfig{Target: n.Name, Aliases: n.Aliases, DriverOpts: n.DriverOpts})
	}
	if w.Port > 0 {
		spec.EndpointSpec.Ports = []swarm.PortConfig{{Protocol: swarm.PortConfigProtocolTCP, TargetPort: uint32(w.Port), PublishMode: swarm.PortConfigPublishModeHost}}
	}
	spec.EndpointSpec.Ports = append(spec.EndpointSpec.Ports, publishedPorts(w.Published)...) // ports.go
	for _, s := range w.Secrets {
		sec, _, err := b.cli.SecretInspectWithRaw(ctx, s.Secret)
		if err != nil {
			return spec, wrap("secret "+s.Secret+" of "+w.Name+" (EnsureSecret it first)", err)
		}
		target := s.Target
		if target == "" {
			target = s.Secret
		}
		uid, gid, mode := fileTarget(s.UID, s.GID, s.Mode)
		spec.TaskTemplate.ContainerSpec.Secrets = append(spec.TaskTemplate.ContainerSpec.Secrets, &swarm.SecretReference{
			File: &swarm.SecretReferenceFileTarget{Name: target, UID: uid, GID: gid, Mode: mode}, SecretID: sec.ID, SecretName: sec.Spec.Name})
	}
	if err := b.configRefs(ctx, w, &spec); err != nil {
		return spec, err
	}
	sum, err := json.Marshal(struct {
		W          engine.WorkloadSpec
		Ref, ID    string
		SecretRefs []*swarm.SecretReference
		ConfigRefs []*swarm.ConfigReference
	}{w, ref, id, spec.TaskTemplate.ContainerSpec.Secrets, spec.TaskTemplate.ContainerSpec.Configs})
	if err != nil {
		return spec, fmt.Errorf("swarm: hash spec of %s: %w", w.Name, err)
	}
	h := sha256.Sum256(sum)
	spec.Labels[labelSpecHash] = hex.EncodeToString(h[:12])
	return spec, nil
}

// ApplyWorkload creates the service, or updates it to w unless it was
// last applied from the same spec. It returns at once.
func (b *Backend) ApplyWorkload(ctx context.Context, w engine.WorkloadSpec) (string, error) {
	spec, err := b.workloadSpec(ctx, w)
	if err != nil {
		return "", err
	}
	svc, err := b.inspectOwn(ctx, w.Name)
	if isNotFound(err) {
		resp, err := b.cli.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{})
		if err != nil {
			return "", wrap("create service "+w.Name, err)
		}
		return resp.ID, nil
	}
	if err != nil {
		return "", err
	}
	err = b.updateService(ctx, svc.ID, func(s *swarm.ServiceSpec) bool {
		if s.Labels[labelSpecHash] == spec.Labels[labelSpecHash] {
			return false
		}
		*s = spec
		return true
	})
	return svc.ID, err
}

// ScaleWorkload sets the replica count only. Swarm records it as a spec
// change: a RollbackWorkload right after it undoes the scale.
func (b *Backend) ScaleWorkload(ctx context.Context, name string, replicas uint64) error {
	return b.updateService(ctx, name, func(s *swarm.ServiceSpec) bool {
		if s.Mode.Replicated == nil || (s.Mode.Replicated.Replicas != nil && *s.Mode.Replicated.Replicas == replicas) {
			return false
		}
		s.Mode.Replicated.Replicas = &replicas
		delete(s.Labels, labelSpecHash) // the next ApplyWorkload applies
		return true
	})
}

// RollbackWorkload asks Swarm to restore the previous spec, by the
// workload's rollback policy.
func (b *Backend) RollbackWorkload(ctx context.Context, name string) error {
	svc, err := b.inspectOwn(ctx, name)
	if err != nil {
		return err
	}
	if svc.PreviousSpec == nil {
		return fmt.Errorf("swarm: roll back %s: no previous spec: %w", name, engine.ErrNotFound)
	}
	_, err = b.cli.ServiceUpdate(ctx, svc.ID, svc.Version, svc.Spec, swarm.ServiceUpdateOptions{Rollback: "previous"})
	return wrap("roll back service "+name, err)
}

// InspectWorkload returns the service's state.
func (b *Backend) InspectWorkload(ctx context.Context, name string) (engine.WorkloadStatus, error) {
	svc, err := b.inspectOwn(ctx, name)
	if err != nil {
		return engine.WorkloadStatus{}, err
	}
	tasks, err := b.tasksOf(ctx, svc.ID)
	if err != nil {
		return engine.WorkloadStatus{}, err
	}
	return statusOf(svc, tasks), nil
}

// ListWorkloads lists the services whose labels match.
func (b *Backend) ListWorkloads(ctx context.Context, labels map[string]string) ([]engine.WorkloadStatus, error) {
	svcs, tasks, err := b.services(ctx, labels)
	if err != nil {
		return nil, err
	}
	out := make([]engine.WorkloadStatus, 0, len(svcs))
	for _, s := range svcs {
		out = append(out, statusOf(s, tasks[s.ID]))
	}
	return out, nil
}

func statusOf(svc swarm.Service, tasks []swarm.Task) engine.WorkloadStatus {
	st := engine.WorkloadStatus{ID: svc.ID, Name: svc.Spec.Name, Labels: svc.Spec.Labels, HasPrevious: svc.PreviousSpec != nil}
	if svc.PreviousSpec != nil {
		st.PreviousLabels = svc.PreviousSpec.Labels
		if r := svc.PreviousSpec.Mode.Replicated; r != nil && r.Replicas != nil {
			st.PreviousReplicas = *r.Replicas
		}
	}
	if r := svc.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		st.Replicas = *r.Replicas
	}
	for _, t := range tasks {
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
			st.Running++
		}
	}
	if u := svc.UpdateStatus; u != nil {
		st.Update, st.Message = engine.UpdateState(u.State), u.Message
		if u.StartedAt != nil {
			st.UpdateStarted = *u.StartedAt
		}
		if u.CompletedAt != nil {
			st.UpdateCompleted = *u.CompletedAt
		}
	}
	return st
}

// RemoveWorkload removes the service once its tasks have stopped and
// settled (remove.go); a missing one is not an error.
func (b *Backend) RemoveWorkload(ctx context.Context, name string) error {
	return b.removeService(ctx, name)
}

func isSequenceError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "update out of sequence")
}

// isLeaderChange reports whether err is the managers' raft losing or
// electing its leader while they handled a write: the same write succeeds
// once a leader is elected (a second or two).
func isLeaderChange(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "lost leader status") || strings.Contains(err.Error(), "no elected cluster leader"))
}

// retryWrite reports whether a write to the cluster that failed with err
// on the given attempt (0 first) is worth another try, after waiting out
// a leader election (250 ms, doubling up to 2 s). A sequence error
// (someone else updated the object first) is retried at once, five times.
func retryWrite(ctx context.Context, err error, attempt int) bool {
	if isSequenceError(err) {
		return attempt < 5
	}
	// A partitioned manager that rejoins can unseat the leader again
	// while the cluster settles: wait up to about 25 s in all.
	if !isLeaderChange(err) || attempt >= 14 {
		return false
	}
	t := time.NewTimer(min(time.Duration(250<<min(attempt, 4))*time.Millisecond, 2*time.Second))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func fileMode(m uint32) os.FileMode { return os.FileMode(m) }
