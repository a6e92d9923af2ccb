package docker

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"github.com/berth-dev/berth/internal/engine"
)

// CreateContainer creates and starts a container and returns it inspected.
func (b *Backend) CreateContainer(ctx context.Context, s engine.ContainerSpec) (engine.Container, error) {
	labels := make(map[string]string, len(s.Labels)+1)
	for k, v := range s.Labels {
		labels[k] = v
	}
	labels[engine.LabelManaged] = "true"
	if b.server != "" {
		labels[engine.LabelServer] = b.server
	}
	cfg := &container.Config{
		Image:       s.Image,
		Env:         s.Env,
		Cmd:         s.Cmd,
		Entrypoint:  s.Entrypoint,
		Labels:      labels,
		WorkingDir:  s.WorkingDir,
		User:        s.User,
		StopSignal:  s.StopSignal,
		Tty:         s.TTY,
		OpenStdin:   s.OpenStdin,
		StdinOnce:   s.OpenStdin,
		AttachStdin: s.OpenStdin, AttachStdout: s.OpenStdin, AttachStderr: s.OpenStdin,
	}
	if s.StopGrace > 0 {
		secs := int((s.StopGrace + time.Second - 1) / time.Second)
		cfg.StopTimeout = &secs
	}
	hc := &container.HostConfig{
		Resources: container.Resources{Memory: s.MemoryBytes, NanoCPUs: s.NanoCPUs},
	}
	// Mounts, restart policy, logging and the per-container Compose
	// settings (hostconfig.go).
	platform, err := b.applyOptions(ctx, s, cfg, hc)
	if err != nil {
		return engine.Container{}, fmt.Errorf("%s: %w", b.name, err)
	}
	cfg.ExposedPorts, hc.PortBindings = portBindings(s.Ports) // ports.go
	for _, p := range s.Expose {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = nat.PortSet{}
		}
		cfg.ExposedPorts[nat.Port(p)] = struct{}{}
	}
	if s.Check != nil {
		cfg.Healthcheck = &container.HealthConfig{
			Test: s.Check.Test, Interval: s.Check.Interval, Timeout: s.Check.Timeout,
			StartPeriod: s.Check.StartPeriod, Retries: s.Check.Retries,
		}
	}
	var nc *network.NetworkingConfig
	switch {
	case s.NetworkMode != "":
		hc.NetworkMode = container.NetworkMode(s.NetworkMode)
	case s.Network != "":
		hc.NetworkMode = container.NetworkMode(s.Network)
		ep, err := b.endpoint(s.Aliases, s.Endpoint)
		if err != nil {
			return engine.Container{}, fmt.Errorf("%s: create container %s: %w", b.name, s.Name, err)
		}
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{s.Network: ep}}
	}
	resp, err := b.cli.ContainerCreate(ctx, cfg, hc, nc, platform, s.Name)
	if err != nil {
		if s.Options != nil {
			if perr := platformMismatch(s.Name, cmpOr(s.Labels["berth.image"], s.Image), s.Options.Platform, err); perr != nil {
				return engine.Container{}, fmt.Errorf("%s: %w", b.name, perr)
			}
		}
		if isNotFound(err) && strings.Contains(strings.ToLower(err.Error()), "image") {
			return engine.Container{}, fmt.Errorf("%s: create container %s: image %s: %w", b.name, s.Name, s.Image, engine.ErrImageNotFound)
		}
		return engine.Container{}, b.wrap("create container "+s.Name, err)
	}
	if err := b.copyFiles(ctx, resp.ID, s); err != nil {
		_ = b.cli.ContainerRemove(context.WithoutCancel(ctx), resp.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		return engine.Container{}, fmt.Errorf("%s: create container %s: %w", b.name, s.Name, err)
	}
	if err := b.connectNetworks(ctx, resp.ID, s); err != nil {
		c, _ := b.InspectContainer(ctx, resp.ID)
		c.ID = resp.ID
		c.Name = s.Name
		return c, err
	}
	if s.NoStart {
		return b.InspectContainer(ctx, resp.ID)
	}
	if err := b.cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		c, _ := b.InspectContainer(ctx, resp.ID)
		c.ID = resp.ID
		c.Name = s.Name
		return c, b.startFailed(s.Name, err)
	}
	return b.InspectContainer(ctx, resp.ID)
}

// InspectContainer returns one container's state.
func (b *Backend) InspectContainer(ctx context.Context, id string) (engine.Container, error) {
	ci, err := b.cli.ContainerInspect(ctx, id)
	if err != nil {
		return engine.Container{}, b.wrap("inspect container "+id, err)
	}
	return fromInspect(ci), nil
}

func fromInspect(ci container.InspectResponse) engine.Container {
	c := engine.Container{
		ID:      ci.ID,
		Name:    strings.TrimPrefix(ci.Name, "/"),
		ImageID: ci.Image,
		Created: parseTime(ci.Created),
	}
	if ci.ContainerJSONBase != nil {
		c.RestartCount = ci.RestartCount
		if ci.HostConfig != nil {
			c.MemoryBytes = ci.HostConfig.Memory
			c.NanoCPUs = ci.HostConfig.NanoCPUs
			c.RestartPolicy = policyString(ci.HostConfig.RestartPolicy)
		}
	}
	if ci.Config != nil {
		c.Image = ci.Config.Image
		c.Labels = ci.Config.Labels
	}
	if st := ci.State; st != nil {
		c.State = engine.State(st.Status)
		c.ExitCode = st.ExitCode
		c.OOMKilled = st.OOMKilled
		c.Error = st.Error
		c.StartedAt = parseTime(st.StartedAt)
		c.FinishedAt = parseTime(st.FinishedAt)
		if st.Health != nil {
			c.Health = string(st.Health.Status)
		}
	}
	if ci.NetworkSettings != nil {
		c.Addresses = map[string]string{}
		for name, ep := range ci.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress != "" {
				c.Addresses[name] = ep.IPAddress
			}
		}
	}
	return c
}

