package store

import (
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// S3-compatible destinations of backups (x-berth.backups.destination:
// s3:NAME), registered on the server by name, their secret key
// encrypted at rest as registry passwords are.

var bucketBackupDests = []byte("backup_destinations")

// S3Destination is an S3-compatible bucket backups are written to, as
// listed: never its secret key.
type S3Destination struct {
	Name string `json:"name"`
	// Endpoint is host[:port]; Insecure talks plain HTTP to it.
	Endpoint  string `json:"endpoint"`
	Insecure  bool   `json:"insecure,omitempty"`
	Bucket    string `json:"bucket"`
	Prefix    string `json:"prefix,omitempty"`
	Region    string `json:"region,omitempty"`
	AccessKey string `json:"access_key"`
}

type s3Record struct {
	S3Destination
	Secret []byte `json:"secret"` // ciphertext
}

// SetS3Destination stores (or replaces) destination d with its secret
// key, encrypted.
func (s *Store) SetS3Destination(d S3Destination, secret string) error {
	d.Name = strings.TrimSpace(d.Name)
	if d.Name == "" || d.Endpoint == "" || d.Bucket == "" || d.AccessKey == "" || secret == "" {
		return fmt.Errorf("an S3 destination needs a name, an endpoint, a bucket, an access key and a secret key")
	}
	box, err := s.seal.seal("", "backup-destination", d.Name, secret)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketBackupDests)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(d.Name), s3Record{S3Destination: d, Secret: box})
	})
}

// GetS3Destination returns destination name with its secret key
// (ErrNotFound wrapped when there is none).
func (s *Store) GetS3Destination(name string) (S3Destination, string, error) {
	var rec s3Record
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBackupDests)
		if b == nil || b.Get([]byte(name)) == nil {
			return fmt.Errorf("backup destination %s: %w", name, ErrNotFound)
		}
		return getJSON(b, []byte(name), &rec)
	})
	if err != nil {
		return S3Destination{}, "", err
	}
	secret, err := s.seal.open("", "backup-destination", name, rec.Secret)
	return rec.S3Destination, secret, err
}

// ListS3Destinations lists the destinations by name, without secrets.
func (s *Store) ListS3Destinations() ([]S3Destination, error) {
	out := []S3Destination{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBackupDests)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var rec s3Record
			if err := getJSON(b, k, &rec); err != nil {
				return err
			}
			out = append(out, rec.S3Destination)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}
