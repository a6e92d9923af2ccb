package store

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/internal/spec"
)

// The content of a release's Compose secrets is sealed apart from the
// release: never in its JSON, nor in the store's file in the clear, and
// each release keeps its own.
func TestStore_ReleaseSecretFiles(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	r1, err := s.CreateRelease(Release{App: "shop", Env: "production", Spec: spec.App{Name: "shop"},
		SecretFiles: map[string]string{"db_password": "hunter2-one", "empty": ""}})
	if err != nil {
		t.Fatal(err)
	}
	if r1.SecretFiles != nil {
		t.Error("CreateRelease returned the content")
	}
	r2, err := s.CreateRelease(Release{App: "shop", Env: "production", Spec: spec.App{Name: "shop"},
		SecretFiles: map[string]string{"db_password": "hunter2-two"}})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]map[string]string{
		r1.ID: {"db_password": "hunter2-one", "empty": ""},
		r2.ID: {"db_password": "hunter2-two"},
		99:    {},
	} {
		got, err := s.ReleaseSecretFiles("shop", "production", id)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("release %d: %v %v, want %v", id, got, err, want)
		}
	}
	rels, err := s.ListReleases("shop", "production")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rels)
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("the releases' JSON holds a secret: %s", b)
	}
	// A box moved to another release does not decrypt.
	err = s.db.Update(func(tx *bolt.Tx) error {
		eb, err := envBucket(tx, "shop", "production")
		if err != nil {
			return err
		}
		b := eb.Bucket(bucketReleaseSecretFiles)
		return b.Put(itob(r2.ID), b.Get(itob(r1.ID)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReleaseSecretFiles("shop", "production", r2.ID); err == nil {
		t.Error("a box moved to another release decrypted")
	}
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("hunter2")) {
		t.Error("a secret is stored in the clear")
	}
}
