package spec

import "time"

// DefaultEnv is the environment a deploy goes to when none is named.
const DefaultEnv = "production"

// App is a normalised application definition: what one Compose file (plus
// overrides) describes, validated and with every default filled in. It is
// stored as JSON inside each release, so field names are a stable format.
type App struct {
	Name string `json:"name"`
	// Services, sorted by name.
	Services []Service `json:"services"`
	// Volumes are the Compose top-level volumes, sorted by key.
	Volumes []Volume `json:"volumes,omitempty"`
	// Networks are the Compose top-level networks the file declares,
	// sorted by key (see networks.go); the implicit default is not kept.
	Networks []Network `json:"networks,omitempty"`
	// Files are the Compose files the app was read from, for messages.
	Files []string `json:"files,omitempty"`
	// Environments is the top-level x-berth.environments: per
	// environment, its branch and how it differs (see ForEnv).
	Environments map[string]EnvSpec `json:"environments,omitempty"`
	// ErrorPages are the app's own HTML pages for the errors the proxy
	// answers, by status ("404", "502", "503", "504"): the files' contents, read
	// when the Compose file is, so the server needs no access to them.
	ErrorPages map[string]string `json:"error_pages,omitempty"`
	// Jobs are the app's scheduled jobs (x-berth.jobs, of its services
	// and of the top level), sorted by name.
	Jobs []Job `json:"jobs,omitempty"`
	// Backups is the top-level x-berth.backups: when backups of the
	// app's volumes are made, where, and how many are kept (nil: by hand
	// only, see BackupPolicyOrDefault).
	Backups *BackupPolicy `json:"backups,omitempty"`
	// Warnings name the keys of the files that berth does not apply, for
	// the user to read before the deploy; they are not stored.
	Warnings []string `json:"-"`

	// Routing intent (issue 13 item 4):

	// Notes say what berth decided about routing the services from their
	// Compose keys (ports:, expose:, VIRTUAL_HOST, Traefik labels), for
	// the user to read with the deploy's output; they are not stored.
	Notes []string `json:"-"`
}

