package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

var (
	keyConfig            = []byte("config")
	keySecrets           = []byte("secrets")
	bucketReleaseSecrets = []byte("release_secrets")
)

// Config returns app/env's configuration variables (empty when none).
func (s *Store) Config(app, env string) (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		return getJSON(eb, keyConfig, &out)
	})
	return out, err
}

// SetConfig sets and unsets configuration variables of app/env (creating
// it if needed) and returns the resulting configuration.
func (s *Store) SetConfig(app, env string, set map[string]string, unset []string) (map[string]string, error) {
	if err := checkAppEnv(app, env); err != nil {
		return nil, err
	}
	out := map[string]string{}
	err := s.update(func(tx *bolt.Tx) error {
		eb, err := s.ensureEnv(tx, app, env)
		if err != nil {
			return err
		}
		if err := getJSON(eb, keyConfig, &out); err != nil {
			return err
		}
		maps.Copy(out, set)
		for _, k := range unset {
			delete(out, k)
		}
		return putJSON(eb, keyConfig, out)
	})
	if err != nil {
		return nil, fmt.Errorf("set config of %s/%s: %w", app, env, err)
	}
	return out, nil
}

// SetSecret stores a secret of app/env, encrypted at rest.
func (s *Store) SetSecret(app, env, name, value string) error {
	if err := checkAppEnv(app, env); err != nil {
		return err
	}
	box, err := s.seal.seal(app, env, name, value)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		eb, err := s.ensureEnv(tx, app, env)
		if err != nil {
			return err
		}
		secrets := map[string][]byte{}
		if err := getJSON(eb, keySecrets, &secrets); err != nil {
			return err
		}
		secrets[name] = box
		return putJSON(eb, keySecrets, secrets)
	})
}

// UnsetSecret removes secrets of app/env; it reports whether any existed.
func (s *Store) UnsetSecret(app, env string, names ...string) (bool, error) {
	found := false
	err := s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		secrets := map[string][]byte{}
		if err := getJSON(eb, keySecrets, &secrets); err != nil {
			return err
		}
		for _, n := range names {
			if _, ok := secrets[n]; ok {
				found = true
				delete(secrets, n)
			}
		}
		return putJSON(eb, keySecrets, secrets)
	})
	return found, err
}

// SecretNames lists app/env's secrets by name, sorted. Values never leave
// the store except through ReleaseSecrets, for a container's environment.
func (s *Store) SecretNames(app, env string) ([]string, error) {
	var names []string
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		secrets := map[string][]byte{}
		if err := getJSON(eb, keySecrets, &secrets); err != nil {
			return err
		}
		names = slices.Sorted(maps.Keys(secrets))
		return nil
	})
	return names, err
}

// snapshotConfig copies the env's current configuration and secrets into
// release r (inside CreateRelease's transaction).
func snapshotConfig(eb *bolt.Bucket, r *Release) error {
	cfg := map[string]string{}
	if err := getJSON(eb, keyConfig, &cfg); err != nil {
		return err
	}
	r.Config = cfg
	secrets := map[string][]byte{}
	if err := getJSON(eb, keySecrets, &secrets); err != nil {
		return err
	}
	r.SecretNames = slices.Sorted(maps.Keys(secrets))
	rs, err := eb.CreateBucketIfNotExists(bucketReleaseSecrets)
	if err != nil {
		return err
	}
	return putJSON(rs, itob(r.ID), secrets)
}

// ReleaseSecrets decrypts the secrets release id of app/env was created
// with, for its containers' environment.
func (s *Store) ReleaseSecrets(app, env string, id int64) (map[string]string, error) {
	boxes := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		if rs := eb.Bucket(bucketReleaseSecrets); rs != nil {
			return getJSON(rs, itob(id), &boxes)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(boxes))
	for name, box := range boxes {
		v, err := s.seal.open(app, env, name, box)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// RestoreConfig makes release id's configuration and secrets the current
// ones of app/env again (after a rollback to it), so later deploys keep
// what the rollback restored.
func (s *Store) RestoreConfig(app, env string, id int64) error {
	return s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		var r Release
		if err := getJSON(eb.Bucket(bucketReleases), itob(id), &r); err != nil {
			return err
		}
		if r.Config == nil {
			r.Config = map[string]string{}
		}
		if err := putJSON(eb, keyConfig, r.Config); err != nil {
			return err
		}
		secrets := map[string][]byte{}
		if rs := eb.Bucket(bucketReleaseSecrets); rs != nil {
			if err := getJSON(rs, itob(id), &secrets); err != nil {
				return err
			}
		}
		return putJSON(eb, keySecrets, secrets)
	})
}

// getJSON decodes key of b into v; a missing key leaves v as it is.
func getJSON(b *bolt.Bucket, key []byte, v any) error {
	raw := b.Get(key)
	if raw == nil {
		return nil
	}
	return json.Unmarshal(raw, v)
}

var keyMaintenance = []byte("maintenance")

// Maintenance is an environment's maintenance mode.
type Maintenance struct {
	On   bool   `json:"on"`
	Page []byte `json:"page,omitempty"`
}

// SetMaintenance records app/env's maintenance mode.
func (s *Store) SetMaintenance(app, env string, m Maintenance) error {
	return s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		return putJSON(eb, keyMaintenance, m)
	})
}

// GetMaintenance returns app/env's maintenance mode (off when never set).
func (s *Store) GetMaintenance(app, env string) (Maintenance, error) {
	var m Maintenance
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		return getJSON(eb, keyMaintenance, &m)
	})
	return m, err
}
