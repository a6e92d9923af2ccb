package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keyScales holds an environment's scaled services (absent when none).
var keyScales = []byte("scales")

// Scale is a service's replica count set by berth scale, over what its
// Compose file says. It holds while the file's deploy.replicas stays
// File (the value the live release's file had when it was scaled); a
// release whose file says otherwise runs the file's count and, once it
// is live, drops the Scale (see deploy.ScaledApp).
type Scale struct {
	Service  string `json:"service"`
	Replicas int    `json:"replicas"`
	// File is the deploy.replicas of the file the live release ran when
	// the service was scaled.
	File int `json:"file"`
	// From is the count before the scale that set it.
	From int       `json:"from"`
	By   string    `json:"by,omitempty"`
	At   time.Time `json:"at"`
}

// Scales returns app/env's scaled services by name (empty when none).
func (s *Store) Scales(app, env string) (map[string]Scale, error) {
	out := map[string]Scale{}
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		return getJSON(eb, keyScales, &out)
	})
	return out, err
}

// SetScales records sc (keyed by service) for app/env, over the ones
// already recorded for those services, in one transaction. A Scale with
// At zero gets now.
func (s *Store) SetScales(app, env string, sc []Scale) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		cur := map[string]Scale{}
		if err := getJSON(eb, keyScales, &cur); err != nil {
			return fmt.Errorf("scales of %s/%s: decode: %w", app, env, err)
		}
		for _, x := range sc {
			if x.Service == "" {
				return fmt.Errorf("scale of %s/%s: no service", app, env)
			}
			if x.At.IsZero() {
				x.At = s.now()
			}
			cur[x.Service] = x
		}
		return putJSON(eb, keyScales, cur)
	})
}

// DropScales forgets the scales of services of app/env (a release whose
// file changed their deploy.replicas went live); unknown ones are
// ignored; none drops nothing.
func (s *Store) DropScales(app, env string, services ...string) error {
	if len(services) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		return dropScales(eb, services...)
	})
}

// dropScales is DropScales in a transaction; no services drops all.
func dropScales(eb *bolt.Bucket, services ...string) error {
	raw := eb.Get(keyScales)
	if raw == nil {
		return nil
	}
	if len(services) == 0 {
		return eb.Delete(keyScales)
	}
	cur := map[string]Scale{}
	if err := json.Unmarshal(raw, &cur); err != nil {
		return fmt.Errorf("scales: decode: %w", err)
	}
	before := maps.Clone(cur)
	for _, name := range services {
		delete(cur, name)
	}
	if len(cur) == len(before) {
		return nil
	}
	if len(cur) == 0 {
		return eb.Delete(keyScales)
	}
	return putJSON(eb, keyScales, cur)
}
