package dto

import "time"

// AppSummary lists an app and its environments.
type AppSummary struct {
	Name string   `json:"name"`
	Envs []string `json:"envs"`
}

// EnvStatus is the observed state of one app environment.
type EnvStatus struct {
	App       string          `json:"app"`
	Env       string          `json:"env"`
	Live      *Release        `json:"live,omitempty"`
	Deploying bool            `json:"deploying"`
	Services  []ServiceStatus `json:"services"`
	Last      *Deployment     `json:"last_deployment,omitempty"`
	// ImageBytes is the disk space of the images the kept releases use.
	ImageBytes int64 `json:"image_bytes"`
	// Maintenance is true while the environment answers 503.
	Maintenance bool `json:"maintenance"`
	// Canary is the release running beside the live one, if any, and
	// Shares who gets which share of clients now.
	Canary *CanaryStatus `json:"canary,omitempty"`
	Shares []Share       `json:"shares,omitempty"`
	// RemovedAt is when the environment was removed.
	RemovedAt time.Time `json:"removed_at,omitzero"`
	// Draining are old releases' pools still draining in the background
	// after a switch; their containers stop after.
	Draining []DrainStatus `json:"draining,omitempty"`
	// P99 is the 99th percentile of the proxy's answer times over the
	// last minute, in seconds (0: none served).
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
	Published  []PublishedStatus `json:"published,omitempty"`
	// Scale is the berth scale that set Replicas over the Compose
	// file's deploy.replicas (absent when the file's count runs).
	Scale *Scale `json:"scale,omitempty"`
	// Healthy counts the live release's containers that do their work;
	// Replacing those berth is starting in place of failed ones; Healing
	// what self-healing says of the service (waiting, backing off, not
	// healed and why).
	Healthy   int    `json:"healthy"`
	Replacing int    `json:"replacing,omitempty"`
	Healing   string `json:"healing,omitempty"`
}

// Scale is a service's count set by berth scale.
type Scale struct {
	Service  string `json:"service"`
	Replicas int    `json:"replicas"`
	// File is the file's deploy.replicas, which the scale holds over
	// while the file keeps it.
	File int       `json:"file"`
	From int       `json:"from"`
	By   string    `json:"by,omitempty"`
	At   time.Time `json:"at"`
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
	// Leaving: out of rotation (a scale-in or a newer release), draining,
	// then stopped.
	Leaving  bool   `json:"leaving,omitempty"`
	InFlight int64  `json:"in_flight,omitempty"`
	Served   uint64 `json:"served,omitempty"`
	// RPS is the proxy's requests per second to the container and
	// ErrorRate the share of them answered 5xx, over the last minute.
	RPS       float64 `json:"rps"`
	ErrorRate float64 `json:"error_rate"`
}

// PublishedStatus is one published port of a service.
type PublishedStatus struct {
	// Port is the port as the file has it ("127.0.0.1:8080:80/tcp").
	Port string `json:"port"`
	// Addr is the host address berth's listener holds; empty for a port
	// the container publishes itself (Direct) or one not bound.
	Addr   string `json:"addr,omitempty"`
	Direct bool   `json:"direct,omitempty"`
	// Served counts the connections the listener forwarded since berth
	// started; Open is how many are open now.
	Served uint64 `json:"served,omitempty"`
	Open   int    `json:"open,omitempty"`
}

// CanaryStatus is the canary of an app environment.
type CanaryStatus struct {
	Release Release `json:"release"`
	// Weight is the percentage of clients it gets while healthy.
	Weight    int       `json:"weight"`
	StartedAt time.Time `json:"started_at"`
	// Healthy is false while a routed service of the canary has no
	// healthy container; Unhealthy says why.
	Healthy        bool      `json:"healthy"`
	Unhealthy      string    `json:"unhealthy,omitempty"`
	UnhealthySince time.Time `json:"unhealthy_since,omitzero"`
}

// Share is the share of clients a release gets now.
type Share struct {
	Release int64  `json:"release"`
	Role    string `json:"role"` // live or canary
	Percent int    `json:"percent"`
}

// Volume is one named volume of an app environment.
type Volume struct {
	Name       string `json:"name"`        // as in the Compose file
	EngineName string `json:"engine_name"` // the engine's volume name
	// External volumes are the user's: berth never creates or removes
	// them.
	External bool     `json:"external,omitempty"`
	Size     int64    `json:"size"`    // bytes; -1 when unknown
	UsedBy   []string `json:"used_by"` // containers mounting it
}

// Event is something that happened to an app environment's containers
// outside a deployment: a crash, an OOM kill, a restart.
type Event struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"` // e.g. "died", "oom", "restarted"
	Service   string    `json:"service,omitempty"`
	Container string    `json:"container,omitempty"`
	Release   string    `json:"release,omitempty"`
	Message   string    `json:"message"`
}

// Traffic is an app environment's recent traffic through the proxy, in
// steps, with what happened to it marked (the console's charts).
type Traffic struct {
	App string `json:"app"`
	Env string `json:"env"`
	// Release, when set, is the one release the points are of.
	Release string `json:"release,omitempty"`
	Step    int    `json:"step_seconds"`
	// From and To bound the range asked for.
	From   time.Time      `json:"from"`
	To     time.Time      `json:"to"`
	Points []TrafficPoint `json:"points"`
	Marks  []TrafficMark  `json:"marks"`
}

// TrafficPoint is one step, ending at At. The latency quantiles are
// absent for a step without requests.
type TrafficPoint struct {
	At        time.Time `json:"at"`
	Requests  uint64    `json:"requests"`
	RPS       float64   `json:"rps"`
	ErrorRate float64   `json:"error_rate"` // the share of 5xx answers
	P50       *float64  `json:"p50_seconds,omitempty"`
	P95       *float64  `json:"p95_seconds,omitempty"`
	P99       *float64  `json:"p99_seconds,omitempty"`
}

// TrafficMark is a deployment (deploy, rollback, scale, canary,
// promote…) or a scaling decision at a point of the time axis.
type TrafficMark struct {
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`
	Text       string    `json:"text"`
	Deployment int64     `json:"deployment,omitempty"`
}
