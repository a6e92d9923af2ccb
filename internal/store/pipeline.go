package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketConnections = []byte("connections")
	bucketBuilds      = []byte("builds")
	bucketDeliveries  = []byte("deliveries")
)

// Connection links an app to a git repository.
type Connection struct {
	App  string `json:"app"`
	Repo string `json:"repo"`
	// File is the Compose file's path in the repository.
	File string `json:"file"`
	// Branches maps a branch to the environment its pushes deploy to.
	Branches map[string]string `json:"branches"`
	Secret   []byte            `json:"secret"` // webhook secret, ciphertext
	// SSHKey is a private key for ssh:// repositories, ciphertext.
	SSHKey []byte `json:"ssh_key,omitempty"`
	// Token authenticates http(s) fetches ("user:token" or "token"),
	// ciphertext.
	Token []byte `json:"token,omitempty"`
}

// SetConnection links app to a repository; the webhook secret and the
// ssh key (when not empty) are stored encrypted.
func (s *Store) SetConnection(c Connection, secret, sshKey, token string) error {
	box, err := s.seal.seal(c.App, "webhook", "secret", secret)
	if err != nil {
		return err
	}
	c.Secret = box
	c.SSHKey, c.Token = nil, nil
	if token != "" {
		if c.Token, err = s.seal.seal(c.App, "webhook", "token", token); err != nil {
			return err
		}
	}
	if sshKey != "" {
		if c.SSHKey, err = s.seal.seal(c.App, "webhook", "ssh_key", sshKey); err != nil {
			return err
		}
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketConnections)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(c.App), c)
	})
}

// ConnectionCredentials returns the ssh key and the http token app's
// repository is fetched with ("" when none).
func (s *Store) ConnectionCredentials(app string) (sshKey, token string, err error) {
	var c Connection
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConnections)
		if b == nil {
			return nil
		}
		return getJSON(b, []byte(app), &c)
	})
	if err != nil {
		return "", "", err
	}
	if len(c.SSHKey) > 0 {
		if sshKey, err = s.seal.open(app, "webhook", "ssh_key", c.SSHKey); err != nil {
			return "", "", err
		}
	}
	if len(c.Token) > 0 {
		if token, err = s.seal.open(app, "webhook", "token", c.Token); err != nil {
			return "", "", err
		}
	}
	return sshKey, token, nil
}

// GetConnection returns app's repository link and its webhook secret.
func (s *Store) GetConnection(app string) (Connection, string, error) {
	var c Connection
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketConnections)
		if b == nil || b.Get([]byte(app)) == nil {
			return fmt.Errorf("%w: app %s is not connected to a repository (berth apps connect)", ErrNotFound, app)
		}
		return getJSON(b, []byte(app), &c)
	})
	if err != nil {
		return c, "", err
	}
	secret, err := s.seal.open(app, "webhook", "secret", c.Secret)
	c.Secret, c.SSHKey, c.Token = nil, nil, nil
	return c, secret, err
}

// SeenDelivery records a webhook delivery id of app and reports whether
// it had been recorded before.
func (s *Store) SeenDelivery(app, id string) (bool, error) {
	seen := false
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketDeliveries)
		if err != nil {
			return err
		}
		k := []byte(app + "\x00" + id)
		if b.Get(k) != nil {
			seen = true
			return nil
		}
		return b.Put(k, []byte(s.now().Format(time.RFC3339)))
	})
	return seen, err
}

// ForgetDelivery removes a delivery id of app recorded by SeenDelivery,
// so that the provider's redelivery is accepted: the webhook handler
// calls it when the delivery it recorded could not be queued.
func (s *Store) ForgetDelivery(app, id string) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeliveries)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(app + "\x00" + id))
	})
}

// BuildStatus is where a pipeline run is.
type BuildStatus string

// Build statuses.
const (
	BuildQueued     BuildStatus = "queued"
	BuildRunning    BuildStatus = "running"
	BuildSucceeded  BuildStatus = "succeeded"
	BuildFailed     BuildStatus = "failed"
	BuildSuperseded BuildStatus = "superseded"
	BuildCancelled  BuildStatus = "cancelled"
)

// Build is one run of the git-push pipeline: fetch, build, test, push,
// deploy.
type Build struct {
	ID           int64       `json:"id"`
	App          string      `json:"app"`
	Env          string      `json:"env"`
	Branch       string      `json:"branch"`
	Commit       string      `json:"commit"`
	Author       string      `json:"author,omitempty"`
	Message      string      `json:"message,omitempty"`
	Status       BuildStatus `json:"status"`
	Error        string      `json:"error,omitempty"`
	Log          []string    `json:"log,omitempty"`
	Steps        []Step      `json:"steps,omitempty"`
	DeploymentID int64       `json:"deployment_id,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`
	StartedAt    time.Time   `json:"started_at,omitzero"`
	EndedAt      time.Time   `json:"ended_at,omitzero"`
	// Actor is who started the build ("webhook:github"; empty: unknown).
	Actor string `json:"actor,omitempty"`
}

// Done reports whether the build has ended.
func (b Build) Done() bool {
	return b.Status != BuildQueued && b.Status != BuildRunning
}

// CreateBuild records a queued build and assigns its ID.
func (s *Store) CreateBuild(b Build) (Build, error) {
	b.Status, b.CreatedAt = BuildQueued, s.now()
	err := s.update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketBuilds)
		if err != nil {
			return err
		}
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		b.ID = int64(seq)
		return putJSON(bk, itob(b.ID), b)
	})
	return b, err
}

// UpdateBuild replaces a build record.
func (s *Store) UpdateBuild(b Build) error {
	return s.update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketBuilds)
		if err != nil {
			return err
		}
		return putJSON(bk, itob(b.ID), b)
	})
}

// GetBuild returns one build.
func (s *Store) GetBuild(id int64) (Build, error) {
	var b Build
	err := s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBuilds)
		if bk == nil || bk.Get(itob(id)) == nil {
			return fmt.Errorf("build %d: %w", id, ErrNotFound)
		}
		return getJSON(bk, itob(id), &b)
	})
	return b, err
}

// ListBuilds lists app's builds, newest first, at most limit (0: all),
// without their logs.
func (s *Store) ListBuilds(app string, limit int) ([]Build, error) {
	out := []Build{}
	err := s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBuilds)
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var b Build
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			if b.App == app {
				b.Log = nil
				out = append(out, b)
			}
		}
		return nil
	})
	return out, err
}
