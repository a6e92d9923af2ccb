package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/internal/spec"
)

// DropDefinition forgets the definition of failed release id of app/env,
// refused before anything of it started: its spec (all but the app's
// name), configuration, secrets snapshot and sealed Compose secrets go, its images and Reason
// stay, and it is marked Refused. A release that is not failed is an
// error wrapping ErrTransition.
func (s *Store) DropDefinition(app, env string, id int64) error {
	return s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		r, err := getRelease(eb, app, env, id)
		if err != nil {
			return err
		}
		if r.Status != StatusFailed {
			return fmt.Errorf("drop the definition of release %d of %s/%s: it is %s, not failed: %w", id, app, env, r.Status, ErrTransition)
		}
		r.Spec, r.Config, r.SecretNames, r.Refused = spec.App{Name: r.Spec.Name}, nil, nil, true
		if err := dropReleaseSecrets(eb, id); err != nil {
			return err
		}
		return putJSON(eb.Bucket(bucketReleases), itob(id), r)
	})
}

// dropReleaseSecrets deletes what release id keeps of secrets: the
// snapshot of berth's secrets and the sealed content of its Compose
// secrets.
func dropReleaseSecrets(eb *bolt.Bucket, id int64) error {
	for _, name := range [][]byte{bucketReleaseSecrets, bucketReleaseSecretFiles} {
		if b := eb.Bucket(name); b != nil {
			if err := b.Delete(itob(id)); err != nil {
				return err
			}
		}
	}
	return nil
}

// PruneFailed deletes the failed releases of app/env beyond the newest
// keep failed ones, with their secrets snapshots, and returns their IDs,
// oldest first. Releases that went live are history and stay; release IDs
// are never reused.
func (s *Store) PruneFailed(app, env string, keep int) ([]int64, error) {
	var gone []int64
	err := s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		rb := eb.Bucket(bucketReleases)
		failed := 0
		c := rb.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var r struct {
				Status ReleaseStatus `json:"status"`
			}
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("release %d of %s/%s: decode: %w", btoi(k), app, env, err)
			}
			if r.Status != StatusFailed {
				continue
			}
			if failed++; failed > keep {
				gone = append([]int64{btoi(k)}, gone...)
			}
		}
		for _, id := range gone {
			if err := rb.Delete(itob(id)); err != nil {
				return err
			}
			if err := dropReleaseSecrets(eb, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prune failed releases of %s/%s: %w", app, env, err)
	}
	return gone, nil
}
