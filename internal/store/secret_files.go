package store

import (
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// bucketReleaseSecretFiles holds, per release, the sealed content of the
// Compose secrets read from a file or the environment (Release.SecretFiles).
var bucketReleaseSecretFiles = []byte("release_secret_files")

// fileSecretName is the name a Compose secret's content is sealed under:
// bound to its release, so a box moved to another release or to berth's
// own secrets of that name does not decrypt.
func fileSecretName(id int64, name string) string {
	return "compose-secret\x00" + strconv.FormatInt(id, 10) + "\x00" + name
}

// sealSecretFiles stores r.SecretFiles encrypted under release r.ID
// (inside CreateRelease's transaction).
func (s *Store) sealSecretFiles(eb *bolt.Bucket, r Release) error {
	if len(r.SecretFiles) == 0 {
		return nil
	}
	boxes := make(map[string][]byte, len(r.SecretFiles))
	for name, v := range r.SecretFiles {
		box, err := s.seal.seal(r.App, r.Env, fileSecretName(r.ID, name), v)
		if err != nil {
			return err
		}
		boxes[name] = box
	}
	b, err := eb.CreateBucketIfNotExists(bucketReleaseSecretFiles)
	if err != nil {
		return err
	}
	return putJSON(b, itob(r.ID), boxes)
}

// ReleaseSecretFiles decrypts the content of the Compose secrets (file:
// and environment:) release id of app/env was created with, by the
// secret's key in the Compose file, for its containers' files. A release
// without any returns an empty map.
func (s *Store) ReleaseSecretFiles(app, env string, id int64) (map[string]string, error) {
	boxes := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, app, env)
		if err != nil {
			return err
		}
		if b := eb.Bucket(bucketReleaseSecretFiles); b != nil {
			return getJSON(b, itob(id), &boxes)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(boxes))
	for name, box := range boxes {
		v, err := s.seal.open(app, env, fileSecretName(id, name), box)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}
