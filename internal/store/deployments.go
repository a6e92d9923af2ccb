package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/internal/spec"
)

// DeploymentStatus is the outcome of a deployment.
type DeploymentStatus string

// Deployment statuses.
const (
	DeploymentRunning   DeploymentStatus = "running"
	DeploymentSucceeded DeploymentStatus = "succeeded"
	DeploymentFailed    DeploymentStatus = "failed"
	// DeploymentInterrupted: berth stopped while it ran (InterruptRunning).
	DeploymentInterrupted DeploymentStatus = "interrupted"
)

// DeploymentKind is what a deployment does to its app environment.
type DeploymentKind string

// Deployment kinds.
const (
	// KindDeploy takes an app environment to a new release.
	KindDeploy DeploymentKind = "deploy"
	// KindCanary deploys a new release beside the live one, taking a
	// share of its clients until promoted or rolled back.
	KindCanary DeploymentKind = "canary"
	// KindPromote makes the canary the live release.
	KindPromote DeploymentKind = "promote"
	// KindRollback goes back to an older release (or drops a canary).
	KindRollback DeploymentKind = "rollback"
	// KindRemove removes an app environment's containers, routes and
	// networks; its history stays.
	KindRemove DeploymentKind = "remove"
	// KindScale changes the replica count of services of the live
	// release (Scaled says which, from and to); it is not a new release.
	KindScale DeploymentKind = "scale"
)

// DeploymentKinds lists every deployment kind.
var DeploymentKinds = []DeploymentKind{KindDeploy, KindCanary, KindPromote, KindRollback, KindRemove, KindScale}

// Step is one line of a deployment's timeline.
type Step struct {
	At time.Time `json:"at"`
	// Elapsed is the time since the deployment started.
	Elapsed spec.Duration `json:"elapsed"`
	Message string        `json:"message"`
}

// Deployment is one attempt to take an app environment to a release: a
// deploy of a new release or a rollback to an older one.
type Deployment struct {
	// ID comes from one global sequence.
	ID  int64  `json:"id"`
	App string `json:"app"`
	Env string `json:"env"`
	// Kind is one of DeploymentKinds.
	Kind DeploymentKind `json:"kind"`
	// CreatedBy is who asked for it, as Release.CreatedBy (empty:
	// unknown).
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
	// for the app while the deployment ran.
	Served uint64 `json:"served"`
	Failed uint64 `json:"failed"`
	// Counted: a service of the app was routed by the proxy when the
	// deployment began, so Served and Failed tell how live traffic fared.
	// Without one (a first deploy, an app without hosts) they are 0 and
	// say nothing.
	Counted  bool   `json:"counted,omitempty"`
	Timeline []Step `json:"timeline,omitempty"`
	// Published ports (berth's TCP/UDP listeners): the connections (UDP
	// flows) they served for the app while the deployment ran, those no
	// target took, and those cut at the drain timeout. Counted as Counted,
	// for the listeners that served when the deployment began.
	Connections        uint64 `json:"connections,omitempty"`
	ConnectionsFailed  uint64 `json:"connections_failed,omitempty"`
	ConnectionsCut     uint64 `json:"connections_cut,omitempty"`
	ConnectionsCounted bool   `json:"connections_counted,omitempty"`
	// The old release's WebSockets and event streams, once its drain
	// ended: open at the switch (or opened after it by requests then in
	// flight), finished by themselves, closed by berth at the drain
	// timeout (close frames 1001; streams between two events).
	LongOpen     uint64 `json:"long_open,omitempty"`
	LongFinished uint64 `json:"long_finished,omitempty"`
	LongClosed   uint64 `json:"long_closed,omitempty"`
	// Scaled are the services a KindScale deployment scaled.
	Scaled []ScaleChange `json:"scaled,omitempty"`
}

// ScaleChange is one service's replica count going From → To.
type ScaleChange struct {
	Service string `json:"service"`
	From    int    `json:"from"`
	To      int    `json:"to"`
}

// CreateDeployment records d as a new running deployment. It assigns
// the next global ID and sets StartedAt to now unless it is set.
func (s *Store) CreateDeployment(d Deployment) (Deployment, error) {
	if err := checkAppEnv(d.App, d.Env); err != nil {
		return Deployment{}, fmt.Errorf("create deployment: %w", err)
	}
	d.Status = DeploymentRunning
	if d.StartedAt.IsZero() {
		d.StartedAt = s.now()
	}
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeployments)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		d.ID = int64(seq)
		return putDeployment(tx, d)
	})
	if err != nil {
		return Deployment{}, fmt.Errorf("create deployment of %s/%s: %w", d.App, d.Env, err)
	}
	return d, nil
}

