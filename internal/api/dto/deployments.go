package dto

import (
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

// DeploymentKind is what a deployment does to its app environment.
type DeploymentKind string

// Deployment kinds.
const (
	KindDeploy   DeploymentKind = "deploy"
	KindCanary   DeploymentKind = "canary"
	KindPromote  DeploymentKind = "promote"
	KindRollback DeploymentKind = "rollback"
	KindRemove   DeploymentKind = "remove"
	KindScale    DeploymentKind = "scale"
)

// DeploymentStatus is the outcome of a deployment.
type DeploymentStatus string

// Deployment statuses.
const (
	DeploymentRunning     DeploymentStatus = "running"
	DeploymentSucceeded   DeploymentStatus = "succeeded"
	DeploymentFailed      DeploymentStatus = "failed"
	DeploymentInterrupted DeploymentStatus = "interrupted"
)

// Step is one line of a deployment's or a build's timeline.
type Step struct {
	At time.Time `json:"at"`
	// Elapsed is the time since the deployment started.
	Elapsed spec.Duration `json:"elapsed"`
	Message string        `json:"message"`
}

// Deployment is one deployment, canary, promotion, rollback, removal or
// scale.
type Deployment struct {
	ID   int64          `json:"id"`
	App  string         `json:"app"`
	Env  string         `json:"env"`
	Kind DeploymentKind `json:"kind"`
	// CreatedBy is who asked for it, as Release.CreatedBy.
	CreatedBy string `json:"created_by,omitempty"`
	// ReleaseID is the release being deployed; FromReleaseID the one that
	// was live when it started (0 if none).
	ReleaseID     int64            `json:"release_id"`
	FromReleaseID int64            `json:"from_release_id,omitempty"`
	Status        DeploymentStatus `json:"status"`
	Error         string           `json:"error,omitempty"`
	StartedAt     time.Time        `json:"started_at"`
	EndedAt       time.Time        `json:"ended_at,omitzero"`
	// Served and Failed count the requests the proxy served and failed
	// for the app while the deployment ran; they say something only when
	// Counted (a service of the app was routed when it began).
	Served   uint64 `json:"served"`
	Failed   uint64 `json:"failed"`
	Counted  bool   `json:"counted,omitempty"`
	Timeline []Step `json:"timeline,omitempty"`
	// Connections (UDP flows) of the published ports while it ran: served,
	// taken by no target, cut at the drain timeout; meaningful when
	// ConnectionsCounted.
	Connections        uint64 `json:"connections,omitempty"`
	ConnectionsFailed  uint64 `json:"connections_failed,omitempty"`
	ConnectionsCut     uint64 `json:"connections_cut,omitempty"`
	ConnectionsCounted bool   `json:"connections_counted,omitempty"`
	// The old release's WebSockets and event streams, once its drain
	// ended in the background: open at the switch, finished by
	// themselves, closed at the drain timeout.
	LongOpen     uint64 `json:"long_open,omitempty"`
	LongFinished uint64 `json:"long_finished,omitempty"`
	LongClosed   uint64 `json:"long_closed,omitempty"`
	// Scaled are the services a scale changed, from and to.
	Scaled []ScaleChange `json:"scaled,omitempty"`
}

// ScaleChange is one service's replica count going From → To.
type ScaleChange struct {
	Service string `json:"service"`
	From    int    `json:"from"`
	To      int    `json:"to"`
}

// Progress is one line of a deployment's progress.
type Progress struct {
	Time    time.Time     `json:"time"`
	Elapsed time.Duration `json:"elapsed"`
	Message string        `json:"message"`
	// Deployment is the deployment's id, on the lines said once it is
	// recorded (0 before): the console opens its page.
	Deployment int64 `json:"deployment,omitempty"`
}

// DeployOptions modify a deploy (sent as query parameters) or a
// rollback (in RollbackRequest).
type DeployOptions struct {
	// ReplaceStateful confirms stopping and restarting stateful services
	// whose definition changed (their volumes are kept).
	ReplaceStateful bool `json:"replace_stateful,omitempty"`
	// Canary, when positive, deploys the release as a canary taking that
	// percentage of clients (1-99) until promoted or rolled back.
	Canary int `json:"canary,omitempty"`
}

// RollbackRequest is the body of a rollback.
type RollbackRequest struct {
	// To is the release to go back to; 0 means the previous good one.
	To int64 `json:"to,omitempty"`
	// ReplaceStateful confirms replacing stateful services whose
	// definition differs in the target release.
	ReplaceStateful bool `json:"replace_stateful,omitempty"`
}

// ScaleRequest asks to set the replica counts of services of an
// environment's live release (berth scale APP SERVICE=N…).
type ScaleRequest struct {
	Services []ScaleTarget `json:"services"`
}

// ScaleTarget is one SERVICE=N.
type ScaleTarget struct {
	Service  string `json:"service"`
	Replicas int    `json:"replicas"`
}

// CloneRequest asks to copy an environment into a new one, To.
type CloneRequest struct {
	To string `json:"to"`
	// Hosts gives the cloned environment's host names per routed service.
	// A service not named gets "<to>.<host>" for each of its hosts.
	Hosts map[string][]string `json:"hosts,omitempty"`
}

// RemoveRequest is the body of a removal (DELETE of an app or an app
// environment); an empty body keeps every volume.
type RemoveRequest struct {
	// Volumes are the engine names of the volumes to delete with it, as
	// the user confirmed them.
	Volumes []string `json:"volumes,omitempty"`
}

// StreamEvent is one line of a deploy, rollback, build or run stream:
// progress or output while it runs, then exactly one Result.
type StreamEvent struct {
	Progress *Progress `json:"progress,omitempty"`
	// Output is a line a one-off command or a build printed.
	Output string  `json:"output,omitempty"`
	Result *Result `json:"result,omitempty"`
}

// Result is the outcome of a deploy, rollback, build or run.
type Result struct {
	OK         bool        `json:"ok"`
	Error      string      `json:"error,omitempty"`
	Deployment *Deployment `json:"deployment,omitempty"`
	// ExitCode is a one-off command's exit code.
	ExitCode *int `json:"exit_code,omitempty"`
	// ImageID is a build's image.
	ImageID string `json:"image_id,omitempty"`
	// Backups are the backups a backup made (failed ones included).
	Backups []Backup `json:"backups,omitempty"`
	// Restore is what a restore did.
	Restore *Restore `json:"restore,omitempty"`
}

// ErrorBody is every error response's body.
type ErrorBody struct {
	Error string `json:"error"`
}
