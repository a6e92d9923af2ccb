package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/internal/spec"
)

// ReleaseStatus is where a release is in its life.
type ReleaseStatus string

// Release statuses.
const (
	// StatusPending: created, being rolled out, not yet serving.
	StatusPending ReleaseStatus = "pending"
	// StatusLive: the release serving its environment (at most one).
	StatusLive ReleaseStatus = "live"
	// StatusSuperseded: was live, replaced by a newer deploy.
	StatusSuperseded ReleaseStatus = "superseded"
	// StatusFailed: never went live; Reason says why. Final.
	StatusFailed ReleaseStatus = "failed"
	// StatusRolledBack: was live, replaced by a rollback to an older one;
	// or was a canary, removed by a rollback.
	StatusRolledBack ReleaseStatus = "rolled_back"
	// StatusCanary: running beside the live release and taking a share of
	// its clients (see Canary) until promoted (live) or rolled back.
	StatusCanary ReleaseStatus = "canary"
)

// ServiceImage is the image a service of a release runs: the reference
// as written and the image ID it resolved to, so a rollback restores
// exactly the same bits.
type ServiceImage struct {
	Image   string `json:"image"`
	ImageID string `json:"image_id"`
}

// Release is one immutable version of an app environment. Only Status,
// Reason, LiveAt and EndedAt change after it is created.
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
	Reason string `json:"reason,omitempty"`
	// LiveAt is when the release last went live; EndedAt when it last
	// stopped being live (zero while live and for a release never live).
	LiveAt  time.Time `json:"live_at,omitzero"`
	EndedAt time.Time `json:"ended_at,omitzero"`
	// Config is the environment's configuration the release runs with,
	// and SecretNames the names of its secrets (their values are kept
	// encrypted apart, see ReleaseSecrets). Both are snapshots taken when
	// the release is created.
	Config      map[string]string `json:"config,omitempty"`
	SecretNames []string          `json:"secret_names,omitempty"`

	// Compose secrets: SecretFiles is the content of the Compose
	// secrets read from a file or the environment, by their key, given
	// to CreateRelease, which seals it apart (see ReleaseSecretFiles). It
	// is never part of the release's JSON, and is empty when read back.
	SecretFiles map[string]string `json:"-"`

	// Refused and removed releases (refused.go, removed.go).
	//
	// Refused: the release failed before anything of it started (images
	// missing, a conflict in the plan); its definition, configuration and
	// secrets snapshot were not kept, only its images and Reason.
	Refused bool `json:"refused,omitempty"`
	// RemovedAt is when its app environment was removed (berth apps
	// remove, berth env remove): kept as history, never a rollback target.
	RemovedAt time.Time `json:"removed_at,omitzero"`
	// CreatedBy is who asked for the release: a token's name,
	// "admin-token", "webhook:github"; empty when unknown (berth itself,
	// or a release made before berth recorded it).
	CreatedBy string `json:"created_by,omitempty"`
}

// CreateRelease records r as a new pending release of r.App/r.Env,
// creating the app and environment if needed. It assigns the next ID of
// that environment, sets CreatedAt to now unless it is set, and snapshots
// the environment's configuration and secrets into it; r.ID, Status,
// Reason, LiveAt, EndedAt, Config and SecretNames are ignored.
func (s *Store) CreateRelease(r Release) (Release, error) {
	if err := checkAppEnv(r.App, r.Env); err != nil {
		return Release{}, fmt.Errorf("create release: %w", err)
	}
	r.Status, r.Reason, r.LiveAt, r.EndedAt = StatusPending, "", time.Time{}, time.Time{}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.now()
	}
	err := s.update(func(tx *bolt.Tx) error {
		eb, err := s.ensureEnv(tx, r.App, r.Env)
		if err != nil {
			return err
		}
		rb := eb.Bucket(bucketReleases)
		seq, err := rb.NextSequence()
		if err != nil {
			return err
		}
		r.ID = int64(seq)
		if err := snapshotConfig(eb, &r); err != nil {
			return err
		}
		if err := s.sealSecretFiles(eb, r); err != nil {
			return err
		}
		if err := reviveEnv(eb); err != nil { // a deploy after a removal starts afresh
			return err
		}
		return putJSON(rb, itob(r.ID), r)
	})
	if err != nil {
		return Release{}, fmt.Errorf("create release of %s/%s: %w", r.App, r.Env, err)
	}
	r.SecretFiles = nil
	return r, nil
}