// UpdateDeployment replaces deployment d.ID with d. Its app and
// environment cannot change.
func (s *Store) UpdateDeployment(d Deployment) error {
	return s.update(func(tx *bolt.Tx) error {
		old, err := getDeployment(tx, d.ID)
		if err != nil {
			return err
		}
		if old.App != d.App || old.Env != d.Env {
			return fmt.Errorf("update deployment %d: it belongs to %s/%s, not %s/%s", d.ID, old.App, old.Env, d.App, d.Env)
		}
		return putDeployment(tx, d)
	})
}

// GetDeployment returns deployment id, wrapping ErrNotFound.
func (s *Store) GetDeployment(id int64) (Deployment, error) {
	var d Deployment
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		d, err = getDeployment(tx, id)
		return err
	})
	return d, err
}

// ListDeployments returns the deployments of app/env, newest first, at
// most limit of them (all when limit <= 0). env "" means every
// environment of app; app "" means every app.
func (s *Store) ListDeployments(app, env string, limit int) ([]Deployment, error) {
	var out []Deployment
	full := func() bool { return limit > 0 && len(out) >= limit }
	err := s.db.View(func(tx *bolt.Tx) error {
		if app == "" {
			c := tx.Bucket(bucketDeployments).Cursor()
			for k, v := c.Last(); k != nil && !full(); k, v = c.Prev() {
				var d Deployment
				if err := json.Unmarshal(v, &d); err != nil {
					return fmt.Errorf("deployment %d: decode: %w", btoi(k), err)
				}
				if env == "" || d.Env == env {
					out = append(out, d)
				}
			}
			return nil
		}
		prefix := appPrefix(app)
		c := tx.Bucket(bucketDeplByApp).Cursor()
		// Seek to the first key after the prefix, then walk back.
		k, v := c.Seek([]byte(app + "\x01"))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && !full(); k, v = c.Prev() {
			if env != "" && string(v) != env {
				continue
			}
			d, err := getDeployment(tx, btoi(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// InterruptRunning marks every running deployment interrupted, with
// Error = reason and EndedAt = now, and returns them oldest first. The
// daemon calls it at startup: a deployment still running then was cut
// short by a stop or crash.
func (s *Store) InterruptRunning(reason string) ([]Deployment, error) {
	var out []Deployment
	err := s.update(func(tx *bolt.Tx) error {
		var ids []int64
		err := tx.Bucket(bucketRunning).ForEach(func(k, _ []byte) error {
			ids = append(ids, btoi(k))
			return nil
		})
		if err != nil {
			return err
		}
		now := s.now()
		for _, id := range ids {
			d, err := getDeployment(tx, id)
			if err != nil {
				return err
			}
			d.Status, d.Error, d.EndedAt = DeploymentInterrupted, reason, now
			if err := putDeployment(tx, d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("interrupt running deployments: %w", err)
	}
	return out, nil
}

// putDeployment writes d and keeps both indexes in step.
func putDeployment(tx *bolt.Tx, d Deployment) error {
	key := itob(d.ID)
	if err := putJSON(tx.Bucket(bucketDeployments), key, d); err != nil {
		return err
	}
	if err := tx.Bucket(bucketDeplByApp).Put(append(appPrefix(d.App), key...), []byte(d.Env)); err != nil {
		return err
	}
	running := tx.Bucket(bucketRunning)
	if d.Status == DeploymentRunning {
		return running.Put(key, []byte{})
	}
	return running.Delete(key)
}

func getDeployment(tx *bolt.Tx, id int64) (Deployment, error) {
	v := tx.Bucket(bucketDeployments).Get(itob(id))
	if v == nil {
		return Deployment{}, fmt.Errorf("deployment %d: %w", id, ErrNotFound)
	}
	var d Deployment
	if err := json.Unmarshal(v, &d); err != nil {
		return Deployment{}, fmt.Errorf("deployment %d: decode: %w", id, err)
	}
	return d, nil
}

// appPrefix is the deployments_by_app key prefix of app: its name and a
// NUL, which app names cannot contain.
func appPrefix(app string) []byte { return append([]byte(app), 0) }
