package swarm

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/berth-dev/berth/internal/engine"
)

// Labels this backend adds to the services it creates.
const (
	// labelImageID records the image ID a service was created from (the
	// spec may name it by digest, which Container.ImageID must not be).
	labelImageID = "berth.swarm.image-id"
	// labelStopped marks a service StopContainer scaled to zero, so it
	// reads as exited, not as created-and-never-started.
	labelStopped = "berth.swarm.stopped"
)

// resolveImage picks the reference tasks run. An image the manager has
// with a registry digest is named name@digest (each node pulls it when it
// lacks it, and skips the pull when it has it); one without (built or
// loaded locally) is named by its ID, which every node must already have.
// An image the manager lacks is left to the nodes to pull. It returns the
// reference and the image ID ("" when unknown).
func (b *Backend) resolveImage(ctx context.Context, ref string) (string, string) {
	ii, err := b.cli.ImageInspect(ctx, ref)
	if err != nil {
		return ref, ""
	}
	if !strings.HasPrefix(ref, "sha256:") {
		name := ref
		if i := strings.LastIndex(name, "@"); i >= 0 {
			name = name[:i]
		}
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			name = name[:i]
		}
		for _, d := range ii.RepoDigests {
			if repo, _, ok := strings.Cut(d, "@"); ok && (repo == name || strings.HasSuffix(repo, "/"+name)) {
				return d, ii.ID
			}
		}
	}
	return ii.ID, ii.ID
}

// restartCondition maps Docker restart policies onto Swarm's conditions.
func restartCondition(policy string) swarm.RestartPolicyCondition {
	switch policy {
	case "on-failure":
		return swarm.RestartPolicyConditionOnFailure
	case "always", "unless-stopped":
		return swarm.RestartPolicyConditionAny
	}
	return swarm.RestartPolicyConditionNone
}

// serviceSpec translates a container spec into a service of replicas
// tasks, on s.Network (an overlay) with DNS round-robin endpoints: berth's
// proxy dials task addresses, never a virtual IP.
func serviceSpec(name string, s engine.ContainerSpec, image, imageID string, replicas uint64) swarm.ServiceSpec {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[engine.LabelManaged] = "true"
	svcLabels := maps.Clone(labels)
	if imageID != "" {
		svcLabels[labelImageID] = imageID
	}
	cs := &swarm.ContainerSpec{
		Image: image, Labels: labels, Command: s.Entrypoint, Args: s.Cmd, Env: s.Env,
		Dir: s.WorkingDir, User: s.User, StopSignal: s.StopSignal, TTY: s.TTY, OpenStdin: s.OpenStdin,
	}
	if s.StopGrace > 0 {
		g := s.StopGrace
		cs.StopGracePeriod = &g
	}
	if c := s.Check; c != nil {
		cs.Healthcheck = &container.HealthConfig{Test: c.Test, Interval: c.Interval, Timeout: c.Timeout, StartPeriod: c.StartPeriod, Retries: c.Retries}
	}
	for _, m := range s.Mounts {
		cs.Mounts = append(cs.Mounts, serviceMount(m))
	}
	delay := 500 * time.Millisecond
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name, Labels: svcLabels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: cs,
			RestartPolicy: &swarm.RestartPolicy{Condition: restartCondition(s.RestartPolicy), Delay: &delay},
			LogDriver:     &swarm.Driver{Name: "json-file", Options: map[string]string{"max-size": "10m", "max-file": "3"}},
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}
	if s.MemoryBytes > 0 || s.NanoCPUs > 0 {
		spec.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: s.MemoryBytes, NanoCPUs: s.NanoCPUs}}
	}
	if s.Network != "" {
		spec.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: s.Network, Aliases: s.Aliases, DriverOpts: s.Endpoint.DriverOpts}}
		for _, n := range s.Networks { // Compose networks: beyond the first
			spec.TaskTemplate.Networks = append(spec.TaskTemplate.Networks, swarm.NetworkAttachmentConfig{Target: n.Name, Aliases: n.Aliases, DriverOpts: n.DriverOpts})
		}
	}
	applyOptions(&spec, s.Options) // options.go
	return spec
}