// GetRelease returns release id of app/env, wrapping ErrNotFound.
func (s *Store) GetRelease(app, env string, id int64) (Release, error) {
	var r Release
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		r, err = getRelease(eb, app, env, id)
		return err
	})
	return r, err
}

// ListReleases returns the releases of app/env, newest first. An unknown
// app or environment wraps ErrNotFound.
func (s *Store) ListReleases(app, env string) ([]Release, error) {
	var out []Release
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		c := eb.Bucket(bucketReleases).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var r Release
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("release %d of %s/%s: decode: %w", btoi(k), app, env, err)
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// LiveRelease returns the live release of app/env, wrapping ErrNotFound
// when there is none.
func (s *Store) LiveRelease(app, env string) (Release, error) {
	var r Release
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		v := eb.Get(keyLive)
		if v == nil {
			return fmt.Errorf("live release of %s/%s: %w", app, env, ErrNotFound)
		}
		r, err = getRelease(eb, app, env, btoi(v))
		return err
	})
	return r, err
}

// FailRelease marks the pending release id as failed because of reason.
// Any other status is an error wrapping ErrTransition.
func (s *Store) FailRelease(app, env string, id int64, reason string) error {
	return s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		r, err := getRelease(eb, app, env, id)
		if err != nil {
			return err
		}
		if r.Status != StatusPending {
			return fmt.Errorf("fail release %d of %s/%s: it is %s, not pending: %w", id, app, env, r.Status, ErrTransition)
		}
		r.Status, r.Reason = StatusFailed, reason
		return putJSON(eb.Bucket(bucketReleases), itob(id), r)
	})
}

// Activate makes release id the live release of app/env in one
// transaction: it goes live (LiveAt = now) and the release that was live,
// if any and if it is another one, becomes previous (StatusSuperseded
// after a deploy, StatusRolledBack after a rollback) with EndedAt = now.
// It returns that release's ID, or 0 when nothing else was live.
// Activating the live release again changes nothing. A failed release
// cannot be activated (ErrTransition). Activating the environment's canary
// promotes it: the canary record goes in the same transaction.
func (s *Store) Activate(app, env string, id int64, previous ReleaseStatus) (prevID int64, err error) {
	if previous != StatusSuperseded && previous != StatusRolledBack {
		return 0, fmt.Errorf("activate release %d of %s/%s: the previous release can become %q or %q, not %q", id, app, env, StatusSuperseded, StatusRolledBack, previous)
	}
	err = s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		rb := eb.Bucket(bucketReleases)
		r, err := getRelease(eb, app, env, id)
		if err != nil {
			return err
		}
		var cur int64
		if v := eb.Get(keyLive); v != nil {
			cur = btoi(v)
		}
		if cur == id && r.Status == StatusLive {
			return nil
		}
		if r.Status == StatusFailed {
			return fmt.Errorf("it failed (%s) and cannot go live; deploy again instead: %w", r.Reason, ErrTransition)
		}
		now := s.now()
		if cur != 0 && cur != id {
			old, err := getRelease(eb, app, env, cur)
			if err != nil {
				return fmt.Errorf("the live release: %w", err)
			}
			old.Status, old.EndedAt = previous, now
			if err := putJSON(rb, itob(cur), old); err != nil {
				return err
			}
			prevID = cur
		}
		wasCanary := r.Status == StatusCanary
		r.Status, r.LiveAt, r.EndedAt = StatusLive, now, time.Time{}
		if wasCanary {
			r.Reason = "" // a health failure it recovered from
			if err := eb.Delete(keyCanary); err != nil {
				return err
			}
		}
		if err := putJSON(rb, itob(id), r); err != nil {
			return err
		}
		return eb.Put(keyLive, itob(id))
	})
	if err != nil {
		return 0, fmt.Errorf("activate release %d of %s/%s: %w", id, app, env, err)
	}
	return prevID, nil
}

func getRelease(eb *bolt.Bucket, app, env string, id int64) (Release, error) {
	v := eb.Bucket(bucketReleases).Get(itob(id))
	if v == nil {
		return Release{}, fmt.Errorf("release %d of %s/%s: %w", id, app, env, ErrNotFound)
	}
	var r Release
	if err := json.Unmarshal(v, &r); err != nil {
		return Release{}, fmt.Errorf("release %d of %s/%s: decode: %w", id, app, env, err)
	}
	return r, nil
}
