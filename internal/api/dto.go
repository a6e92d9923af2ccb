package api

import (
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// DTOs shared with apiclient. They are the store's and the deployer's
// types: their JSON form is the API's.
type (
	// Release is one release of an app environment.
	Release = store.Release
	// Deployment is one deployment or rollback.
	Deployment = store.Deployment
	// EnvStatus is the observed state of an app environment.
	EnvStatus = deploy.EnvStatus
	// Progress is one line of a deployment's progress.
	Progress = deploy.Progress
	// App is a normalised app definition (the body of a deploy).
	App = spec.App
	// DeployOptions modify a deploy or rollback.
	DeployOptions = deploy.DeployOptions
	// Event is something that happened to a live release's containers.
	Event = store.Event
	// PruneReport says what a prune removed.
	PruneReport = deploy.PruneReport
	// Registry is a registry berth has credentials for (never the password).
	Registry = store.Registry
	// Volume is one named volume of an app environment.
	Volume = deploy.VolumeStatus
	// CanaryStatus is the canary of an app environment.
	CanaryStatus = deploy.CanaryStatus
	// Share is the share of clients a release gets.
	Share = deploy.Share
)

// CloneRequest asks to copy an environment into a new one.
type CloneRequest struct {
	To string `json:"to"`
	deploy.CloneOptions
}

// AppSummary lists an app and its environments.
type AppSummary struct {
	Name string   `json:"name"`
	Envs []string `json:"envs"`
}

// RollbackRequest is the body of a rollback.
type RollbackRequest struct {
	// To is the release to go back to; 0 means the previous good one.
	To int64 `json:"to,omitempty"`
	// ReplaceStateful confirms replacing stateful services whose
	// definition differs in the target release.
	ReplaceStateful bool `json:"replace_stateful,omitempty"`
}

// StreamEvent is one line of a deploy or rollback stream: progress while
// it runs, then exactly one Result.
type StreamEvent struct {
	Progress *Progress `json:"progress,omitempty"`
	// Output is a line a one-off command printed.
	Output string  `json:"output,omitempty"`
	Result *Result `json:"result,omitempty"`
}

// Result is the outcome of a deploy or rollback.
type Result struct {
	OK         bool        `json:"ok"`
	Error      string      `json:"error,omitempty"`
	Deployment *Deployment `json:"deployment,omitempty"`
	// ExitCode is a one-off command's exit code.
	ExitCode *int `json:"exit_code,omitempty"`
	// ImageID is a build's image.
	ImageID string `json:"image_id,omitempty"`
}

// ErrorBody is every error response's body.
type ErrorBody struct {
	Error string `json:"error"`
}
