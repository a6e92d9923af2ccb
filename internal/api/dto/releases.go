package dto

import (
	"time"

	"github.com/berth-dev/berth/internal/spec"
)

// ReleaseStatus is where a release is in its life.
type ReleaseStatus string

// Release statuses.
const (
	StatusPending    ReleaseStatus = "pending"
	StatusLive       ReleaseStatus = "live"
	StatusSuperseded ReleaseStatus = "superseded"
	StatusFailed     ReleaseStatus = "failed"
	StatusRolledBack ReleaseStatus = "rolled_back"
	StatusCanary     ReleaseStatus = "canary"
)

// ServiceImage is the image a service of a release runs: the reference
// as written and the image ID it resolved to.
type ServiceImage struct {
	Image   string `json:"image"`
	ImageID string `json:"image_id"`
}

// Release is one version of an app environment.
type Release struct {
	// ID is the release number within its app environment, from 1.
	ID  int64  `json:"id"`
	App string `json:"app"`
	Env string `json:"env"`
	// Services maps service name to its image.
	Services  map[string]ServiceImage `json:"services"`
	Spec      spec.App                `json:"spec"`
	CreatedAt time.Time               `json:"created_at"`
	Status    ReleaseStatus           `json:"status"`
	// Reason says why a release failed.
	Reason  string    `json:"reason,omitempty"`
	LiveAt  time.Time `json:"live_at,omitzero"`
	EndedAt time.Time `json:"ended_at,omitzero"`
	// Config is the configuration the release runs with, SecretNames the
	// names of its secrets (never their values).
	Config      map[string]string `json:"config,omitempty"`
	SecretNames []string          `json:"secret_names,omitempty"`
	// Refused: the release failed before anything of it started.
	Refused bool `json:"refused,omitempty"`
	// RemovedAt is when its app environment was removed.
	RemovedAt time.Time `json:"removed_at,omitzero"`
	// CreatedBy is who asked for the release: a token's name,
	// "admin-token", "webhook:github"; empty when unknown.
	CreatedBy string `json:"created_by,omitempty"`
}
