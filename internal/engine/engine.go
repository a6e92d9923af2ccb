package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Labels berth sets on everything it creates.
const (
	LabelApp     = "berth.app"
	LabelEnv     = "berth.env"
	LabelService = "berth.service"
	LabelRelease = "berth.release"
	LabelManaged = "berth.managed" // always "true"
	// LabelServer is the id of the berth server that made the object
	// (its data dir's server-id): a server never touches another's.
	// Objects made before servers had ids carry none, and are every
	// server's, as they were.
	LabelServer = "berth.server"
)

// Sentinel errors. Backends wrap them so errors.Is works.
var (
	// ErrForeign: the object (a network, a volume) of that name belongs
	// to another berth server on the same engine.
	ErrForeign = errors.New("belongs to another berth server on this engine")
	// ErrNotFound: the container, image or network does not exist.
	ErrNotFound = errors.New("not found")
	// ErrImageNotFound: the image is neither on the host nor pullable.
	ErrImageNotFound = errors.New("image not found")
	// ErrRegistryDenied: the registry asked for credentials or refused
	// the ones given. Docker Hub answers so for a repository that does not
	// exist too, so a pull error may wrap both this and ErrImageNotFound.
	ErrRegistryDenied = errors.New("registry denied access")
	// ErrConflict: a container with that name already exists.
	ErrConflict = errors.New("conflict")
)

// ForeignOwner returns the id of the other berth server whose object
// carries labels, or "" when it is server's own, carries no id (made
// before servers had ids) or server is "" (a backend without an id sees
// everything).
func ForeignOwner(server string, labels map[string]string) string {
	id := labels[LabelServer]
	if server == "" || id == "" || id == server {
		return ""
	}
	return id
}

// ForeignError says that the kind object name belongs to the berth
// server of id owner, and what to do; it wraps ErrForeign.
func ForeignError(kind, name, owner string) error {
	return fmt.Errorf("%s %s %w (server id %s): an app of this name is deployed by that server; give this one another name (name: in the Compose file), or remove it there first", kind, name, ErrForeign, owner)
}

