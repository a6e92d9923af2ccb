package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketEvents = []byte("events")

// MaxEvents is how many events each app environment keeps; older ones
// are dropped as new ones arrive.
const MaxEvents = 500

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

// AppendEvent records an event of app/env (which must exist).
func (s *Store) AppendEvent(app, env string, e Event) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	return s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		b, err := eb.CreateBucketIfNotExists(bucketEvents)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.ID = int64(seq)
		if err := putJSON(b, itob(e.ID), e); err != nil {
			return err
		}
		// Drop the oldest beyond MaxEvents (IDs are consecutive).
		c := b.Cursor()
		for k, _ := c.First(); k != nil && btoi(k) <= e.ID-MaxEvents; k, _ = c.First() {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListEvents returns app/env's events, newest first, at most limit (0:
// all kept).
func (s *Store) ListEvents(app, env string, limit int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		b := eb.Bucket(bucketEvents)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("event %d: %w", btoi(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
