package store

import (
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

var bucketRegistries = []byte("registries")

// Registry is a registry's credentials as listed: never the password.
type Registry struct {
	Server   string `json:"server"`
	Username string `json:"username"`
}

type registryRecord struct {
	Username string `json:"username"`
	Password []byte `json:"password"` // ciphertext
}

// SetRegistry stores credentials for a registry (host[:port]), the
// password encrypted at rest like secrets.
func (s *Store) SetRegistry(server, username, password string) error {
	server = strings.ToLower(strings.TrimSpace(server))
	if server == "" || username == "" || password == "" {
		return fmt.Errorf("a registry needs a server, a username and a password or token")
	}
	box, err := s.seal.seal("", "registry", server, password)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRegistries)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(server), registryRecord{Username: username, Password: box})
	})
}

// RegistryAuth returns the credentials for server (ErrNotFound wrapped
// when none are stored).
func (s *Store) RegistryAuth(server string) (username, password string, err error) {
	server = strings.ToLower(server)
	var rec registryRecord
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRegistries)
		if b == nil || b.Get([]byte(server)) == nil {
			return fmt.Errorf("registry %s: %w", server, ErrNotFound)
		}
		return getJSON(b, []byte(server), &rec)
	})
	if err != nil {
		return "", "", err
	}
	password, err = s.seal.open("", "registry", server, rec.Password)
	return rec.Username, password, err
}

// ListRegistries lists the registries with stored credentials, by server.
func (s *Store) ListRegistries() ([]Registry, error) {
	out := []Registry{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRegistries)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var rec registryRecord
			if err := getJSON(b, k, &rec); err != nil {
				return err
			}
			out = append(out, Registry{Server: string(k), Username: rec.Username})
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Server < out[j].Server })
	return out, err
}
