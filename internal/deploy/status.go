package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/store"
)

// EnvStatus is the observed state of one app environment.
type EnvStatus struct {
	App       string            `json:"app"`
	Env       string            `json:"env"`
	Live      *store.Release    `json:"live,omitempty"`
	Deploying bool              `json:"deploying"`
	Services  []ServiceStatus   `json:"services"`
	Last      *store.Deployment `json:"last_deployment,omitempty"`
	// ImageBytes is the disk space of the images the kept releases use.
	ImageBytes int64 `json:"image_bytes"`
	// Maintenance is true while the environment answers 503.
	Maintenance bool `json:"maintenance"`
	// Canary is the release running beside the live one, if any, and
	// Shares who gets which share of clients now.
	Canary *CanaryStatus `json:"canary,omitempty"`
	Shares []Share       `json:"shares,omitempty"`
	// RemovedAt is when the environment was removed (remove.go); its
	// history stays, nothing of it runs.
	RemovedAt time.Time `json:"removed_at,omitzero"`
	// Draining are old releases' pools still draining in the background
	// after a switch (retire.go); their containers stop after.
	Draining []DrainStatus `json:"draining,omitempty"`
	// P99 is the 99th percentile of the time the proxy took to answer
	// its requests over the last minute, in seconds (0: none served).
	P99 float64 `json:"p99_seconds,omitempty"`
}

// DrainStatus is a pool swapped out by a deployment, draining.
type DrainStatus struct {
	Service  string    `json:"service"`
	Release  string    `json:"release"`
	Canary   bool      `json:"canary,omitempty"`
	Since    time.Time `json:"since"`
	Deadline time.Time `json:"deadline"` // what is still in flight then is cut
	InFlight int64     `json:"in_flight"`
}

// ServiceStatus is one service of the live release.
type ServiceStatus struct {
	Name       string            `json:"name"`
	Hosts      []string          `json:"hosts,omitempty"`
	Replicas   int               `json:"replicas"`
	Containers []ContainerStatus `json:"containers"`
	// Published are the host ports of the service's ports: (ports.go).
	Published []PublishedStatus `json:"published,omitempty"`
	// Scale is the berth scale that set Replicas over the file's count
	// (nil when the file's count is in force).
	Scale *store.Scale `json:"scale,omitempty"`
	// Healthy counts the live release's containers that do their work
	// (running, in rotation for a routed service, not unhealthy by their
	// Compose healthcheck); Replacing those the healer is starting now;
	// Healing what the healer says of the service (heal.go).
	Healthy   int    `json:"healthy"`
	Replacing int    `json:"replacing,omitempty"`
	Healing   string `json:"healing,omitempty"`
}

// ContainerStatus is one container as the engine and the proxy see it.
type ContainerStatus struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Release      string    `json:"release"`
	State        string    `json:"state"`
	Health       string    `json:"health,omitempty"` // healthy, unhealthy; empty for workers
	HealthError  string    `json:"health_error,omitempty"`
	Address      string    `json:"address,omitempty"`
	StartedAt    time.Time `json:"started_at"`
	ExitCode     int       `json:"exit_code,omitempty"`
	OOMKilled    bool      `json:"oom_killed,omitempty"`
	RestartCount int       `json:"restart_count,omitempty"`
	// Leaving: a scale-in or a newer release took it out of rotation; it
	// drains and then stops (retire.go).
	Leaving  bool   `json:"leaving,omitempty"`
	InFlight int64  `json:"in_flight,omitempty"`
	Served   uint64 `json:"served,omitempty"`
	// RPS is the proxy's requests per second to the container and
	// ErrorRate the share of them answered 5xx, over the last minute.
	RPS       float64 `json:"rps"`
	ErrorRate float64 `json:"error_rate"`
}

