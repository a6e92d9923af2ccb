package engine

import (
	"context"
	"time"
)

// Workloads is what a cluster backend (engine/swarm) offers beyond the
// container-shaped Engine: a workload is one service of one app and
// environment (all its releases), run as N interchangeable instances that
// the cluster places on its nodes, replaces when they fail or their node
// goes, and rolls from one template to the next by its update policy.
// Callers type-assert it (`w, ok := e.(engine.Workloads)`); the
// single-host backend does not implement it and deploy keeps its
// container-by-container strategies there. enginetest.Fake implements it
// in memory and enginetest.RunWorkloads is its contract.
type Workloads interface {
	// ApplyWorkload creates the workload, or changes it to spec: a changed
	// template (image, environment, labels, resources…) rolls out by
	// spec.Update, a changed replica count scales, an unchanged spec is a
	// no-op (the previous spec kept for RollbackWorkload is untouched). It
	// returns the workload's ID at once; follow the rollout with
	// InspectWorkload and ListInstances.
	ApplyWorkload(ctx context.Context, spec WorkloadSpec) (string, error)
	// ScaleWorkload changes the replica count only (no rollout, the
	// previous spec is kept). ErrNotFound, wrapped, when it does not exist.
	ScaleWorkload(ctx context.Context, name string, replicas uint64) error
	// RollbackWorkload rolls the workload back to the spec it had before
	// the last ApplyWorkload that changed it, by its rollback policy.
	// ErrNotFound, wrapped, when the workload or a previous spec is missing.
	RollbackWorkload(ctx context.Context, name string) error
	// InspectWorkload returns the workload's state, by name or ID.
	InspectWorkload(ctx context.Context, name string) (WorkloadStatus, error)
	// ListWorkloads lists the workloads whose labels match every key/value.
	ListWorkloads(ctx context.Context, labels map[string]string) ([]WorkloadStatus, error)
	// ListInstances lists the current instances (desired to run, or still
	// running) of the workloads whose labels match, ordered by workload
	// name and slot. An instance whose Desired is not DesiredRunning is on
	// its way out: take it out of rotation at once.
	ListInstances(ctx context.Context, labels map[string]string) ([]Instance, error)
	// RemoveWorkload stops the workload's instances (each with its stop
	// grace) and removes it. Removing a missing workload is not an error.
	RemoveWorkload(ctx context.Context, name string) error

	Secrets
	Configs
	Nodes
}

// Configs are the cluster's immutable config objects (Compose configs),
// mounted as files into instances (WorkloadSpec.Configs).
type Configs interface {
	// EnsureConfig stores data under a content-addressed name, as
	// EnsureSecret does, and returns that name.
	EnsureConfig(ctx context.Context, name string, data []byte, labels map[string]string) (string, error)
}

// Secrets are the cluster's immutable secret objects, mounted as files
// into instances (WorkloadSpec.Secrets).
type Secrets interface {
	// EnsureSecret stores data under a content-addressed name (name, a
	// dash, and 12 hex digits of its SHA-256), creating it unless it
	// exists, and returns that name: a changed value is a new secret, so
	// a workload rolls to it and its previous spec keeps the old one.
	EnsureSecret(ctx context.Context, name string, data []byte, labels map[string]string) (string, error)
	// ListSecrets lists the secrets whose labels match (never their data).
	ListSecrets(ctx context.Context, labels map[string]string) ([]Secret, error)
	// RemoveSecret removes a secret by its stored name. A missing one is
	// not an error; one a workload still uses is ErrConflict, wrapped.
	RemoveSecret(ctx context.Context, name string) error
}

// Nodes are the cluster's machines.
type Nodes interface {
	// ListNodes lists the nodes, ordered by hostname, with their
	// capacity, what their instances reserve, and how many they run.
	ListNodes(ctx context.Context) ([]Node, error)
	// SetNodeAvailability drains, pauses or activates a node (by ID or
	// hostname). Draining moves its instances to other nodes (each new
	// one started before the old one stops, by the workload's update
	// order); pause keeps them but places nothing new there.
	SetNodeAvailability(ctx context.Context, node string, a Availability) error
}