// Engine is what berth needs from a container engine. It is the one
// interface defined by its provider rather than its consumers: two
// backends (single host, Swarm) and several users (deploy, reconcile,
// api) share it, and engine/enginetest holds the contract suite every
// backend must pass.
type Engine interface {
	// Ping reports whether the engine answers, with its version.
	Ping(ctx context.Context) (Info, error)

	// InspectImage resolves an image reference (name:tag, name@digest or
	// an image ID) present on the host. It returns ErrImageNotFound,
	// wrapped, when the host does not have it.
	InspectImage(ctx context.Context, ref string) (Image, error)
	// PullImage pulls ref from its registry, with auth when not nil,
	// reporting progress lines to progress (which may be nil). It returns
	// ErrImageNotFound, wrapped, when the registry does not have it.
	PullImage(ctx context.Context, ref string, auth *RegistryAuth, progress func(string)) error
	// PushImage pushes ref to its registry, with auth when not nil.
	PushImage(ctx context.Context, ref string, auth *RegistryAuth, progress func(string)) error
	// ListImages lists the images on the host.
	ListImages(ctx context.Context) ([]Image, error)
	// RemoveImage removes an image by ID. It never forces removal of an
	// image a container still uses.
	RemoveImage(ctx context.Context, id string) error

	// BuildImage builds an image from a tar build context (the Docker
	// Engine API's form), tags it with opts.Tags, and reports each line of
	// the build's output to log (which may be nil). It returns the image
	// ID. The engine's layer cache is kept between builds.
	BuildImage(ctx context.Context, buildContext io.Reader, opts BuildOptions, log func(string)) (string, error)
	// PruneBuildCache removes the caches builds keep for their
	// RUN --mount=type=cache mounts (all apps': the engine may not tell
	// them apart) and returns the bytes freed. The layer cache stays.
	PruneBuildCache(ctx context.Context) (int64, error)

	// EnsureNetwork creates the named bridge network when it does not
	// exist and returns its ID. Labels are set only at creation.
	EnsureNetwork(ctx context.Context, name string, labels map[string]string) (string, error)
	// EnsureNetworkSpec creates the network s describes when none of its
	// name exists, and returns the network as the engine has it. An
	// existing network is returned as it is, for the caller to compare.
	// A subnet s gives that overlaps another network (or the backend's
	// pool) is refused naming both.
	EnsureNetworkSpec(ctx context.Context, s NetworkSpec) (Network, error)
	// InspectNetwork returns the named network, or ErrNotFound, wrapped.
	InspectNetwork(ctx context.Context, name string) (Network, error)

	// EnsureVolume creates the volume s describes when none of that name
	// exists, and returns the volume as the engine has it. An existing
	// volume is returned as it is, its driver, options and labels
	// unchanged, for the caller to compare with s.
	EnsureVolume(ctx context.Context, s VolumeSpec) (Volume, error)
	// InspectVolume returns the named volume, or ErrNotFound, wrapped.
	InspectVolume(ctx context.Context, name string) (Volume, error)
	// ListVolumes lists volumes whose labels match every key/value in
	// labels, with their disk usage when the engine reports it.
	ListVolumes(ctx context.Context, labels map[string]string) ([]Volume, error)

	// CreateContainer creates and starts a container from spec and returns
	// it inspected (with its network addresses). On a start failure the
	// created container is left for the caller to read logs from and remove.
	CreateContainer(ctx context.Context, spec ContainerSpec) (Container, error)
	// StartContainer starts a container created with NoStart.
	StartContainer(ctx context.Context, id string) error
	// Attach connects to a container's standard streams: reads give its
	// output (raw bytes for a TTY), writes go to its standard input.
	// Attach before StartContainer to see all the output.
	Attach(ctx context.Context, id string) (Attachment, error)
	// ResizeTTY sets the size of a container's terminal.
	ResizeTTY(ctx context.Context, id string, rows, cols uint) error
	// InspectContainer returns the current state of one container, or
	// ErrNotFound, wrapped.
	InspectContainer(ctx context.Context, id string) (Container, error)
	// ListContainers lists containers, running or not, whose labels match
	// every key/value in labels.
	ListContainers(ctx context.Context, labels map[string]string) ([]Container, error)
	// StopContainer sends the container's stop signal and kills it after
	// grace. Stopping a stopped or missing container is not an error.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer removes a container (forcing a running one) and its
	// anonymous volumes. Removing a missing container is not an error.
	RemoveContainer(ctx context.Context, id string) error
	// SetRestartPolicy changes the restart policy of a container in place
	// ("no", "unless-stopped", "on-failure", "on-failure:N" with N the most
	// restarts, "always").
	SetRestartPolicy(ctx context.Context, id string, policy string) error
	// Logs returns the container's combined stdout/stderr as plain text
	// (demultiplexed). With Follow, the reader stays open until ctx ends or
	// the container stops.
	Logs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error)

	// Watch streams container events of berth-managed containers until ctx
	// ends. The channel is closed when ctx ends; on a broken connection the
	// backend reconnects with backoff and sends an Event with Type
	// EventResync so watchers rebuild their whole picture.
	Watch(ctx context.Context) <-chan Event
}

// Info describes the engine.
type Info struct {
	Name       string // e.g. "docker"
	Version    string // engine version, e.g. "20.10.24"
	APIVersion string // negotiated API version, e.g. "1.41"
	// SwarmManager is true when the engine is a manager of an active
	// Docker Swarm (berth server --engine swarm can run on it).
	SwarmManager bool
}

// Image is an image on the host.
type Image struct {
	ID       string   // content-addressed ID, "sha256:…"
	RepoTags []string // names it is tagged with
	Created  time.Time
	Size     int64
	Labels   map[string]string
	// ExposedPorts lists the image's EXPOSEd TCP ports.
	ExposedPorts []int
}

// RegistryAuth are credentials for one registry (a robot or deploy
// token, not a person's password).
type RegistryAuth struct {
	Server   string // host[:port]
	Username string
	Password string
}

