package enginetest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// HoldBuildCache takes a lock on the engine's build cache for the rest of
// t, across test processes (go test runs packages side by side): shared
// by a test that needs a cache mount to keep its content between two
// builds, exclusive by one that prunes the cache mounts, which Engine
// 20.10 can only prune all at once.
func HoldBuildCache(t testing.TB, exclusive bool) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "berth-test-buildcache.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) // closing the file releases the lock
}
