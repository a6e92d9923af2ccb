package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrNotFound is wrapped by every error about a missing app, environment,
// release, deployment or setting.
var ErrNotFound = errors.New("not found")

// ErrTransition is wrapped by errors about a status change that the
// release's current status does not allow (failing a release that is not
// pending, activating a failed one).
var ErrTransition = errors.New("invalid status transition")

// SchemaVersion is the layout version this berth writes.
const SchemaVersion = 1

// FileName is the store's file inside the data directory.
const FileName = "berth.db"

// lockTimeout is how long Open waits for another process's file lock.
const lockTimeout = time.Second

var (
	bucketApps        = []byte("apps")
	bucketEnvs        = []byte("envs")
	bucketReleases    = []byte("releases")
	bucketDeployments = []byte("deployments")
	bucketDeplByApp   = []byte("deployments_by_app")
	bucketRunning     = []byte("running")
	bucketMeta        = []byte("meta")

	keyInfo          = []byte("info")
	keyLive          = []byte("live")
	keySchemaVersion = []byte("schema_version")
)

// Store is berth's embedded state store. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	now  func() time.Time
	seal *sealer
	feed changeFeed // changes.go
}

// Open opens (creating if needed) the store in dataDir/berth.db with mode
// 0600 and brings its schema up to date. It fails after one second when
// another process holds the file.
func Open(dataDir string) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: create data dir: %w", err)
	}
	seal, err := loadKey(dataDir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: the file is locked: another berth server is using %s? stop it or give this one another --data-dir", path, dataDir)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: func() time.Time { return time.Now().UTC() }, seal: seal}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the file and releases its lock.
func (s *Store) Close() error { return s.db.Close() }

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// migration brings the layout from version n-1 to n, where n is its
// index in migrations()+1.
type migration func(tx *bolt.Tx) error

// migrations lists, in order, the steps from version 0 (an empty file)
// up to SchemaVersion. A new layout appends a step; steps never change.
func migrations() []migration {
	return []migration{
		// 0 → 1: the initial layout.
		func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketApps, bucketDeployments, bucketDeplByApp, bucketRunning, bucketMeta} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// migrate runs the pending migrations in one transaction.
func (s *Store) migrate() error {
	return s.update(func(tx *bolt.Tx) error {
		version := 0
		if m := tx.Bucket(bucketMeta); m != nil {
			if v := m.Get(keySchemaVersion); v != nil {
				n, err := strconv.Atoi(string(v))
				if err != nil {
					return fmt.Errorf("schema version %q is not a number", v)
				}
				version = n
			}
		}
		steps := migrations()
		if version > len(steps) {
			return fmt.Errorf("the store has schema version %d but this berth knows only up to %d: run a newer berth", version, len(steps))
		}
		for v := version; v < len(steps); v++ {
			if err := steps[v](tx); err != nil {
				return fmt.Errorf("migrate schema %d → %d: %w", v, v+1, err)
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(strconv.Itoa(len(steps))))
	})
}

// Get returns the daemon setting key, wrapping ErrNotFound when unset.
func (s *Store) Get(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get([]byte(key))
		if v == nil {
			return fmt.Errorf("setting %q: %w", key, ErrNotFound)
		}
		out = append([]byte{}, v...)
		return nil
	})
	return out, err
}

// Put stores the daemon setting key. schema_version is reserved.
func (s *Store) Put(key string, value []byte) error {
	if key == "" {
		return errors.New("setting: empty key")
	}
	if key == string(keySchemaVersion) {
		return fmt.Errorf("setting %q is reserved for the store", key)
	}
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(key), append([]byte{}, value...))
	})
}

// itob encodes an ID as a big-endian key.
func itob(id int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(id))
	return b
}

// btoi decodes a big-endian key.
func btoi(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func checkName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("%s name is empty", kind)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == 0 {
			return fmt.Errorf("%s name %q contains a NUL byte", kind, name)
		}
	}
	return nil
}