// WorkloadSpec is the desired state of one workload: Compose's service
// definition with its deploy section.
type WorkloadSpec struct {
	// Name is the workload's name in the cluster, e.g.
	// "shop-production-web"; it is how every other call finds it.
	Name string
	// Labels are set on the workload and on every instance's container
	// (LabelApp, LabelEnv, LabelService, LabelRelease; LabelManaged is
	// added). An instance's Labels are those of the spec it was started
	// from, so they tell old and new instances apart during a rollout.
	Labels map[string]string
	// Template is every instance's container. Its Name, NoStart and
	// RestartPolicy are ignored (see Restart); MemoryBytes and NanoCPUs
	// are limits (see Resources); Network and Aliases are the first
	// network (see Networks).
	Template ContainerSpec
	Replicas uint64
	// Port is the container port the proxy sends traffic to (x-berth.port),
	// published on each instance's node on a port the cluster picks, so
	// an instance is reachable at Instance.Addr; 0 publishes nothing.
	Port int
	// Networks are further networks (overlays, see Engine.EnsureNetwork)
	// the instances join, beside Template.Network.
	Networks []NetworkAttachment
	Update   UpdatePolicy // deploy.update_config
	Rollback UpdatePolicy // deploy.rollback_config
	// Placement is deploy.placement.
	Placement Placement
	// Resources is deploy.resources: limits (zero fields fall back to
	// Template.MemoryBytes/NanoCPUs) and reservations.
	Resources Resources
	// Restart is deploy.restart_policy.
	Restart RestartPolicy
	// Secrets are mounted as files under /run/secrets.
	Secrets []SecretMount
	// Configs are mounted as files at their targets.
	Configs []ConfigMount
	// Published are Compose ports: in mode host, published on the node
	// of each instance (HostIP is not used: the cluster cannot bind one
	// address); nil for none. With them, Instance.Addr is the node's port
	// of the container port Port (LabelProxyPort on Template says which).
	// Omitted from the JSON a cluster backend hashes when nil, so the
	// workloads deployed before it are not updated for nothing.
	Published []PortBinding `json:",omitempty"`
}

// LabelProxyPort, on the containers of a workload with Published ports,
// is its Port: which of its host ports the proxy uses.
const LabelProxyPort = "berth.proxy-port"

// ConfigMount mounts a config (by the name EnsureConfig returned) as the
// file Target, an absolute path in the container.
type ConfigMount struct {
	Config string
	Target string
	UID    string // "0" when empty
	GID    string // "0" when empty
	Mode   uint32 // 0444 when 0
}

// NetworkAttachment is one network a workload's instances join.
type NetworkAttachment struct {
	Name    string
	Aliases []string
	// Compose's per-network settings of a service (one host only; a
	// cluster deploy refuses them): fixed addresses, link-local
	// addresses, the endpoint's driver options, and its MAC address
	// (Engine API 1.44 and later). omitempty: a cluster backend hashes
	// the spec it applied, which must not change for an attachment that
	// sets none of them.
	IPv4Address  string            `json:",omitempty"`
	IPv6Address  string            `json:",omitempty"`
	LinkLocalIPs []string          `json:",omitempty"`
	DriverOpts   map[string]string `json:",omitempty"`
	MacAddress   string            `json:",omitempty"`
}

// UpdatePolicy is Compose's deploy.update_config or rollback_config.
type UpdatePolicy struct {
	// Parallelism is how many instances are replaced at a time (0: all).
	Parallelism uint64
	// Delay is the wait between batches.
	Delay time.Duration
	// Order is "start-first" (the default: a new instance starts before
	// the one it replaces stops) or "stop-first".
	Order string
	// FailureAction is what a failed batch does: "pause" (the default),
	// "continue" or "rollback" (for rollback_config: "pause" or
	// "continue").
	FailureAction string
	// Monitor is how long a new instance must keep running to count as
	// updated (0: the cluster's default, 5s).
	Monitor time.Duration
	// MaxFailureRatio is the share of instances that may fail before the
	// failure action applies.
	MaxFailureRatio float32
}

// Update orders.
const (
	OrderStartFirst = "start-first"
	OrderStopFirst  = "stop-first"
)

// Failure actions.
const (
	FailurePause    = "pause"
	FailureContinue = "continue"
	FailureRollback = "rollback"
)

// Placement is Compose's deploy.placement.
type Placement struct {
	// Constraints are expressions such as "node.role==manager" or
	// "node.labels.zone!=eu-1".
	Constraints []string
	// Spread lists preferences, each spreading instances evenly over the
	// values of a node attribute, e.g. "node.labels.zone".
	Spread []string
	// MaxPerNode caps the instances on one node (0: no cap).
	MaxPerNode uint64
}

// Resources is Compose's deploy.resources.
type Resources struct {
	LimitNanoCPUs      int64
	LimitMemoryBytes   int64
	LimitPids          int64
	ReserveNanoCPUs    int64
	ReserveMemoryBytes int64
}

// RestartPolicy is Compose's deploy.restart_policy.
type RestartPolicy struct {
	// Condition is "any" (the default), "on-failure" or "none".
	Condition   string
	Delay       time.Duration // between restarts (0: 500ms)
	MaxAttempts uint64        // 0: unlimited
	Window      time.Duration // how long a restart must run to count as one
}

