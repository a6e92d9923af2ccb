package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// App is an application known to the store and its environments.
type App struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Envs are the app's environments, sorted.
	Envs []string `json:"envs"`
	// Removed are those of Envs that were removed (removed.go), with
	// when; a removed environment keeps its history.
	Removed map[string]time.Time `json:"removed,omitempty"`
}

// Active are the app's environments that are not removed, sorted.
func (a App) Active() []string {
	out := []string{}
	for _, e := range a.Envs {
		if _, gone := a.Removed[e]; !gone {
			out = append(out, e)
		}
	}
	return out
}

type appInfo struct {
	CreatedAt time.Time `json:"created_at"`
}

// EnsureEnv creates the app and its environment env if they do not exist
// yet. It is idempotent.
func (s *Store) EnsureEnv(app, env string) error {
	if err := checkAppEnv(app, env); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		_, err := s.ensureEnv(tx, app, env)
		return err
	})
}

// ensureEnv returns the env bucket, creating the app and env as needed.
func (s *Store) ensureEnv(tx *bolt.Tx, app, env string) (*bolt.Bucket, error) {
	apps := tx.Bucket(bucketApps)
	ab := apps.Bucket([]byte(app))
	if ab == nil {
		var err error
		if ab, err = apps.CreateBucket([]byte(app)); err != nil {
			return nil, fmt.Errorf("create app %q: %w", app, err)
		}
		if err := putJSON(ab, keyInfo, appInfo{CreatedAt: s.now()}); err != nil {
			return nil, fmt.Errorf("create app %q: %w", app, err)
		}
	}
	envs, err := ab.CreateBucketIfNotExists(bucketEnvs)
	if err != nil {
		return nil, fmt.Errorf("create env %s/%s: %w", app, env, err)
	}
	eb, err := envs.CreateBucketIfNotExists([]byte(env))
	if err != nil {
		return nil, fmt.Errorf("create env %s/%s: %w", app, env, err)
	}
	if _, err := eb.CreateBucketIfNotExists(bucketReleases); err != nil {
		return nil, fmt.Errorf("create env %s/%s: %w", app, env, err)
	}
	return eb, nil
}

// envBucket returns an existing env bucket or an error wrapping
// ErrNotFound that names what is missing.
func envBucket(tx *bolt.Tx, app, env string) (*bolt.Bucket, error) {
	ab := tx.Bucket(bucketApps).Bucket([]byte(app))
	if ab == nil {
		return nil, fmt.Errorf("app %q: %w", app, ErrNotFound)
	}
	var eb *bolt.Bucket
	if envs := ab.Bucket(bucketEnvs); envs != nil {
		eb = envs.Bucket([]byte(env))
	}
	if eb == nil {
		return nil, fmt.Errorf("environment %q of app %q: %w", env, app, ErrNotFound)
	}
	return eb, nil
}

// ListApps returns every app, sorted by name.
func (s *Store) ListApps() ([]App, error) {
	var out []App
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApps).ForEachBucket(func(name []byte) error {
			a, err := readApp(tx.Bucket(bucketApps).Bucket(name), string(name))
			if err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}

// GetApp returns the app name, wrapping ErrNotFound when it is unknown.
func (s *Store) GetApp(name string) (App, error) {
	var a App
	err := s.db.View(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketApps).Bucket([]byte(name))
		if ab == nil {
			return fmt.Errorf("app %q: %w", name, ErrNotFound)
		}
		var err error
		a, err = readApp(ab, name)
		return err
	})
	return a, err
}

func readApp(ab *bolt.Bucket, name string) (App, error) {
	a := App{Name: name, Envs: []string{}}
	if v := ab.Get(keyInfo); v != nil {
		var info appInfo
		if err := json.Unmarshal(v, &info); err != nil {
			return App{}, fmt.Errorf("app %q: decode: %w", name, err)
		}
		a.CreatedAt = info.CreatedAt
	}
	if envs := ab.Bucket(bucketEnvs); envs != nil {
		// Bucket keys iterate in byte order, which is sorted string order.
		err := envs.ForEachBucket(func(k []byte) error {
			a.Envs = append(a.Envs, string(k))
			var rm Removal
			if err := getJSON(envs.Bucket(k), keyRemoved, &rm); err != nil {
				return fmt.Errorf("app %q: environment %q: decode: %w", name, k, err)
			}
			if !rm.At.IsZero() {
				if a.Removed == nil {
					a.Removed = map[string]time.Time{}
				}
				a.Removed[string(k)] = rm.At
			}
			return nil
		})
		if err != nil {
			return App{}, err
		}
	}
	return a, nil
}

func checkAppEnv(app, env string) error {
	if err := checkName("app", app); err != nil {
		return err
	}
	return checkName("environment", env)
}