// Service is one service of an App.
type Service struct {
	Name        string            `json:"name"`
	Image       string            `json:"image"`
	Entrypoint  []string          `json:"entrypoint,omitempty"`
	Command     []string          `json:"command,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	WorkingDir  string            `json:"working_dir,omitempty"`
	User        string            `json:"user,omitempty"`
	Replicas    int               `json:"replicas"`
	Volumes     []Mount           `json:"volumes,omitempty"`
	// StopSignal is empty for the image's default.
	StopSignal string `json:"stop_signal,omitempty"`
	// ContainerName is container_name: the name other containers reach
	// the service's container by (a network alias on each of its
	// networks, as Docker's DNS answers a container's name). berth names
	// the container itself, since two releases run side by side.
	ContainerName string `json:"container_name,omitempty"`
	// Expose is expose: the container ports the container is marked as
	// exposing ("8080/tcp", sorted), as docker compose sets them; other
	// services reach every port anyway.
	Expose          []string `json:"expose,omitempty"`
	StopGracePeriod Duration `json:"stop_grace_period"`
	MemoryBytes     int64    `json:"memory_bytes,omitempty"`
	NanoCPUs        int64    `json:"nano_cpus,omitempty"`
	// DependsOn maps the services this one starts after to the condition
	// it waits for: "service_started", "service_healthy" or
	// "service_completed_successfully" (Compose's depends_on).
	DependsOn map[string]string `json:"depends_on,omitempty"`
	// Check is the Compose healthcheck: a command the engine runs in the
	// container. nil when the service has none (or it is disabled).
	Check *Check `json:"check,omitempty"`

	// From x-berth:

	// Port is the container port the proxy sends traffic to (0 for a
	// service that is not routed).
	Port int `json:"port,omitempty"`
	// Hosts are the host names routed to this service. A service with
	// hosts is deployed blue-green behind the proxy; one without is a
	// worker, replaced start-new-then-stop-old.
	Hosts       []string    `json:"hosts,omitempty"`
	Healthcheck Healthcheck `json:"healthcheck"`
	// Autoscale is x-berth.autoscale (nil: the count is the file's or
	// berth scale's).
	Autoscale    *Autoscale `json:"autoscale,omitempty"`
	DrainTimeout Duration   `json:"drain_timeout"`
	// ReleaseCommand runs once per deploy in a one-off container of the
	// new image, with the new configuration, before any traffic moves
	// (e.g. a database migration). A non-zero exit refuses the release.
	ReleaseCommand []string `json:"release_command,omitempty"`
	// Build, when set, says how to build the service's image; the CLI
	// builds it (tagging it Image, or <app>-<service>:<commit>) before it
	// deploys.
	Build *Build `json:"build,omitempty"`
	// Test runs in a container of a freshly built image; a non-zero exit
	// stops the deploy before anything starts (x-berth.test).
	Test []string `json:"test,omitempty"`
	// RedirectHTTPS answers plain-HTTP requests for the hosts with 308 to
	// https.
	RedirectHTTPS bool `json:"redirect_https,omitempty"`
	// MaxBodyBytes refuses larger request bodies with 413 (0: no limit).
	// BodyTimeout is the longest wait for the next bytes of a request
	// body (408 after it); WriteTimeout the longest a client may take to
	// accept the next bytes of a response before its connection is
	// closed (0: none). nil takes the server's default (berth server
	// --max-body-size, --body-timeout, --write-timeout); omitted from the
	// JSON then, so a service that sets none of them keeps its form.
	MaxBodyBytes *int64    `json:"max_body_bytes,omitempty"`
	BodyTimeout  *Duration `json:"body_timeout,omitempty"`
	WriteTimeout *Duration `json:"write_timeout,omitempty"`
	// Paths are the path prefixes of the hosts routed to this service
	// (x-berth.paths; empty: every path). The longest matching prefix of
	// a host wins, so services may share a host by path.
	Paths []string `json:"paths,omitempty"`
	// StripPrefix removes the matched prefix from the path the app sees.
	StripPrefix bool `json:"strip_prefix,omitempty"`
	// ResponseTimeout answers 504 when the app has not started its
	// response in time (0: no limit).
	ResponseTimeout Duration `json:"response_timeout,omitempty"`
	// TLS names a certificate for the hosts, in files on the server.
	TLS *TLSFiles `json:"tls,omitempty"`
	// Stateful services (a database, a cache) are not duplicated during a
	// deploy: their container keeps running across deploys and is
	// replaced (stop, then start, volumes kept) only when its own
	// definition changes, and only when the deploy confirms it.
	Stateful bool `json:"stateful,omitempty"`
	// Rollout is the rest of Compose's deploy section (update_config,
	// rollback_config, placement, reservations, restart_policy); nil when
	// the file sets none of it. Only a cluster engine (Swarm) uses it.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Configs are the Compose configs the service mounts, with their
	// content (Swarm configs on a cluster).
	Configs []ConfigFile `json:"configs,omitempty"`

	// Compose secrets: the secrets the service mounts as files (see
	// SecretFile; their content is never stored with the release).
	Secrets []SecretFile `json:"secrets,omitempty"`

	// Per-container Compose keys (cap_add, tmpfs, ulimits, logging,
	// restart, pull_policy, volumes_from, …; see container.go). nil when
	// the file sets none of them, so the stored form is unchanged.
	Container *ContainerOptions `json:"container,omitempty"`

	// Routing intent (issue 13 item 4):

	// Intent is what berth decided about routing the service from its
	// Compose keys when x-berth does not route it fully; nil when there
	// was nothing to decide. Not stored.
	Intent *RouteIntent `json:"-"`

	// Compose networks (see networks.go):

	// Networks are the networks the service joins, highest priority
	// first; nil when it joins only the default network as it is.
	Networks []ServiceNetwork `json:"networks,omitempty"`
	// NetworkMode is Compose's network_mode ("host", "none", "bridge",
	// "service:NAME", "container:NAME"); empty: the service's networks.
	NetworkMode string `json:"network_mode,omitempty"`

	// Published ports (Compose ports:; x-berth.publish), see ports.go.
	// Ports are the host ports the service publishes; Publish is
	// PublishDirect when the container binds them itself, empty when
	// berth's listener forwards them to the live release.
	Ports   []Port `json:"ports,omitempty"`
	Publish string `json:"publish,omitempty"`

	// Backup is x-berth.backup: how the service's data is backed up (a
	// dump hook, or a snapshot with the service paused); nil: a snapshot
	// of its volumes as they are.
	Backup *BackupHook `json:"backup,omitempty"`

	// jobs are the service's x-berth.jobs while the file is read; Load
	// moves them to App.Jobs.
	jobs []Job
}

// TLSFiles are a certificate (PEM, chain included) and its key, as
// absolute paths on the server; berth reloads them when they change.
type TLSFiles struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// Build is a Compose build: section.
type Build struct {
	// Context is the build context directory, absolute.
	Context    string            `json:"context"`
	Dockerfile string            `json:"dockerfile,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	Target     string            `json:"target,omitempty"`

	// BuildKit builds (issue 13 item 6): set by convertBuild.
	DockerfileInline string            `json:"dockerfile_inline,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	Network          string            `json:"network,omitempty"`     // "", "host" or "none"
	ExtraHosts       []string          `json:"extra_hosts,omitempty"` // "name=ip"
	NoCache          bool              `json:"no_cache,omitempty"`
	Pull             bool              `json:"pull,omitempty"`
	Secrets          []BuildSecret     `json:"secrets,omitempty"`
}

// Check is a Compose healthcheck, run by the engine.
type Check struct {
	Test        []string `json:"test"`
	Interval    Duration `json:"interval,omitempty"`
	Timeout     Duration `json:"timeout,omitempty"`
	StartPeriod Duration `json:"start_period,omitempty"`
	Retries     int      `json:"retries,omitempty"`
}

// Wait is how long the engine may take to call a container healthy by
// this check: its start period, then a probe each interval, retries+1
// of them, the last one taking its timeout (Docker's defaults where the
// file sets none: 30s, 30s, 3 retries).
func (c *Check) Wait() time.Duration {
	if c == nil {
		return 0
	}
	interval, timeout, retries := c.Interval.D(), c.Timeout.D(), c.Retries
	if interval <= 0 {
		interval = 30 * time.Second
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if retries <= 0 {
		retries = 3
	}
	return c.StartPeriod.D() + time.Duration(retries+1)*interval + timeout
}

// Routed reports whether the proxy sends traffic to the service.
func (s Service) Routed() bool { return len(s.Hosts) > 0 }

// Mount is a volume or bind mount. The Source of a volume is the key of
// a top-level volume, or empty for an anonymous volume (one per
// container, removed with it).
type Mount struct {
	Type     string `json:"type"` // "volume", "bind" or "tmpfs"
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`

	// Bind mounts (binds.go):

	// Project is, for a bind mount of the project's own files (a source
	// relative to the Compose file), the source's slash-separated path
	// in the project directory ("." for the directory itself); Content
	// is the hash of those files (TreeHash), which the deploy sends.
	// The server points Source at its copy of them. Both are empty for a
	// host path.
	Project string `json:"project,omitempty"`
	Content string `json:"content,omitempty"`
	// CreateHostPath is the long form's bind.create_host_path: true: a
	// missing source is created as an empty directory.
	CreateHostPath bool `json:"create_host_path,omitempty"`

	// Long-form volume options (see container.go's convertMount); each
	// is omitted when unset, so short-form mounts keep their form.
	// NoCopy is volume.nocopy; Subpath volume.subpath; TmpfsSize and
	// TmpfsMode are tmpfs.size and tmpfs.mode (Type "tmpfs");
	// Propagation is bind.propagation; SELinux is a bind's relabelling,
	// "z" (shared) or "Z" (private), from bind.selinux or the short
	// form's :z / :Z.
	NoCopy      bool   `json:"nocopy,omitempty"`
	Subpath     string `json:"subpath,omitempty"`
	TmpfsSize   int64  `json:"tmpfs_size,omitempty"`
	TmpfsMode   uint32 `json:"tmpfs_mode,omitempty"`
	Propagation string `json:"propagation,omitempty"`
	SELinux     string `json:"selinux,omitempty"`
}

