package enginetest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

type fakeContainer struct {
	c      engine.Container
	spec   engine.ContainerSpec
	policy string
	logs   []fakeLogLine
	stdin  bytes.Buffer
	served *served // a real HTTP server while it runs (Serve)
}

type fakeLogLine struct {
	t    time.Time
	text string // with its trailing newline
}

func (fc *fakeContainer) clone() engine.Container {
	c := fc.c
	c.RestartPolicy = fc.policy
	c.Labels = maps.Clone(fc.c.Labels)
	c.Addresses = maps.Clone(fc.c.Addresses)
	return c
}

// lookupLocked finds a container by ID, unique ID prefix or name.
func (f *Fake) lookupLocked(idOrName string) *fakeContainer {
	if c := f.containers[idOrName]; c != nil {
		return c
	}
	if id, ok := f.names[idOrName]; ok {
		return f.containers[id]
	}
	var found *fakeContainer
	if len(idOrName) >= 4 {
		for id, c := range f.containers {
			if len(id) >= len(idOrName) && id[:len(idOrName)] == idOrName {
				if found != nil {
					return nil
				}
				found = c
			}
		}
	}
	return found
}

func (f *Fake) mustLocked(what, id string) (*fakeContainer, error) {
	c := f.lookupLocked(id)
	if c == nil {
		return nil, fmt.Errorf("fake: %s %s: no such container: %w", what, id, engine.ErrNotFound)
	}
	return c, nil
}

// SetState moves a container to state, as a real engine would report it:
// leaving running emits a die event with exitCode, entering running a
// start event (and clears the exit code). Use it to make an instance
// crash (StateExited, 1), be OOM-killed (then SetOOMKilled), or come back.
func (f *Fake) SetState(id string, state engine.State, exitCode int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.mustLocked("set state of", id)
	if err != nil {
		return err
	}
	f.setStateLocked(c, state, exitCode)
	return nil
}

func (f *Fake) setStateLocked(c *fakeContainer, state engine.State, exitCode int) {
	was := c.c.State
	c.c.State = state
	now := f.now()
	switch {
	case state == engine.StateRunning && was != engine.StateRunning:
		c.c.ExitCode, c.c.OOMKilled, c.c.StartedAt = 0, false, now
		if c.spec.Check != nil {
			c.c.Health = "starting"
		}
		f.startServingLocked(c)
		f.emitLocked(c, engine.EventStart, 0)
	case state != engine.StateRunning && was == engine.StateRunning:
		c.c.ExitCode, c.c.FinishedAt = exitCode, now
		if c.c.Health != "" {
			c.c.Health = "unhealthy"
		}
		f.stopServingLocked(c)
		f.emitLocked(c, engine.EventDie, exitCode)
	default:
		c.c.ExitCode = exitCode
	}
	f.notifyLocked()
}

// SetOOMKilled marks a container as killed for lack of memory: it emits
// an oom event and leaves the container exited with code 137.
func (f *Fake) SetOOMKilled(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.mustLocked("kill", id)
	if err != nil {
		return err
	}
	f.emitLocked(c, engine.EventOOM, 0)
	f.setStateLocked(c, engine.StateExited, 137)
	c.c.OOMKilled = true
	return nil
}

// SetHealth sets a container's engine-run check verdict ("starting",
// "healthy", "unhealthy") and emits a health event.
func (f *Fake) SetHealth(id, health string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.mustLocked("set health of", id)
	if err != nil {
		return err
	}
	c.c.Health = health
	f.emitLocked(c, engine.EventHealth, 0)
	f.notifyLocked()
	return nil
}

// AppendLog adds a line to a container's output (Logs, Attach).
func (f *Fake) AppendLog(id, line string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.mustLocked("log to", id)
	if err != nil {
		return err
	}
	if len(line) == 0 || line[len(line)-1] != '\n' {
		line += "\n"
	}
	c.logs = append(c.logs, fakeLogLine{t: f.now(), text: line})
	f.notifyLocked()
	return nil
}

// RestartPolicy is the restart policy a container was given.
func (f *Fake) RestartPolicy(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.lookupLocked(id); c != nil {
		return c.policy
	}
	return ""
}

// Stdin is what was written to a container's standard input (Attach).
func (f *Fake) Stdin(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.lookupLocked(id); c != nil {
		return c.stdin.String()
	}
	return ""
}

// Spec is the spec a container was created from.
func (f *Fake) Spec(id string) (engine.ContainerSpec, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.lookupLocked(id); c != nil {
		return c.spec, true
	}
	return engine.ContainerSpec{}, false
}

var restartPolicies = []string{"no", "always", "unless-stopped", "on-failure"}

// validRestartPolicy reports whether p is a policy Docker takes,
// on-failure:N (at most N restarts) included.
func validRestartPolicy(p string) bool {
	if n, ok := strings.CutPrefix(p, "on-failure:"); ok {
		k, err := strconv.Atoi(n)
		return err == nil && k >= 0
	}
	return slices.Contains(restartPolicies, p)
}

