package dto

import (
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

// BuildStatus is where a pipeline run is.
type BuildStatus string

// Build statuses.
const (
	BuildQueued     BuildStatus = "queued"
	BuildRunning    BuildStatus = "running"
	BuildSucceeded  BuildStatus = "succeeded"
	BuildFailed     BuildStatus = "failed"
	BuildSuperseded BuildStatus = "superseded"
	BuildCancelled  BuildStatus = "cancelled"
)

// Build is one run of the git-push pipeline.
type Build struct {
	ID           int64       `json:"id"`
	App          string      `json:"app"`
	Env          string      `json:"env"`
	Branch       string      `json:"branch"`
	Commit       string      `json:"commit"`
	Author       string      `json:"author,omitempty"`
	Message      string      `json:"message,omitempty"`
	Status       BuildStatus `json:"status"`
	Error        string      `json:"error,omitempty"`
	Log          []string    `json:"log,omitempty"`
	Steps        []Step      `json:"steps,omitempty"`
	DeploymentID int64       `json:"deployment_id,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`
	StartedAt    time.Time   `json:"started_at,omitzero"`
	EndedAt      time.Time   `json:"ended_at,omitzero"`
	// Actor is who started the build ("webhook:github"; empty: unknown).
	Actor string `json:"actor,omitempty"`
}

// Done reports whether the build has ended.
func (b Build) Done() bool {
	return b.Status != BuildQueued && b.Status != BuildRunning
}

// BuildRequest is one image build (the request's body is the tar build
// context): a service's build: section, the tag to give the image and
// the optional test to run in it.
type BuildRequest struct {
	App        string            `json:"app"`
	Service    string            `json:"service"`
	Tag        string            `json:"tag"`
	Dockerfile string            `json:"dockerfile,omitempty"`
	Target     string            `json:"target,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	// Test runs in a container of the built image; a non-zero exit
	// fails the build (x-berth.test).
	Test []string `json:"test,omitempty"`
	// Revision is the git commit (or content hash) the image is built from.
	Revision string `json:"revision,omitempty"`
	// Container is the service's per-container Compose settings, which
	// the test container gets too.
	Container *spec.ContainerOptions `json:"container,omitempty"`

	DockerfileInline string            `json:"dockerfile_inline,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	Network          string            `json:"network,omitempty"`
	ExtraHosts       []string          `json:"extra_hosts,omitempty"`
	NoCache          bool              `json:"no_cache,omitempty"`
	Pull             bool              `json:"pull,omitempty"`
	// Secrets are the build secrets by id. They never travel in the
	// request's JSON (which ends up in URLs and logs) but in
	// BuildSecretsHeader.
	Secrets map[string][]byte `json:"-"`
}

// ConnectRequest links an app to a git repository.
type ConnectRequest struct {
	Repo string `json:"repo"`
	// File is the Compose file's path in the repository (default
	// compose.yaml).
	File string `json:"file,omitempty"`
	// Branches maps branches to environments (default main → production).
	Branches map[string]string `json:"branches,omitempty"`
	// SSHKey is a private key for an ssh repository (stored encrypted).
	SSHKey string `json:"ssh_key,omitempty"`
	// Token authenticates https fetches: "token" or "user:token"
	// (stored encrypted; keep it out of the URL).
	Token string `json:"token,omitempty"`
}

// ConnectResponse says where to send webhooks and with which secret.
type ConnectResponse struct {
	WebhookPath string `json:"webhook_path"`
	Secret      string `json:"secret"`
}

// HookResponse answers a webhook delivery.
type HookResponse struct {
	Status  string `json:"status"` // queued, ignored, duplicate, pong
	Reason  string `json:"reason,omitempty"`
	BuildID int64  `json:"build_id,omitempty"`
}

// NotifyTarget is where an app's notifications go: a Slack-compatible
// incoming webhook ("slack") or a generic JSON webhook ("webhook").
type NotifyTarget struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
}

// Connection is an app's link to its git repository, as the console and
// berth builds deploy read it (never its secret or credentials).
type Connection struct {
	// Connected is false for an app that is not connected (berth apps
	// connect); the rest is then empty.
	Connected bool   `json:"connected"`
	Repo      string `json:"repo,omitempty"` // a password in it is redacted
	File      string `json:"file,omitempty"`
	// Branches maps a branch to the environment its pushes deploy to.
	Branches map[string]string `json:"branches,omitempty"`
}

// BranchDeployRequest builds and deploys the head of a branch of the
// connected repository to an environment.
type BranchDeployRequest struct {
	// Branch is the branch; empty: the one mapped to the environment.
	Branch string `json:"branch,omitempty"`
}
