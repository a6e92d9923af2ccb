package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keyCanary holds the running canary of an environment (absent when none).
var keyCanary = []byte("canary")

// Canary is a release running beside the live one and taking a share of
// its clients, until it is promoted (Activate) or removed (EndCanary).
type Canary struct {
	App       string `json:"app"`
	Env       string `json:"env"`
	ReleaseID int64  `json:"release_id"`
	// Weight is the percentage of clients it gets (1-99).
	Weight int `json:"weight"`
	// DeploymentID is the deployment that started it.
	DeploymentID int64     `json:"deployment_id"`
	StartedAt    time.Time `json:"started_at"`
	// Unhealthy says why the canary gets no traffic now (no healthy
	// container); empty while it is healthy.
	Unhealthy      string    `json:"unhealthy,omitempty"`
	UnhealthySince time.Time `json:"unhealthy_since,omitzero"`
}

// StartCanary records c: release c.ReleaseID goes from pending to canary
// (StartedAt = now) in the same transaction. An environment runs at most
// one canary: a second one, or a release that is not pending, is refused
// with an error wrapping ErrTransition.
func (s *Store) StartCanary(c Canary) error {
	if c.Weight < 1 || c.Weight > 99 {
		return fmt.Errorf("canary of %s/%s: weight %d: give a percentage from 1 to 99", c.App, c.Env, c.Weight)
	}
	return s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, c.App, c.Env)
		if err != nil {
			return err
		}
		if v := eb.Get(keyCanary); v != nil {
			var cur Canary
			_ = json.Unmarshal(v, &cur)
			return fmt.Errorf("canary of %s/%s: release %d is already a canary: %w", c.App, c.Env, cur.ReleaseID, ErrTransition)
		}
		r, err := getRelease(eb, c.App, c.Env, c.ReleaseID)
		if err != nil {
			return err
		}
		if r.Status != StatusPending {
			return fmt.Errorf("canary of %s/%s: release %d is %s, not pending: %w", c.App, c.Env, r.ID, r.Status, ErrTransition)
		}
		c.StartedAt = s.now()
		c.Unhealthy, c.UnhealthySince = "", time.Time{}
		r.Status = StatusCanary
		if err := putJSON(eb.Bucket(bucketReleases), itob(r.ID), r); err != nil {
			return err
		}
		return putJSON(eb, keyCanary, c)
	})
}

// GetCanary returns the canary of app/env, wrapping ErrNotFound when none
// runs.
func (s *Store) GetCanary(app, env string) (Canary, error) {
	var c Canary
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		v := eb.Get(keyCanary)
		if v == nil {
			return fmt.Errorf("canary of %s/%s: %w", app, env, ErrNotFound)
		}
		return json.Unmarshal(v, &c)
	})
	return c, err
}

// SetCanaryHealth records whether canary release id of app/env has a
// healthy container: unhealthy says why not, "" that it has again. A
// failure is also kept as the release's Reason, so the release records
// it after the canary ends. It wraps ErrNotFound when id is not the
// running canary.
func (s *Store) SetCanaryHealth(app, env string, id int64, unhealthy string) error {
	return s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		c, err := canaryOf(eb, app, env, id)
		if err != nil {
			return err
		}
		if c.Unhealthy == unhealthy {
			return nil
		}
		if unhealthy != "" && c.Unhealthy == "" {
			c.UnhealthySince = s.now()
		} else if unhealthy == "" {
			c.UnhealthySince = time.Time{}
		}
		c.Unhealthy = unhealthy
		if unhealthy != "" {
			r, err := getRelease(eb, app, env, id)
			if err != nil {
				return err
			}
			r.Reason = unhealthy
			if err := putJSON(eb.Bucket(bucketReleases), itob(id), r); err != nil {
				return err
			}
		}
		return putJSON(eb, keyCanary, c)
	})
}

// SetCanaryWeight moves canary release id of app/env to weight percent
// of clients (1-99) and returns what it was. It wraps ErrNotFound when id
// is not the running canary.
func (s *Store) SetCanaryWeight(app, env string, id int64, weight int) (was int, err error) {
	if weight < 1 || weight > 99 {
		return 0, fmt.Errorf("canary of %s/%s: weight %d: give a percentage from 1 to 99 (promote it for 100, roll it back for 0)", app, env, weight)
	}
	err = s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		c, err := canaryOf(eb, app, env, id)
		if err != nil {
			return err
		}
		was, c.Weight = c.Weight, weight
		return putJSON(eb, keyCanary, c)
	})
	return was, err
}

// EndCanary ends canary release id of app/env without promoting it: the
// release becomes rolled_back with reason (EndedAt = now) and the
// environment has no canary, in one transaction. It wraps ErrNotFound
// when id is not the running canary.
func (s *Store) EndCanary(app, env string, id int64, reason string) error {
	return s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		if _, err := canaryOf(eb, app, env, id); err != nil {
			return err
		}
		r, err := getRelease(eb, app, env, id)
		if err != nil {
			return err
		}
		r.Status, r.Reason, r.EndedAt = StatusRolledBack, reason, s.now()
		if err := putJSON(eb.Bucket(bucketReleases), itob(id), r); err != nil {
			return err
		}
		return eb.Delete(keyCanary)
	})
}

// canaryOf returns the environment's canary when it is release id.
func canaryOf(eb *bolt.Bucket, app, env string, id int64) (Canary, error) {
	var c Canary
	v := eb.Get(keyCanary)
	if v == nil {
		return c, fmt.Errorf("canary of %s/%s: %w", app, env, ErrNotFound)
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return c, fmt.Errorf("canary of %s/%s: decode: %w", app, env, err)
	}
	if c.ReleaseID != id {
		return c, fmt.Errorf("canary of %s/%s is release %d, not %d: %w", app, env, c.ReleaseID, id, ErrNotFound)
	}
	return c, nil
}
