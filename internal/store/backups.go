package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backups of an app environment's volumes (issue 19): per app
// environment, a bucket of records keyed by a sequence, so a backup is
// named by its environment and its number ("berth restore shop 12").
// The record says where the file is and what it holds; the file itself
// is the destination's.

var bucketBackups = []byte("backups")

// BackupStatus is where a backup is.
type BackupStatus string

// Backup statuses. Every status but BackupRunning is final.
const (
	BackupRunning BackupStatus = "running"
	BackupOK      BackupStatus = "ok"
	BackupFailed  BackupStatus = "failed"
	// BackupDeleted: retention (or berth prune) removed its file; the
	// record stays for the history.
	BackupDeleted BackupStatus = "deleted"
)

// Kinds of backup: how its file was made.
const (
	// BackupSnapshot is a tar of the volume's files (gzip), read from a
	// helper container that mounts the volume read-only.
	BackupSnapshot = "snapshot"
	// BackupDump is the file a service's dump hook wrote (gzip).
	BackupDump = "dump"
)

// Backup is one backup of one named volume of an app environment.
type Backup struct {
	ID  int64  `json:"id"`
	App string `json:"app"`
	Env string `json:"env"`
	// Volume is the volume's key in the Compose file; EngineName is the
	// engine's name of it when the backup was made.
	Volume     string `json:"volume"`
	EngineName string `json:"engine_name"`
	// Service is the service whose dump hook made it (BackupDump), or
	// whose containers were paused for the copy.
	Service string `json:"service,omitempty"`
	Kind    string `json:"kind"`
	// Release is the live release when it was made.
	Release   int64     `json:"release"`
	Trigger   string    `json:"trigger"` // manual, schedule, restore (the state a restore replaced)
	CreatedBy string    `json:"created_by,omitempty"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Size is the file's size in bytes; SHA256 its checksum (hex), as
	// sha256sum prints it.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	// Destination is where the file is ("local", or a directory on the
	// server); Key is its name there (a path relative to it).
	Destination string `json:"destination"`
	Key         string `json:"key,omitempty"`
	// Paused says the service's containers were paused for the copy.
	Paused bool         `json:"paused,omitempty"`
	Status BackupStatus `json:"status"`
	Error  string       `json:"error,omitempty"`
}

// Backup triggers, beside TriggerSchedule and TriggerManual.
const TriggerRestore = "restore"

// CreateBackup records a new backup of app/env (running unless b says
// otherwise), giving it the environment's next number.
func (s *Store) CreateBackup(b Backup) (Backup, error) {
	if b.StartedAt.IsZero() {
		b.StartedAt = s.now()
	}
	if b.Status == "" {
		b.Status = BackupRunning
	}
	err := s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, b.App, b.Env)
		if err != nil {
			return err
		}
		bb, err := eb.CreateBucketIfNotExists(bucketBackups)
		if err != nil {
			return err
		}
		seq, err := bb.NextSequence()
		if err != nil {
			return err
		}
		b.ID = int64(seq)
		return putJSON(bb, itob(b.ID), b)
	})
	return b, err
}

// UpdateBackup rewrites a backup's record (its end, size, checksum,
// status).
func (s *Store) UpdateBackup(b Backup) error {
	return s.update(func(tx *bolt.Tx) error {
		bb, err := backupsBucket(tx, b.App, b.Env)
		if err != nil {
			return err
		}
		if bb == nil || bb.Get(itob(b.ID)) == nil {
			return fmt.Errorf("backup %d of %s/%s: %w", b.ID, b.App, b.Env, ErrNotFound)
		}
		return putJSON(bb, itob(b.ID), b)
	})
}

func backupsBucket(tx *bolt.Tx, app, env string) (*bolt.Bucket, error) {
	eb, err := envBucket(tx, app, env)
	if err != nil {
		return nil, err
	}
	return eb.Bucket(bucketBackups), nil
}

// GetBackup returns backup id of app/env, wrapping ErrNotFound.
func (s *Store) GetBackup(app, env string, id int64) (Backup, error) {
	var b Backup
	err := s.db.View(func(tx *bolt.Tx) error {
		bb, err := backupsBucket(tx, app, env)
		if err != nil {
			return err
		}
		if bb == nil || bb.Get(itob(id)) == nil {
			return fmt.Errorf("backup %d of %s/%s: %w", id, app, env, ErrNotFound)
		}
		return getJSON(bb, itob(id), &b)
	})
	return b, err
}

// ListBackups returns app/env's backups, newest first.
func (s *Store) ListBackups(app, env string) ([]Backup, error) {
	out := []Backup{}
	err := s.db.View(func(tx *bolt.Tx) error {
		bb, err := backupsBucket(tx, app, env)
		if err != nil || bb == nil {
			return err
		}
		c := bb.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var b Backup
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("backup %d of %s/%s: %w", btoi(k), app, env, err)
			}
			out = append(out, b)
		}
		return nil
	})
	return out, err
}

// RunningBackups lists every backup recorded as running, in every app
// environment: at start, the ones a previous berth left half-made.
func (s *Store) RunningBackups() ([]Backup, error) {
	var out []Backup
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApps).ForEachBucket(func(app []byte) error {
			envs := tx.Bucket(bucketApps).Bucket(app).Bucket(bucketEnvs)
			if envs == nil {
				return nil
			}
			return envs.ForEachBucket(func(env []byte) error {
				bb := envs.Bucket(env).Bucket(bucketBackups)
				if bb == nil {
					return nil
				}
				return bb.ForEach(func(k, v []byte) error {
					var b Backup
					if err := json.Unmarshal(v, &b); err != nil {
						return fmt.Errorf("backup %d of %s/%s: %w", btoi(k), app, env, err)
					}
					if b.Status == BackupRunning {
						out = append(out, b)
					}
					return nil
				})
			})
		})
	})
	return out, err
}

var keyBackupState = []byte("backup_state")

// GetBackupState returns the schedule state of app/env's backups
// (x-berth.backups.schedule), as jobs keep theirs; the zero state when
// the schedule was never armed.
func (s *Store) GetBackupState(app, env string) (JobState, error) {
	var st JobState
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil || eb.Get(keyBackupState) == nil {
			return err
		}
		return getJSON(eb, keyBackupState, &st)
	})
	return st, err
}

// SetBackupState records the schedule state of app/env's backups.
func (s *Store) SetBackupState(app, env string, st JobState) error {
	return s.update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		return putJSON(eb, keyBackupState, st)
	})
}

var bucketRestoring = []byte("restoring")

// Restore phases of a RestoreJournal.
const (
	// RestoreStaging: the backup is being extracted into the staging
	// volume; the target volume is untouched.
	RestoreStaging = "staging"
	// RestoreCopying: the target volume is being made a copy of the
	// staged one, its services stopped.
	RestoreCopying = "copying"
)

// RestoreJournal is a restore in progress, kept so that a berth that
// starts after one was killed finishes it (copying) or clears it away
// (staging).
type RestoreJournal struct {
	App string `json:"app"`
	// Env is where it restores; BackupEnv and Backup name the backup.
	Env       string `json:"env"`
	BackupEnv string `json:"backup_env"`
	Backup    int64  `json:"backup"`
	// Volume is the target's engine name; Staged the staging volume's.
	Volume string `json:"volume"`
	Staged string `json:"staged"`
	Phase  string `json:"phase"`
	// Stopped are the containers stopped for the copy, to start again.
	Stopped []string `json:"stopped,omitempty"`
	// Previous is the backup of the state it replaces (0: none).
	Previous  int64     `json:"previous,omitempty"`
	StartedAt time.Time `json:"started_at"`
}

// SetRestoring records (or updates) a restore in progress, one per
// target volume.
func (s *Store) SetRestoring(j RestoreJournal) error {
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRestoring)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(j.Volume), j)
	})
}

// ClearRestoring forgets the restore into volume.
func (s *Store) ClearRestoring(volume string) error {
	return s.update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketRestoring); b != nil {
			return b.Delete([]byte(volume))
		}
		return nil
	})
}

// Restorings lists the restores in progress.
func (s *Store) Restorings() ([]RestoreJournal, error) {
	var out []RestoreJournal
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRestoring)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var j RestoreJournal
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("restore into %s: %w", k, err)
			}
			out = append(out, j)
			return nil
		})
	})
	return out, err
}