// Status reports app/env: its live release and every container berth
// runs for it, with the proxy's view of their health.
func (d *Deployer) Status(ctx context.Context, app, env string) (EnvStatus, error) {
	if _, err := d.store.GetApp(app); err != nil {
		return EnvStatus{}, fmt.Errorf("app %q: %w", app, err)
	}
	st := EnvStatus{App: app, Env: env, Deploying: d.Busy(app, env), Maintenance: d.proxy.Maintenance(app, env)}
	if live, err := d.store.LiveRelease(app, env); err == nil {
		st.Live = &live
	} else if !errors.Is(err, store.ErrNotFound) {
		return st, err
	}
	if rm, gone, err := d.store.Removed(app, env); err == nil && gone {
		st.RemovedAt = rm.At
	}
	if deps, err := d.store.ListDeployments(app, env, 1); err == nil && len(deps) > 0 {
		st.Last = &deps[0]
	}
	if n, err := d.ImageBytes(ctx, app, env); err == nil {
		st.ImageBytes = n
	}
	cs, err := d.statusContainers(ctx, app, env)
	if err != nil {
		return st, fmt.Errorf("list containers: %w", err)
	}
	bySvc := map[string][]ContainerStatus{}
	healthy := map[string]int{}
	liveLabel := ""
	if st.Live != nil {
		liveLabel = releaseLabel(st.Live.ID)
	}
	for _, c := range cs {
		svc := c.Labels[engine.LabelService]
		s := ContainerStatus{
			ID: shortID(c.ID), Name: c.Name, Release: c.Labels[engine.LabelRelease], State: string(c.State),
			StartedAt: c.StartedAt, ExitCode: c.ExitCode, OOMKilled: c.OOMKilled, RestartCount: c.RestartCount,
			Address: ContainerAddress(c, app, env), Leaving: d.retiringOwns(c.ID),
		}
		for _, pool := range d.poolsOf(app, env, svc) {
			for _, ts := range pool.Status() {
				if ts.Target.ID == c.ID {
					s.Address = ts.Target.Addr
					s.Health = "unhealthy"
					if ts.Healthy {
						s.Health = "healthy"
					}
					s.HealthError = ts.LastError
					s.InFlight = ts.InFlight
					s.Served = ts.Served
					s.RPS, s.ErrorRate = ts.RPS, ts.ErrorRate
				}
			}
		}
		bySvc[svc] = append(bySvc[svc], s)
		if c.Labels[engine.LabelRelease] == liveLabel && c.Running() && !s.Leaving && c.Labels[LabelOneOff] != "true" &&
			s.Health != "unhealthy" && c.Health != "unhealthy" && c.Health != "starting" {
			healthy[svc]++
		}
	}
	d.canaryStatus(&st)
	st.P99 = d.recentP99(st.App, st.Env)
	for _, dr := range d.proxy.Draining() {
		if dr.Key.App == app && dr.Key.Env == env {
			st.Draining = append(st.Draining, DrainStatus{Service: dr.Key.Service, Release: dr.Release, Canary: dr.Canary,
				Since: dr.Started, Deadline: dr.Deadline, InFlight: dr.InFlight})
		}
	}
	// A scale under way: its services are on their way to the new counts.
	scaling := map[string]int{}
	if st.Deploying && st.Last != nil && st.Last.Kind == store.KindScale && st.Last.EndedAt.IsZero() {
		for _, c := range st.Last.Scaled {
			scaling[c.Service] = c.To
		}
	}
	if st.Live != nil {
		scales, _ := d.store.Scales(app, env)
		scaled, stale := ScaledApp(st.Live.Spec, scales)
		for _, svc := range scaled.Services {
			ss := ServiceStatus{Name: svc.Name, Hosts: svc.Hosts, Replicas: svc.Replicas, Containers: bySvc[svc.Name], Healthy: healthy[svc.Name]}
			hn := d.healNoteOf(app, env, svc.Name)
			ss.Replacing, ss.Healing = hn.Replacing, hn.Note
			if d.cluster != nil { // Swarm's own healing (cluster_events.go)
				ss.Replacing = clusterReplacing(cs, svc.Name, liveLabel, svc.Replicas, ss.Healthy)
			}
			if to, ok := scaling[svc.Name]; ok {
				// After Replacing, which counts against the count before
				// the scale: the tasks a scale starts replace nothing.
				ss.Replicas = to
			}
			if sc, ok := scales[svc.Name]; ok && !slices.Contains(stale, svc.Name) {
				ss.Scale = &sc
			}
			st.Services = append(st.Services, ss)
			delete(bySvc, svc.Name)
		}
	}
	var rest []string
	for name := range bySvc {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	for _, name := range rest {
		st.Services = append(st.Services, ServiceStatus{Name: name, Containers: bySvc[name]})
	}
	d.publishedStatus(&st)
	for i := range st.Services {
		sort.Slice(st.Services[i].Containers, func(a, b int) bool {
			return st.Services[i].Containers[a].Name < st.Services[i].Containers[b].Name
		})
	}
	return st, nil
}

// Logs writes the logs of app/env's containers (of one service when
// service is not empty) to w, each line prefixed with the container name.
// With opts.Follow it streams until ctx ends.
func (d *Deployer) Logs(ctx context.Context, app, env, service string, opts engine.LogOptions, w io.Writer) error {
	return d.LogsNamed(ctx, app, env, service, opts, false, w)
}

// LogsNamed is Logs; with named every line is prefixed with its
// container's name, even when there is one container (the console
// shows the container and release of each line).
func (d *Deployer) LogsNamed(ctx context.Context, app, env, service string, opts engine.LogOptions, named bool, w io.Writer) error {
	labels := map[string]string{engine.LabelApp: app, engine.LabelEnv: env}
	if service != "" {
		labels[engine.LabelService] = service
	}
	cs, err := d.eng.ListContainers(ctx, labels)
	if err != nil {
		return err
	}
	if live, err := d.store.LiveRelease(app, env); err == nil {
		// Prefer the live release's containers when there are others.
		var lc []engine.Container
		for _, c := range cs {
			if c.Labels[engine.LabelRelease] == releaseLabel(live.ID) {
				lc = append(lc, c)
			}
		}
		if len(lc) > 0 {
			cs = lc
		}
	}
	if len(cs) == 0 {
		if service != "" {
			return fmt.Errorf("%w: no containers for service %q of %s/%s", store.ErrNotFound, service, app, env)
		}
		return fmt.Errorf("%w: no containers for %s/%s", store.ErrNotFound, app, env)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		rc, err := d.eng.Logs(ctx, c.ID, opts)
		if err != nil {
			errs[i] = err
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rc.Close()
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			prefix := c.Name
			if len(cs) == 1 && !named {
				prefix = ""
			}
			for sc.Scan() {
				mu.Lock()
				if prefix != "" {
					fmt.Fprintf(w, "%s | %s\n", prefix, sc.Text())
				} else {
					fmt.Fprintf(w, "%s\n", sc.Text())
				}
				if f, ok := w.(interface{ Flush() }); ok {
					f.Flush()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
