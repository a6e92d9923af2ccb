package store

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestStore_ConfigAndSecretsAreSnapshottedPerRelease(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if _, err := s.SetConfig("shop", "production", map[string]string{"A": "1", "B": "2"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSecret("shop", "production", "DB_PASSWORD", "hunter2-marker"); err != nil {
		t.Fatal(err)
	}
	r1, err := s.CreateRelease(Release{App: "shop", Env: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r1.Config, map[string]string{"A": "1", "B": "2"}) || !reflect.DeepEqual(r1.SecretNames, []string{"DB_PASSWORD"}) {
		t.Fatalf("release 1 snapshot: %v %v", r1.Config, r1.SecretNames)
	}
	cfg, err := s.SetConfig("shop", "production", map[string]string{"B": "3"}, []string{"A"})
	if err != nil || !reflect.DeepEqual(cfg, map[string]string{"B": "3"}) {
		t.Fatalf("set/unset: %v %v", cfg, err)
	}
	if err := s.SetSecret("shop", "production", "DB_PASSWORD", "changed"); err != nil {
		t.Fatal(err)
	}
	r2, _ := s.CreateRelease(Release{App: "shop", Env: "production"})
	if got, _ := s.ReleaseSecrets("shop", "production", r1.ID); got["DB_PASSWORD"] != "hunter2-marker" {
		t.Fatalf("release 1 secrets: %v", got)
	}
	if got, _ := s.ReleaseSecrets("shop", "production", r2.ID); got["DB_PASSWORD"] != "changed" {
		t.Fatalf("release 2 secrets: %v", got)
	}
	// Restoring release 1 makes its configuration current again.
	if err := s.RestoreConfig("shop", "production", r1.ID); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := s.Config("shop", "production"); !reflect.DeepEqual(cfg, map[string]string{"A": "1", "B": "2"}) {
		t.Fatalf("config after restore: %v", cfg)
	}
	r3, _ := s.CreateRelease(Release{App: "shop", Env: "production"})
	if got, _ := s.ReleaseSecrets("shop", "production", r3.ID); got["DB_PASSWORD"] != "hunter2-marker" {
		t.Fatalf("secrets after restore: %v", got)
	}
	s.Close()

	// The value is nowhere on disk in the clear; the key file is 0600.
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("hunter2-marker")) {
		t.Fatal("secret value stored in the clear")
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	// Reopening with the same key decrypts; names are listed, sorted.
	s = openStore(t, dir)
	if names, _ := s.SecretNames("shop", "production"); !reflect.DeepEqual(names, []string{"DB_PASSWORD"}) {
		t.Fatalf("names: %v", names)
	}
	if found, err := s.UnsetSecret("shop", "production", "DB_PASSWORD", "NOPE"); !found || err != nil {
		t.Fatalf("unset: %v %v", found, err)
	}
}

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