// Healthcheck is the HTTP check the proxy runs against each container of
// a routed service.
type Healthcheck struct {
	Path     string   `json:"path"`
	Interval Duration `json:"interval"`
	Timeout  Duration `json:"timeout"`
	// HealthyThreshold is how many consecutive passing checks make a
	// target healthy.
	HealthyThreshold int `json:"healthy_threshold"`
	// UnhealthyThreshold is how many consecutive failing checks take a
	// healthy target out of rotation.
	UnhealthyThreshold int `json:"unhealthy_threshold"`
	// Deadline is how long a new release may take to become healthy
	// before the deploy is refused.
	Deadline Duration `json:"deadline"`
	// ReplaceAfter is how long a container of the live release may stay
	// failing (out of rotation by this check, unhealthy by its Compose
	// healthcheck, restarting) before berth replaces it. 0 in a release
	// stored before the field existed: DefaultReplaceAfter.
	ReplaceAfter Duration `json:"replace_after,omitempty"`
}

// ReplaceAfterD is ReplaceAfter, DefaultReplaceAfter when unset.
func (h Healthcheck) ReplaceAfterD() time.Duration {
	if h.ReplaceAfter <= 0 {
		return DefaultReplaceAfter
	}
	return h.ReplaceAfter.D()
}

// Defaults for x-berth fields the file leaves out.
const (
	DefaultHealthPath         = "/"
	DefaultHealthInterval     = time.Second
	DefaultHealthTimeout      = 2 * time.Second
	DefaultHealthyThreshold   = 1
	DefaultUnhealthyThreshold = 2
	DefaultHealthDeadline     = 60 * time.Second
	DefaultReplaceAfter       = 30 * time.Second
	DefaultDrainTimeout       = 30 * time.Second
	DefaultStopGracePeriod    = 10 * time.Second
)

// Duration is a time.Duration that reads and writes JSON as a Go
// duration string ("1.5s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		v, err := time.ParseDuration(s[1 : len(s)-1])
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return &time.ParseError{Layout: "duration", Value: s}
		}
		n = n*10 + int64(c-'0')
	}
	*d = Duration(n)
	return nil
}