// ListContainers lists containers (all states) whose labels match.
func (b *Backend) ListContainers(ctx context.Context, labels map[string]string) ([]engine.Container, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	sums, err := b.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, b.wrap("list containers", err)
	}
	out := make([]engine.Container, 0, len(sums))
	for _, s := range sums {
		if b.foreign(s.Labels) != "" {
			continue // another berth server's
		}
		c, err := b.InspectContainer(ctx, s.ID)
		if isNotFound(err) {
			continue // removed between list and inspect
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// StopContainer stops a container, killing it after grace.
func (b *Backend) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	secs := int((grace + time.Second - 1) / time.Second)
	err := b.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs})
	if err != nil && !isNotFound(err) {
		return b.wrap("stop container "+id, err)
	}
	return nil
}

// RemoveContainer force-removes a container and its anonymous volumes.
func (b *Backend) RemoveContainer(ctx context.Context, id string) error {
	err := b.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
		return b.wrap("remove container "+id, err)
	}
	return nil
}

// SetRestartPolicy changes a container's restart policy in place.
func (b *Backend) SetRestartPolicy(ctx context.Context, id, policy string) error {
	p, err := restartPolicy(policy)
	if err != nil {
		return fmt.Errorf("%s: update restart policy of %s: %w", b.name, id, err)
	}
	_, err = b.cli.ContainerUpdate(ctx, id, container.UpdateConfig{RestartPolicy: p})
	return b.wrap("update restart policy of "+id, err)
}

// Logs returns a container's demultiplexed stdout and stderr.
func (b *Backend) Logs(ctx context.Context, id string, o engine.LogOptions) (io.ReadCloser, error) {
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: o.Follow, Timestamps: o.Timestamps}
	if o.Tail > 0 {
		opts.Tail = strconv.Itoa(o.Tail)
	}
	if !o.Since.IsZero() {
		opts.Since = o.Since.Format(time.RFC3339Nano)
	}
	ci, err := b.cli.ContainerInspect(ctx, id)
	if err != nil {
		return nil, b.wrap("logs of "+id, err)
	}
	rc, err := b.cli.ContainerLogs(ctx, id, opts)
	if err != nil {
		return nil, b.wrap("logs of "+id, err)
	}
	if ci.Config != nil && ci.Config.Tty {
		return rc, nil
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		rc.Close()
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// StartContainer starts a created container.
func (b *Backend) StartContainer(ctx context.Context, id string) error {
	return b.startFailed(id, b.cli.ContainerStart(ctx, id, container.StartOptions{}))
}

// startFailed wraps the engine's refusal to start container name; a
// resource limit runc could not set is named as the Compose key.
func (b *Backend) startFailed(name string, err error) error {
	if key, ok := rlimitRefused(err); ok {
		return fmt.Errorf("%s: start container %s: ulimits.%s is above the hard limit the engine itself runs with, and the engine may not raise it (%v); lower ulimits.%s in the Compose file, or raise the engine's limit (LimitNOFILE= and the like in dockerd's systemd unit, or ulimit -H before it starts)", b.name, name, key, err, key)
	}
	return b.wrap("start container "+name, err)
}

// rlimitNames are the ulimits names of Linux's resource numbers, as
// runc reports a limit it could not set ("error setting rlimit type 7").
var rlimitNames = []string{"cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime"}

// rlimitRefused reports whether err is runc refusing a container's
// resource limit, and the limit's Compose name.
func rlimitRefused(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	_, rest, ok := strings.Cut(err.Error(), "error setting rlimit type ")
	if !ok || !strings.Contains(rest, "operation not permitted") {
		return "", false
	}
	digits := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789"))]
	n, err2 := strconv.Atoi(digits)
	if err2 != nil || n >= len(rlimitNames) {
		return "", false
	}
	return rlimitNames[n], true
}

// Attach connects to a container's stdin, stdout and stderr.
func (b *Backend) Attach(ctx context.Context, id string) (engine.Attachment, error) {
	hr, err := b.cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, b.wrap("attach to "+id, err)
	}
	return &attachment{hr: hr}, nil
}

type attachment struct{ hr types.HijackedResponse }

func (a *attachment) Read(p []byte) (int, error)  { return a.hr.Reader.Read(p) }
func (a *attachment) Write(p []byte) (int, error) { return a.hr.Conn.Write(p) }
func (a *attachment) Close() error                { a.hr.Close(); return nil }
func (a *attachment) CloseWrite() error           { return a.hr.CloseWrite() }

// ResizeTTY sets a container's terminal size.
func (b *Backend) ResizeTTY(ctx context.Context, id string, rows, cols uint) error {
	return b.wrap("resize terminal of "+id, b.cli.ContainerResize(ctx, id, container.ResizeOptions{Height: rows, Width: cols}))
}