// serviceMount is m as a task mounts it. A named volume berth owns
// carries its driver, options and labels, as docker stack deploy sets
// them: volumes are node-local, and the node a task lands on creates
// the volume with them when it does not have it.
func serviceMount(m engine.Mount) mount.Mount {
	if m.Type == "bind" {
		return mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	}
	if m.Type == "tmpfs" {
		out := mount.Mount{Type: mount.TypeTmpfs, Target: m.Target, ReadOnly: m.ReadOnly}
		if m.TmpfsSize > 0 || m.TmpfsMode != 0 {
			out.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.TmpfsSize, Mode: fileMode(m.TmpfsMode)}
		}
		return out
	}
	out := mount.Mount{Type: mount.TypeVolume, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	if m.NoCopy {
		out.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
	}
	if v := m.Volume; v != nil && m.Source != "" {
		out.VolumeOptions = &mount.VolumeOptions{Labels: maps.Clone(v.Labels), NoCopy: m.NoCopy}
		if v.Driver != "" || len(v.DriverOpts) > 0 {
			out.VolumeOptions.DriverConfig = &mount.Driver{Name: v.Driver, Options: maps.Clone(v.DriverOpts)}
		}
	}
	return out
}

// taskState maps a task's state onto a container's.
func taskState(st swarm.TaskState) engine.State {
	switch st {
	case swarm.TaskStateRunning:
		return engine.StateRunning
	case swarm.TaskStateComplete, swarm.TaskStateFailed, swarm.TaskStateShutdown, swarm.TaskStateRejected,
		swarm.TaskStateOrphaned, swarm.TaskStateRemove:
		return engine.StateExited
	}
	return engine.StateCreated
}

// terminal reports whether a task has ended (or will never run).
func terminal(st swarm.TaskState) bool { return taskState(st) == engine.StateExited }

// newest returns the most recently created task, or nil.
func newest(tasks []swarm.Task) *swarm.Task {
	var t *swarm.Task
	for i := range tasks {
		if t == nil || tasks[i].Meta.CreatedAt.After(t.Meta.CreatedAt) {
			t = &tasks[i]
		}
	}
	return t
}

// addresses maps network name to the task's address there (no prefix).
func addresses(t *swarm.Task) map[string]string {
	out := map[string]string{}
	for _, na := range t.NetworksAttachments {
		if len(na.Addresses) > 0 && na.Network.Spec.Name != "ingress" {
			addr, _, _ := strings.Cut(na.Addresses[0], "/")
			out[na.Network.Spec.Name] = addr
		}
	}
	return out
}

// containerOf describes a one-replica service as a container, from its
// newest task (tasks holds the service's tasks, any order).
func containerOf(svc swarm.Service, tasks []swarm.Task) engine.Container {
	cs := svc.Spec.TaskTemplate.ContainerSpec
	c := engine.Container{
		ID: svc.ID, Name: svc.Spec.Name, Labels: svc.Spec.Labels, Created: svc.CreatedAt,
		ImageID: svc.Spec.Labels[labelImageID], State: engine.StateCreated, Addresses: map[string]string{},
	}
	if cs != nil {
		c.Image = cs.Image
		if c.ImageID == "" && strings.HasPrefix(cs.Image, "sha256:") {
			c.ImageID = cs.Image
		}
	}
	if r := svc.Spec.TaskTemplate.Resources; r != nil && r.Limits != nil {
		c.MemoryBytes, c.NanoCPUs = r.Limits.MemoryBytes, r.Limits.NanoCPUs
	}
	if svc.Spec.Labels[labelStopped] == "true" {
		c.State = engine.StateExited
	}
	t := newest(tasks)
	if t == nil {
		return c
	}
	c.RestartCount = len(tasks) - 1
	c.State = taskState(t.Status.State)
	c.Addresses = addresses(t)
	c.Error = t.Status.Err
	if cst := t.Status.ContainerStatus; cst != nil {
		c.ExitCode = cst.ExitCode
	}
	switch {
	case c.State == engine.StateRunning:
		c.StartedAt = t.Status.Timestamp
	case c.State == engine.StateExited:
		c.FinishedAt = t.Status.Timestamp
	}
	if cs != nil && cs.Healthcheck != nil && len(cs.Healthcheck.Test) > 0 && cs.Healthcheck.Test[0] != "NONE" {
		// Swarm holds a task in "starting" until its check passes.
		switch t.Status.State {
		case swarm.TaskStateStarting:
			c.Health = "starting"
		case swarm.TaskStateRunning:
			c.Health = "healthy"
		}
	}
	return c
}

// byService groups tasks by service ID.
func byService(tasks []swarm.Task) map[string][]swarm.Task {
	out := map[string][]swarm.Task{}
	for _, t := range tasks {
		out[t.ServiceID] = append(out[t.ServiceID], t)
	}
	for _, ts := range out {
		slices.SortFunc(ts, func(a, b swarm.Task) int { return a.Meta.CreatedAt.Compare(b.Meta.CreatedAt) })
	}
	return out
}