// CreateContainer creates (and unless NoStart, starts) a container. It
// fails with ErrConflict on a taken name, ErrImageNotFound for an image
// the host lacks, ErrNotFound for a network that was not ensured.
func (f *Fake) CreateContainer(ctx context.Context, s engine.ContainerSpec) (engine.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("CreateContainer"); err != nil {
		return engine.Container{}, err
	}
	if _, taken := f.names[s.Name]; taken && s.Name != "" {
		return engine.Container{}, fmt.Errorf("fake: create container %s: name in use: %w", s.Name, engine.ErrConflict)
	}
	img := f.resolveImageLocked(s.Image)
	if img == nil {
		return engine.Container{}, fmt.Errorf("fake: create container %s: image %s: %w", s.Name, s.Image, engine.ErrImageNotFound)
	}
	if s.Network != "" && s.NetworkMode == "" {
		if _, ok := f.networks[s.Network]; !ok {
			return engine.Container{}, fmt.Errorf("fake: create container %s: network %s: %w", s.Name, s.Network, engine.ErrNotFound)
		}
	}
	for _, a := range s.Networks {
		if _, ok := f.networks[a.Name]; !ok {
			return engine.Container{}, fmt.Errorf("fake: connect container %s: network %s: %w", s.Name, a.Name, engine.ErrNotFound)
		}
	}
	policy := cmp.Or(s.RestartPolicy, "no")
	if !validRestartPolicy(policy) {
		return engine.Container{}, fmt.Errorf("fake: create container %s: invalid restart policy %q", s.Name, policy)
	}
	id := f.nextIDLocked("container")
	name := cmp.Or(s.Name, "fake_"+id[:12])
	labels := maps.Clone(f.stampLocked(s.Labels))
	if labels == nil {
		labels = map[string]string{}
	}
	labels[engine.LabelManaged] = "true"
	c := &fakeContainer{spec: s, policy: policy, c: engine.Container{
		ID: id, Name: name, Image: s.Image, ImageID: img.ID, Labels: labels, State: engine.StateCreated,
		MemoryBytes: s.MemoryBytes, NanoCPUs: s.NanoCPUs, Created: f.now(), Addresses: map[string]string{},
	}}
	if s.Network != "" && s.NetworkMode == "" {
		c.c.Addresses[s.Network] = cmp.Or(s.Endpoint.IPv4Address, fmt.Sprintf("127.89.%d.%d", (f.seq/250)%250, f.seq%250+2))
		for i, a := range s.Networks {
			c.c.Addresses[a.Name] = cmp.Or(a.IPv4Address, fmt.Sprintf("127.%d.%d.%d", 90+i%9, (f.seq/250)%250, f.seq%250+2))
		}
	}
	if err := f.assignServedLocked(c); err != nil {
		return engine.Container{}, err
	}
	f.containers[id] = c
	f.names[name] = id
	if !s.NoStart {
		f.setStateLocked(c, engine.StateRunning, 0)
	}
	f.notifyLocked()
	return c.clone(), nil
}

// StartContainer starts a created or stopped container.
func (f *Fake) StartContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("StartContainer"); err != nil {
		return err
	}
	c, err := f.mustLocked("start", id)
	if err != nil {
		return err
	}
	f.setStateLocked(c, engine.StateRunning, 0)
	return nil
}

// InspectContainer returns one container.
func (f *Fake) InspectContainer(ctx context.Context, id string) (engine.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("InspectContainer"); err != nil {
		return engine.Container{}, err
	}
	c, err := f.mustLocked("inspect container", id)
	if err != nil {
		return engine.Container{}, err
	}
	return c.clone(), nil
}

// ListContainers lists containers whose labels match, oldest first.
func (f *Fake) ListContainers(ctx context.Context, labels map[string]string) ([]engine.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("ListContainers"); err != nil {
		return nil, err
	}
	var out []engine.Container
	for _, c := range f.containers {
		if matches(c.c.Labels, labels) && f.foreignLocked(c.c.Labels) == "" {
			out = append(out, c.clone())
		}
	}
	slices.SortFunc(out, func(a, b engine.Container) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// StopContainer stops a running container; it exits 0 (the fake's
// processes always honour the stop signal).
func (f *Fake) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("StopContainer"); err != nil {
		return err
	}
	c := f.lookupLocked(id)
	if c == nil || c.c.State != engine.StateRunning {
		return nil
	}
	f.setStateLocked(c, engine.StateExited, 0)
	return nil
}

// RemoveContainer removes a container, killing it (exit 137) when it runs.
func (f *Fake) RemoveContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("RemoveContainer"); err != nil {
		return err
	}
	c := f.lookupLocked(id)
	if c == nil {
		return nil
	}
	if c.c.State == engine.StateRunning {
		f.setStateLocked(c, engine.StateExited, 137)
	}
	f.emitLocked(c, engine.EventDestroy, 0)
	delete(f.containers, c.c.ID)
	delete(f.names, c.c.Name)
	f.notifyLocked()
	return nil
}

// SetRestartPolicy records a container's restart policy.
func (f *Fake) SetRestartPolicy(ctx context.Context, id string, policy string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("SetRestartPolicy"); err != nil {
		return err
	}
	c, err := f.mustLocked("update restart policy of", id)
	if err != nil {
		return err
	}
	if !validRestartPolicy(policy) {
		return fmt.Errorf("fake: update restart policy of %s: invalid policy %q", id, policy)
	}
	c.policy = policy
	return nil
}

// ResizeTTY checks the container exists.
func (f *Fake) ResizeTTY(ctx context.Context, id string, rows, cols uint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.mustLocked("resize terminal of", id)
	return err
}