// BuildOptions describe an image build.
type BuildOptions struct {
	Tags       []string
	Dockerfile string // path inside the context; empty: "Dockerfile"
	BuildArgs  map[string]string
	Target     string
	Labels     map[string]string
	NoCache    bool

	// BuildKit builds (issue 13 item 6): the rest of a Compose build:
	// section, which only a BuildKit builder applies.

	// DockerfileInline is the Dockerfile's content (Compose's
	// build.dockerfile_inline); it replaces Dockerfile when set.
	DockerfileInline string
	// Secrets are the build secrets by id, read by
	// RUN --mount=type=secret,id=ID; never stored in the image.
	Secrets map[string][]byte
	// Network is the network RUN steps use: "" (the default), "host" or
	// "none".
	Network string
	// ExtraHosts are "name=ip" entries added to /etc/hosts of RUN steps.
	ExtraHosts []string
	// Pull always pulls base images, even when the host has them.
	Pull bool
	// CacheScope namespaces the ids of RUN --mount=type=cache mounts (the
	// app), so apps never share a cache.
	CacheScope string
	// Credentials, when not nil, give the build access to private
	// registries for its base images.
	Credentials CredentialLookup
}

// VolumeSpec describes a named volume to create.
type VolumeSpec struct {
	Name string
	// Driver is the volume driver; empty means "local".
	Driver string
	// DriverOpts are the driver's options (the local driver's type,
	// device and o, as mount(8) takes them).
	DriverOpts map[string]string
	Labels     map[string]string
}

// Volume is a named volume on the host.
type Volume struct {
	Name   string
	Driver string
	// Options are the driver options the volume was created with.
	Options map[string]string
	Labels  map[string]string
	Created time.Time
	// Size is the disk space it uses in bytes, -1 when unknown.
	Size int64
	// RefCount is how many containers use it, -1 when unknown.
	RefCount int64
	// Mountpoint is where the engine keeps its files on the host, when
	// it says (a backup directory must not be inside a volume it backs
	// up).
	Mountpoint string
}

// Mount is a volume or bind mount.
type Mount struct {
	Type     string // "volume", "bind" or "tmpfs"
	Source   string // volume name (empty: an anonymous volume) or host path
	Target   string // path in the container
	ReadOnly bool
	// Volume, for a named volume berth creates, says how: an engine that
	// creates volumes where containers land (Swarm: the node a task runs
	// on creates the volume its mount names) creates it with this
	// driver, options and labels. Nil for a bind mount and for an
	// external or anonymous volume. A single-host engine ignores it:
	// berth creates the volume (EnsureVolume) before the container.
	Volume *VolumeSpec

	// Long-form Compose volume options. NoCopy: do not copy the image's
	// files into an empty volume; Subpath: mount a directory of the
	// volume; TmpfsSize/TmpfsMode: a tmpfs mount's size in bytes (0: half
	// the memory) and mode (0: 1777); Propagation: a bind mount's
	// propagation (rprivate when empty); SELinux: a bind mount's
	// relabelling, "z" (shared) or "Z" (private), none when empty.
	// (omitempty: a cluster backend hashes the spec it applied, which
	// must not change for a mount that sets none of them.)
	NoCopy      bool   `json:",omitempty"`
	Subpath     string `json:",omitempty"`
	TmpfsSize   int64  `json:",omitempty"`
	TmpfsMode   uint32 `json:",omitempty"`
	Propagation string `json:",omitempty"`
	SELinux     string `json:",omitempty"`
}

// ContainerSpec is everything needed to create a container.
type ContainerSpec struct {
	Name       string
	Image      string // image ID (preferred) or reference
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=VALUE
	Labels     map[string]string
	WorkingDir string
	User       string
	// Network is the network the container joins; Aliases are its DNS
	// names there.
	Network    string
	Aliases    []string
	Mounts     []Mount
	StopSignal string // empty: the image's default (SIGTERM)
	// StopGrace is how long a stop waits before SIGKILL.
	StopGrace     time.Duration
	RestartPolicy string // "no" when empty
	MemoryBytes   int64
	NanoCPUs      int64
	// Check is a health check command the engine runs in the container
	// (nil: none).
	Check *Check
	// TTY gives the container a terminal; OpenStdin keeps its standard
	// input open for Attach; NoStart makes CreateContainer leave it
	// created but not started (see StartContainer).
	TTY       bool
	OpenStdin bool
	NoStart   bool

	// Compose secrets and configs: Files are written into the container
	// after it is created and before it starts (see File).
	Files []File

	// Options are the per-container Compose settings (cap_add, tmpfs,
	// ulimits, logging, …; see ContainerOptions). nil: none (omitted
	// from the JSON a cluster backend hashes).
	Options *ContainerOptions `json:",omitempty"`

	// Compose networks (see networks.go). NetworkMode, when set,
	// replaces Network: "host", "none", "bridge" or "container:NAME".
	// Endpoint holds the first network's further settings (its Name and
	// Aliases are Network and Aliases). Networks are further networks
	// the container joins after it is created and before it starts.
	// (omitempty/omitzero: a cluster backend hashes the spec it applied,
	// which must not change for a container that sets none of them.)
	NetworkMode string              `json:",omitempty"`
	Endpoint    NetworkAttachment   `json:",omitzero"`
	Networks    []NetworkAttachment `json:",omitempty"`

	// Ports are host ports the container publishes itself (Compose
	// ports: with x-berth.publish: direct); nil for none (omitted from
	// the JSON a cluster backend hashes).
	Ports []PortBinding `json:",omitempty"`
	// Expose are container ports marked as exposed ("8080/tcp"), as
	// Compose's expose: sets them; nothing is published.
	Expose []string `json:",omitempty"`
}

