package store

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openTest opens a store in a fresh temporary directory and closes it at
// the end of the test.
func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func must[T any](t *testing.T) func(T, error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestOpen_FileMode0600(t *testing.T) {
	_, dir := openTest(t)
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %o, want 600", perm)
	}
}

func TestOpen_SecondOpenFailsFast(t *testing.T) {
	_, dir := openTest(t)
	start := time.Now()
	s2, err := Open(dir)
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded, want a lock error")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("second Open took %v, want about 1s", el)
	}
	want := "another berth server is using " + dir + "?"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
}

func TestOpen_SchemaVersion(t *testing.T) {
	s, dir := openTest(t)
	v, err := s.Get("schema_version")
	if err != nil || string(v) != "1" {
		t.Fatalf("schema_version = %q, %v; want 1", v, err)
	}
	if err := s.Put("schema_version", []byte("9")); err == nil {
		t.Error("Put(schema_version) succeeded, want refused")
	}
	// A file from a newer berth is refused.
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("2")) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s2, err := Open(dir); err == nil {
		s2.Close()
		t.Fatal("Open of a newer schema succeeded")
	} else if !strings.Contains(err.Error(), "newer berth") {
		t.Errorf("error = %v, want it to say to run a newer berth", err)
	}
}

func TestStore_ReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r1 := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "v1")))
	r2 := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "v2")))
	must[int64](t)(s.Activate("shop", "production", r1.ID, StatusSuperseded))
	must[int64](t)(s.Activate("shop", "production", r2.ID, StatusSuperseded))
	d := must[Deployment](t)(s.CreateDeployment(Deployment{App: "shop", Env: "production", Kind: KindDeploy, ReleaseID: r2.ID}))
	if err := s.Put("token_hash", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	live := must[Release](t)(s.LiveRelease("shop", "production"))
	if live.ID != r2.ID || live.Services["web"].Image != "shop:v2" || live.Spec.Name != "shop" {
		t.Errorf("live after reopen = %+v", live)
	}
	rels := must[[]Release](t)(s.ListReleases("shop", "production"))
	if len(rels) != 2 || rels[1].Status != StatusSuperseded {
		t.Errorf("releases after reopen = %+v", rels)
	}
	got := must[Deployment](t)(s.GetDeployment(d.ID))
	if got.Status != DeploymentRunning || !got.StartedAt.Equal(d.StartedAt) {
		t.Errorf("deployment after reopen = %+v", got)
	}
	if v, err := s.Get("token_hash"); err != nil || string(v) != "abc" {
		t.Errorf("setting after reopen = %q, %v", v, err)
	}
	// Sequences continue: IDs are never reused.
	r3 := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "v3")))
	d2 := must[Deployment](t)(s.CreateDeployment(Deployment{App: "shop", Env: "production", Kind: KindDeploy, ReleaseID: r3.ID}))
	if r3.ID != 3 || d2.ID != d.ID+1 {
		t.Errorf("after reopen release ID = %d (want 3), deployment ID = %d (want %d)", r3.ID, d2.ID, d.ID+1)
	}
}

func TestStore_GetPutSettings(t *testing.T) {
	s, _ := openTest(t)
	if _, err := s.Get("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing) err = %v, want ErrNotFound", err)
	}
	val := []byte("v1")
	if err := s.Put("k", val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store keeps its own copy
	if v := must[[]byte](t)(s.Get("k")); string(v) != "v1" {
		t.Errorf("Get(k) = %q, want v1", v)
	}
}

func TestStore_EnsureEnvAndListApps(t *testing.T) {
	s, _ := openTest(t)
	for _, ae := range [][2]string{{"web", "staging"}, {"api", "production"}, {"web", "production"}, {"web", "staging"}, {"blog", "production"}} {
		if err := s.EnsureEnv(ae[0], ae[1]); err != nil {
			t.Fatal(err)
		}
	}
	apps := must[[]App](t)(s.ListApps())
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
		if a.CreatedAt.IsZero() {
			t.Errorf("app %s has no CreatedAt", a.Name)
		}
	}
	if want := []string{"api", "blog", "web"}; !slices.Equal(names, want) {
		t.Errorf("apps = %v, want %v", names, want)
	}
	web := must[App](t)(s.GetApp("web"))
	if want := []string{"production", "staging"}; !slices.Equal(web.Envs, want) {
		t.Errorf("web envs = %v, want %v", web.Envs, want)
	}
	if !web.CreatedAt.Equal(apps[2].CreatedAt) {
		t.Errorf("GetApp CreatedAt %v != ListApps %v", web.CreatedAt, apps[2].CreatedAt)
	}
	if _, err := s.GetApp("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("GetApp(nope) err = %v, want ErrNotFound naming the app", err)
	}
	if err := s.EnsureEnv("", "production"); err == nil {
		t.Error("EnsureEnv with empty app succeeded")
	}
	if err := s.EnsureEnv("web", ""); err == nil {
		t.Error("EnsureEnv with empty env succeeded")
	}
}

func TestStore_ListAppsEmpty(t *testing.T) {
	s, _ := openTest(t)
	if apps := must[[]App](t)(s.ListApps()); len(apps) != 0 {
		t.Errorf("apps = %v, want none", apps)
	}
}