// SecretMount mounts a secret (by the name EnsureSecret returned) as the
// file /run/secrets/Target, or at Target when it is an absolute path.
type SecretMount struct {
	Secret string
	Target string // file name or absolute path; empty: the secret's name
	UID    string // "0" when empty
	GID    string // "0" when empty
	Mode   uint32 // 0444 when 0
}

// Secret is a stored secret (never its data).
type Secret struct {
	ID      string
	Name    string
	Labels  map[string]string
	Created time.Time
}

// DesiredState is what the cluster wants an instance to be.
type DesiredState string

// Desired states.
const (
	DesiredRunning  DesiredState = "running"
	DesiredShutdown DesiredState = "shutdown"
	DesiredRemove   DesiredState = "remove"
)

// Instance is one running (or starting, or ending) copy of a workload.
type Instance struct {
	ID           string // the cluster's task ID
	WorkloadID   string
	WorkloadName string
	Slot         int // its replica slot (1…Replicas); a replacement keeps it
	NodeID       string
	Node         string // the node's hostname
	// State is the instance's state as a container's: created (pending,
	// assigned, preparing, starting), running, or exited.
	State State
	// Desired is what the cluster wants: an instance not DesiredRunning is
	// being stopped (replaced, scaled in, drained) and takes no new
	// traffic.
	Desired DesiredState
	// Health is the engine-run check's verdict ("starting", "healthy") or
	// "" when the template has no check.
	Health string
	Image  string // the image reference it runs
	// Addr is "node-address:published-port", where the proxy reaches the
	// instance (WorkloadSpec.Port); "" until the instance runs.
	Addr string
	// Addresses maps overlay network name to the instance's address there.
	Addresses map[string]string
	// Labels are those of the spec it was started from.
	Labels map[string]string
	Error  string // why it failed, when it did
	// Ended is how it ended, once it has: "shutdown" when the cluster
	// stopped it (scaled in, replaced by an update, drained off its
	// node), else "complete", "failed", "rejected" or "orphaned" (it
	// ended by itself, or its node was lost). "" while it runs.
	Ended    string
	ExitCode int
	Since    time.Time // when it reached State
}

// Serving reports whether the instance may take traffic: running, wanted
// running, and reachable.
func (i Instance) Serving() bool {
	return i.State == StateRunning && i.Desired == DesiredRunning && i.Addr != ""
}

// UpdateState is where a workload's last rollout stands.
type UpdateState string

// Update states ("" when the workload was never updated).
const (
	UpdateUpdating          UpdateState = "updating"
	UpdatePaused            UpdateState = "paused"
	UpdateCompleted         UpdateState = "completed"
	UpdateRollbackStarted   UpdateState = "rollback_started"
	UpdateRollbackPaused    UpdateState = "rollback_paused"
	UpdateRollbackCompleted UpdateState = "rollback_completed"
)

// WorkloadStatus is a workload's observed state.
type WorkloadStatus struct {
	ID     string
	Name   string
	Labels map[string]string // of its current spec
	// Replicas is the desired count; Running counts instances running
	// and wanted running.
	Replicas uint64
	Running  int
	// Update is the last rollout's state and Message why (a failed
	// update's reason). UpdateStarted and UpdateCompleted are zero when
	// unknown.
	Update          UpdateState
	Message         string
	UpdateStarted   time.Time
	UpdateCompleted time.Time
	// HasPrevious reports whether RollbackWorkload has a spec to go back to.
	HasPrevious bool
	// PreviousLabels are the labels of that spec (which release it runs)
	// and PreviousReplicas its replica count.
	PreviousLabels   map[string]string
	PreviousReplicas uint64
}

// Availability is whether a node takes instances.
type Availability string

// Node availabilities.
const (
	AvailabilityActive Availability = "active"
	AvailabilityPause  Availability = "pause"
	AvailabilityDrain  Availability = "drain"
)

// Node is one machine of the cluster.
type Node struct {
	ID           string
	Hostname     string
	Role         string // "manager" or "worker"
	Leader       bool
	Availability Availability
	// State is "ready", "down", "disconnected" or "unknown".
	State         string
	EngineVersion string
	// Addr is the address instances' published ports are reached at.
	Addr   string
	Labels map[string]string
	// Capacity and what the instances placed there reserve.
	NanoCPUs            int64
	MemoryBytes         int64
	ReservedNanoCPUs    int64
	ReservedMemoryBytes int64
	// Tasks counts the instances placed there and wanted running.
	Tasks int
}