// PortBinding publishes a container port on the host.
type PortBinding struct {
	HostIP string // empty: every address
	// HostPort is a port, a range "8000-8010" (the engine picks a free
	// one of it) or empty (the engine picks any free port).
	HostPort string
	Target   int
	Protocol string // "tcp" or "udp"
}

// Attachment is a connection to a container's standard streams.
type Attachment interface {
	io.ReadWriteCloser
	// CloseWrite ends the container's standard input.
	CloseWrite() error
}

// Check is an engine-run health check.
type Check struct {
	Test        []string // ["CMD", args...] or ["CMD-SHELL", command]
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// State is a container's lifecycle state.
type State string

// States, as Docker names them.
const (
	StateCreated    State = "created"
	StateRunning    State = "running"
	StateRestarting State = "restarting"
	StateExited     State = "exited"
	StatePaused     State = "paused"
	StateDead       State = "dead"
	StateRemoving   State = "removing"
)

// Container is an observed container.
type Container struct {
	ID      string
	Name    string // without the leading "/"
	Image   string // the reference it was created with
	ImageID string
	Labels  map[string]string
	State   State
	// ExitCode and OOMKilled are meaningful when State is exited or dead.
	ExitCode     int
	OOMKilled    bool
	Error        string // the engine's error for the last start, if any
	RestartCount int
	// RestartPolicy is the policy the engine holds for the container, in
	// SetRestartPolicy's form ("no", "unless-stopped", "on-failure:3"…);
	// empty when the backend does not report it (Swarm tasks).
	RestartPolicy string
	// Health is the engine-run check's verdict: "starting", "healthy",
	// "unhealthy", or "" when the container has no check.
	Health string
	// MemoryBytes and NanoCPUs are the limits the engine enforces (0: none).
	MemoryBytes int64
	NanoCPUs    int64
	Created     time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
	// Addresses maps network name to the container's IPv4 address there.
	Addresses map[string]string
}

// Running reports whether the container is up.
func (c Container) Running() bool { return c.State == StateRunning }

// LogOptions selects log output.
type LogOptions struct {
	Follow bool
	Tail   int // lines from the end; 0 means all
	Since  time.Time
	// Timestamps prefixes each line with its RFC 3339 time.
	Timestamps bool
}

// EventType names a container event.
type EventType string

// Event types. Backends map their native events onto these.
const (
	EventStart   EventType = "start"
	EventDie     EventType = "die"
	EventOOM     EventType = "oom"
	EventDestroy EventType = "destroy"
	EventHealth  EventType = "health"
	// EventResync asks watchers to list everything again (sent after a
	// reconnect, when events may have been missed).
	EventResync EventType = "resync"
)

// Event is a change to a berth-managed container.
type Event struct {
	Type        EventType
	ContainerID string
	Labels      map[string]string
	ExitCode    int
	Time        time.Time
}

// CPUStats is a container's CPU use so far, as the engine counts it:
// TotalNs of CPU time its processes used since it started, read at Read.
type CPUStats struct {
	TotalNs uint64
	Read    time.Time
}

// StatsReader is the optional part of an engine that reads a container's
// resource statistics (the one-host backend; autoscaling on CPU needs
// it).
type StatsReader interface {
	// CPUStats reads container id's CPU use now, without waiting for a
	// second sample.
	CPUStats(ctx context.Context, id string) (CPUStats, error)
}
