package store

import (
	bolt "go.etcd.io/bbolt"
)

var bucketNotify = []byte("notifications")

// NotifyTarget is where an app's notifications go: a Slack-compatible
// incoming webhook ("slack") or a generic JSON webhook ("webhook").
type NotifyTarget struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
}

// SetNotifyTargets replaces app's notification targets.
func (s *Store) SetNotifyTargets(app string, ts []NotifyTarget) error {
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketNotify)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(app), ts)
	})
}

// NotifyTargets returns app's notification targets (none: empty).
func (s *Store) NotifyTargets(app string) ([]NotifyTarget, error) {
	out := []NotifyTarget{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketNotify); b != nil {
			return getJSON(b, []byte(app), &out)
		}
		return nil
	})
	return out, err
}
