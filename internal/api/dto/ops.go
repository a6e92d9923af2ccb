package dto

import (
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

// PruneReport says what a prune removed.
type PruneReport struct {
	Images     []string `json:"images"`
	Containers []string `json:"containers"`
	FreedBytes int64    `json:"freed_bytes"`
	// Binds are the copies of project files removed.
	Binds []string `json:"binds,omitempty"`
	// FailedReleases is how many failed releases left the history.
	FailedReleases int `json:"failed_releases,omitempty"`
	// BuildCacheBytes is what pruning the build cache freed; FreedBytes
	// does not count it.
	BuildCacheBytes int64 `json:"build_cache_bytes,omitempty"`
	// Backups are the files of backups removed because their app's
	// retention (x-berth.backups.keep) no longer keeps them; the newest
	// backup of each volume is never removed.
	Backups []string `json:"backups,omitempty"`
}

// Registry is a registry berth has credentials for (never the password).
type Registry struct {
	Server   string `json:"server"`
	Username string `json:"username"`
}

// RegistryRequest stores credentials for a registry.
type RegistryRequest struct {
	Server   string `json:"server"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// MaintenanceRequest turns maintenance mode on or off.
type MaintenanceRequest struct {
	On   bool   `json:"on"`
	Page string `json:"page,omitempty"` // HTML; empty: berth's page
}

// Node is one machine of the cluster (berth server --engine swarm).
type Node struct {
	ID            string            `json:"id"`
	Hostname      string            `json:"hostname"`
	Role          string            `json:"role"`
	Leader        bool              `json:"leader,omitempty"`
	Availability  string            `json:"availability"`
	State         string            `json:"state"`
	EngineVersion string            `json:"engine_version"`
	Addr          string            `json:"addr"`
	Labels        map[string]string `json:"labels,omitempty"`
	NanoCPUs      int64             `json:"nano_cpus"`
	MemoryBytes   int64             `json:"memory_bytes"`
	ReservedCPUs  int64             `json:"reserved_nano_cpus"`
	ReservedMem   int64             `json:"reserved_memory_bytes"`
	Tasks         int               `json:"tasks"`
}

// NodeChange is the outcome of draining, pausing or activating a node.
type NodeChange struct {
	Node         string        `json:"node"`
	Availability string        `json:"availability"`
	Took         time.Duration `json:"took"`
	// Moved are the berth tasks that left the node (drain), as
	// "service.slot@from → to".
	Moved []string `json:"moved,omitempty"`
	// Remaining counts berth tasks still on the node when the wait ended.
	Remaining int `json:"remaining"`
}

// NodeRequest sets a node's availability: "drain", "pause" or "active".
// A drain waits up to Wait (default 2m) for the node's tasks to move.
type NodeRequest struct {
	Availability string `json:"availability"`
	Wait         string `json:"wait,omitempty"`
}

// ConfigView is an environment's configuration: variables with their
// values, secrets by name only.
type ConfigView struct {
	Config  map[string]string `json:"config"`
	Secrets []string          `json:"secrets"`
}

// ConfigChange sets and unsets configuration variables.
type ConfigChange struct {
	Set   map[string]string `json:"set,omitempty"`
	Unset []string          `json:"unset,omitempty"`
}

// RunRequest asks for a one-off command.
type RunRequest struct {
	Service string   `json:"service"`
	Command []string `json:"command,omitempty"`
}

// CheckResponse answers a deploy check: the definition would be
// accepted, once the files of the project binds listed in MissingBinds
// (content hashes) are sent.
type CheckResponse struct {
	MissingBinds []string `json:"missing_binds"`
}

// BindsResponse answers an upload of project files: the content hashes
// the server now keeps.
type BindsResponse struct {
	Stored []string `json:"stored"`
}

// CanaryWeightRequest moves a running canary's share of clients.
type CanaryWeightRequest struct {
	Weight int `json:"weight"` // percent, 1-99
}

// CanaryWeight is a move of a canary's share of clients.
type CanaryWeight struct {
	Release int64 `json:"release"` // the canary release
	Live    int64 `json:"live"`    // the live release it splits with
	From    int   `json:"from"`    // the percentage it had
	Weight  int   `json:"weight"`  // the percentage it has now
}

// ComposeCheck is what an uploaded Compose file would deploy: the app as
// berth read it, and what berth said about it.
type ComposeCheck struct {
	App      spec.App `json:"app"`
	Warnings []string `json:"warnings"`
	Notes    []string `json:"notes"`
}
