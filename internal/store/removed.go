package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Removed app environments (berth apps remove, berth env remove).
//
// Removing an environment keeps its history: its releases, deployments
// and events stay, every release marked RemovedAt, the live one (if any)
// StatusRemoved, and the environment carries a removal record until a
// deploy creates a release in it again. Release IDs go on from where they
// were (they are never reused), so "release 7" names one release for good
// in the audit trail. Configuration and secrets stay: they are the
// environment's settings, not its running state.

// StatusRemoved: was live (or the canary) when its environment was
// removed. Final.
const StatusRemoved ReleaseStatus = "removed"

// keyRemoved holds an environment's Removal (absent unless removed).
var keyRemoved = []byte("removed")

// Removal records that an environment was removed.
type Removal struct {
	At time.Time `json:"at"`
	// Deployment is the removal's deployment record.
	Deployment int64 `json:"deployment,omitempty"`
	// Release is the release that was live then (0 if none).
	Release int64 `json:"release,omitempty"`
}

// MarkRemoved records app/env as removed by deployment dep: it has no
// live release or canary any more, the live one becomes StatusRemoved and
// every release is marked RemovedAt, in one transaction. Marking an
// environment removed again keeps the first removal's time and release.
func (s *Store) MarkRemoved(app, env string, dep int64) (Removal, error) {
	var rm Removal
	err := s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		if err := getJSON(eb, keyRemoved, &rm); err != nil {
			return err
		}
		now := s.now()
		if rm.At.IsZero() {
			rm.At = now
			if v := eb.Get(keyLive); v != nil {
				rm.Release = btoi(v)
			}
		}
		rm.Deployment = dep
		rb := eb.Bucket(bucketReleases)
		c := rb.Cursor()
		type change struct {
			k []byte
			r Release
		}
		var changed []change
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var r Release
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("release %d: decode: %w", btoi(k), err)
			}
			if !r.RemovedAt.IsZero() {
				continue
			}
			r.RemovedAt = now
			switch r.Status {
			case StatusLive, StatusCanary:
				r.Status, r.EndedAt = StatusRemoved, now
			case StatusPending:
				r.Status, r.Reason = StatusFailed, "its environment was removed before it went live"
			}
			changed = append(changed, change{append([]byte{}, k...), r})
		}
		for _, ch := range changed {
			if err := putJSON(rb, ch.k, ch.r); err != nil {
				return err
			}
		}
		for _, k := range [][]byte{keyLive, keyCanary} {
			if err := eb.Delete(k); err != nil {
				return err
			}
		}
		if err := dropScales(eb); err != nil { // a later deploy starts afresh
			return err
		}
		return putJSON(eb, keyRemoved, rm)
	})
	if err != nil {
		return Removal{}, fmt.Errorf("mark %s/%s removed: %w", app, env, err)
	}
	return rm, nil
}

// Removed returns app/env's removal record and whether it is removed.
func (s *Store) Removed(app, env string) (Removal, bool, error) {
	var rm Removal
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		return getJSON(eb, keyRemoved, &rm)
	})
	return rm, !rm.At.IsZero(), err
}

// reviveEnv clears a removed environment's record: a new release starts
// it afresh (inside CreateRelease's transaction).
func reviveEnv(eb *bolt.Bucket) error {
	return eb.Delete(keyRemoved)
}
